"""The backends and devices the suite runs on: whatever is installed, imported on demand."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

NAMES = ("numpy", "array_api_strict", "torch", "jax", "cupy")


@dataclasses.dataclass(frozen=True)
class Backend:
    """One (framework, device) pair: converts NumPy inputs in and results out."""

    name: str
    device: str
    asarray: Callable[[np.ndarray], Any]
    to_numpy: Callable[[Any], np.ndarray]
    device_of: Callable[[Any], str]
    precision: Callable[[Any], Any] = lambda dtype: contextlib.nullcontext()
    # (loss, A, dA) ↦ the Hessian-vector product d/dt ∇loss(A + t dA) by the framework's own
    # transforms; None where the framework has no second derivative
    hvp: Callable[[Callable[[Any], Any], Any, Any], Any] | None = None

    def __str__(self) -> str:
        return f"{self.name}/{self.device}"


def _numpy(device: str) -> Backend:
    return Backend("numpy", device, np.asarray, np.asarray, lambda x: "cpu")


def _strict(device: str) -> Backend:
    import array_api_strict as xp

    cpu = xp.__array_namespace_info__().default_device()
    return Backend(
        "array_api_strict",
        device,
        xp.asarray,
        lambda x: np.asarray(x.to_device(cpu)),
        lambda x: "cpu" if x.device == cpu else str(x.device),
    )


def _torch(device: str) -> Backend:
    import torch

    def to_numpy(x: Any) -> np.ndarray:
        x = x.detach().cpu()
        return (x.float() if x.dtype in (torch.float16, torch.bfloat16) else x).numpy()

    def hvp(loss: Callable[[Any], Any], A: Any, dA: Any) -> Any:
        return torch.func.jvp(torch.func.grad(loss), (A,), (dA,))[1]

    return Backend(
        "torch",
        device,
        lambda a: torch.asarray(a, device=device),
        to_numpy,
        lambda x: "cuda" if x.device.type == "cuda" else "cpu",
        hvp=hvp,
    )


def _jax(device: str) -> Backend:
    import jax

    platform = "gpu" if device == "cuda" else "cpu"
    target = jax.devices(platform)[0]

    def precision(dtype: Any) -> Any:
        return jax.enable_x64(np.dtype(dtype) == np.float64)

    def device_of(x: Any) -> str:
        return "cuda" if next(iter(x.devices())).platform == "gpu" else "cpu"

    def hvp(loss: Callable[[Any], Any], A: Any, dA: Any) -> Any:
        return jax.jvp(jax.grad(loss), (A,), (dA,))[1]

    return Backend("jax", device, lambda a: jax.device_put(a, target), np.asarray, device_of, precision, hvp)


def _cupy(device: str) -> Backend:
    import cupy

    return Backend("cupy", device, cupy.asarray, cupy.asnumpy, lambda x: "cuda")


def _devices(name: str) -> list[str]:
    """The devices a backend has here ([] when it is not installed)."""
    if name != "numpy" and importlib.util.find_spec(name) is None:
        return []
    if name in ("numpy", "array_api_strict"):
        return ["cpu"]
    if name == "torch":
        import torch

        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if name == "jax":
        import jax

        try:
            return ["cpu"] + (["cuda"] if jax.devices("gpu") else [])
        except RuntimeError:
            return ["cpu"]
    import cupy

    try:
        return ["cuda"] if cupy.cuda.runtime.getDeviceCount() > 0 else []
    except Exception:  # noqa: BLE001 - no driver or no device: cupy is unusable here
        return []


_FACTORIES = {"numpy": _numpy, "array_api_strict": _strict, "torch": _torch, "jax": _jax, "cupy": _cupy}


def available(names: list[str] | None = None, devices: list[str] | None = None) -> Iterator[Backend]:
    """Every installed backend/device pair, optionally restricted by name and device."""
    unknown = set(names or ()) - set(NAMES)
    if unknown:
        raise ValueError(f"unknown backend(s) {sorted(unknown)}; known: {', '.join(NAMES)}")
    for name in names or NAMES:
        for device in _devices(name):
            if devices is None or device in devices:
                yield _FACTORIES[name](device)
