"""The same input gives the same outputs and gradients on every backend, for every method.

NumPy (``sc.vjp``) is the reference. Each other backend is checked two ways where it has
autodiff: the explicit ``sc.vjp`` pullback, and the framework's own autodiff through the
adapter (``torch.autograd`` on torch tensors, ``jax.vjp`` on jax arrays) — both against
NumPy and against each other. Inputs: a batch of two well-conditioned 6 × 6 sample
covariances. Errors are relative Frobenius norms per output; tolerances 1e-10 (float64)
and 1e-4 (float32).

Eigenvectors are defined up to sign and LAPACK builds may choose differently, so a
backend's eigenvector columns are aligned to NumPy's before comparison and its eigenvector
cotangent gets the same signs (⟨gV·s, V·s⟩ = ⟨gV, V⟩: the same loss, hence the same gA).

``python -m pytest tests/test_cross_backend.py -s`` prints the worst error per
backend/dtype/path at the end of the module.
"""

from __future__ import annotations

import abc
import contextlib
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import spectralcore as sc
from reference import covariance, rel_err

N, BATCH, SAMPLES, SEED = 6, 2, 30, 20261123
TOL = {"float64": 1e-10, "float32": 1e-4}

EIGH_FORWARDS = [i.name for i in sc.methods("eigh-forward")]
EIGH_BACKWARDS = [i.name for i in sc.methods("eigh-backward")]
SQRTM_FORWARDS = [i.name for i in sc.methods("sqrtm-forward")]
SQRTM_BACKWARDS = [i.name for i in sc.methods("sqrtm-backward")] + ["taylor"]


# ------------------------------------------------------------------------------ backends


class Backend(abc.ABC):
    """How to move a float64 NumPy array to a framework and back, and its paths to a gradient."""

    name = ""
    autodiff = ""  # name of the framework-autodiff path, "" when there is none

    def available(self) -> None:
        """pytest.skip when the framework is missing."""

    def context(self, dtype: str) -> Any:
        return contextlib.nullcontext()

    @abc.abstractmethod
    def namespace(self) -> Any:
        """The framework's Array-API namespace."""

    @abc.abstractmethod
    def asarray(self, a: np.ndarray, dtype: str) -> Any:
        """``a`` as this framework's array of ``dtype``."""

    def numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def grad(self, fn: Callable, A: Any, args: tuple, kwargs: dict, cotangent: Callable) -> tuple[Any, Any]:
        """(output, gA) by the framework's autodiff; cotangent(out) builds the cotangent. Only
        called where ``autodiff`` is set (torch, jax)."""
        raise TypeError(f"{self.name} has no framework autodiff")


class NumpyBackend(Backend):
    name = "numpy"

    def namespace(self) -> Any:
        return np

    def asarray(self, a: np.ndarray, dtype: str) -> Any:
        return np.asarray(a, dtype=dtype)


class TorchBackend(Backend):
    name, autodiff = "torch", "autograd"

    def available(self) -> None:
        pytest.importorskip("torch")

    def namespace(self) -> Any:
        import torch

        return torch

    def asarray(self, a: np.ndarray, dtype: str) -> Any:
        import torch

        return torch.asarray(np.asarray(a, dtype=dtype))

    def numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()

    def grad(self, fn, A, args, kwargs, cotangent):
        import torch

        A = A.clone().requires_grad_(True)
        out = fn(A, *args, **kwargs)
        outputs = tuple(out)[:2] if isinstance(out, sc.EighResult) else (out,)
        cot = cotangent(out)
        cots = cot if isinstance(cot, tuple) else (cot,)
        (gA,) = torch.autograd.grad(outputs, A, cots)
        return out, gA


class JaxBackend(Backend):
    name, autodiff = "jax", "jax.vjp"

    def available(self) -> None:
        pytest.importorskip("jax")

    def context(self, dtype: str) -> Any:
        import jax

        # x64 is global: enable it only around the float64 cases, and make sure the
        # float32 cases really run in jax's default 32-bit mode.
        return jax.enable_x64(dtype == "float64")

    def namespace(self) -> Any:
        import jax.numpy as jnp

        return jnp

    def asarray(self, a: np.ndarray, dtype: str) -> Any:
        import jax.numpy as jnp

        x = jnp.asarray(np.asarray(a, dtype=dtype))
        assert x.dtype == np.dtype(dtype), f"jax gave {x.dtype} for {dtype} (x64 not set as intended)"
        return x

    def grad(self, fn, A, args, kwargs, cotangent):
        import jax

        def f(a):
            out = fn(a, *args, **kwargs)
            return tuple(out)[:2] if isinstance(out, sc.EighResult) else out

        out, pullback = jax.vjp(f, A)
        (gA,) = pullback(cotangent(out))
        return out, gA


class StrictBackend(Backend):
    name = "array_api_strict"

    def available(self) -> None:
        pytest.importorskip("array_api_strict")

    def namespace(self) -> Any:
        import array_api_strict

        return array_api_strict

    def asarray(self, a: np.ndarray, dtype: str) -> Any:
        import array_api_strict as xp

        return xp.asarray(np.asarray(a, dtype=dtype))

    def numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)


class CupyBackend(Backend):
    name = "cupy"

    def available(self) -> None:
        cupy = pytest.importorskip("cupy")
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # noqa: BLE001 - no driver / no runtime
            pytest.skip(f"cupy present but no usable GPU: {exc}")
        if count < 1:
            pytest.skip("cupy present but no GPU")

    def namespace(self) -> Any:
        import cupy

        return cupy

    def asarray(self, a: np.ndarray, dtype: str) -> Any:
        import cupy

        return cupy.asarray(np.asarray(a, dtype=dtype))

    def numpy(self, x: Any) -> np.ndarray:
        return x.get()


REFERENCE = NumpyBackend()
BACKENDS = {b.name: b for b in (TorchBackend(), JaxBackend(), StrictBackend(), CupyBackend())}


# ------------------------------------------------------------------------------ cases


class Case:
    """One op call: ``fn(A, *args(xp), **kwargs)``; ``eigh`` cases have the cotangent (gw, gV)."""

    def __init__(self, ident: str, fn: Callable, kwargs: dict, args: Callable[[Any], tuple] = lambda xp: ()):
        self.ident, self.fn, self.kwargs, self.args = ident, fn, kwargs, args
        self.is_eigh = fn is sc.eigh


def _log_args(xp: Any) -> tuple:
    return (xp.log, lambda x: 1 / x)


CASES = (
    [Case(f"eigh[{f}-{b}]", sc.eigh, {"forward": f, "backward": b}) for f in EIGH_FORWARDS for b in EIGH_BACKWARDS]
    + [
        Case(f"{op.__name__}[{f}-{b}]", op, {"forward": f, "backward": b})
        for op in (sc.sqrtm, sc.invsqrtm)
        for f in SQRTM_FORWARDS
        for b in SQRTM_BACKWARDS
    ]
    + [
        Case("matrix_power[0.5]", sc.matrix_power, {}, lambda xp: (0.5,)),
        Case("matrix_function[log]", sc.matrix_function, {}, _log_args),
    ]
)


def test_every_registered_method_is_covered():
    assert {"eigh", "power-iteration"} <= set(EIGH_FORWARDS)
    assert {"exact", "degenerate-safe", "clip", "topn", "power-iteration", "taylor", "pade", "lorentzian"} <= set(
        EIGH_BACKWARDS
    )
    assert {"eigh", "mtp", "mpa", "newton-schulz"} <= set(SQRTM_FORWARDS)
    assert {"exact", "lyapunov", "newton-schulz"} <= set(SQRTM_BACKWARDS)
    covered = {c.ident for c in CASES}
    for f in EIGH_FORWARDS:
        for b in EIGH_BACKWARDS:
            assert f"eigh[{f}-{b}]" in covered
    assert len(CASES) == len(EIGH_FORWARDS) * len(EIGH_BACKWARDS) + 2 * len(SQRTM_FORWARDS) * len(SQRTM_BACKWARDS) + 2


# ------------------------------------------------------------------------------ data


def _input() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return np.stack([covariance(rng, N, SAMPLES) for _ in range(BATCH)])


def _cotangents() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED + 1)
    return (rng.standard_normal((BATCH, N)), rng.standard_normal((BATCH, N, N)), rng.standard_normal((BATCH, N, N)))


A64 = _input()
GW, GV, GM = _cotangents()

_REFERENCE_CACHE: dict = {}
WORST: dict = defaultdict(lambda: (-1.0, ""))


def reference(case: Case, dtype: str) -> dict:
    """NumPy outputs and gA by sc.vjp (cached per case and dtype)."""
    key = (case.ident, dtype)
    if key not in _REFERENCE_CACHE:
        A = REFERENCE.asarray(A64, dtype)
        out, pullback = sc.vjp(case.fn, A, *case.args(np), **case.kwargs)
        if case.is_eigh:
            gA = pullback((GW.astype(dtype), GV.astype(dtype)))
            result = {
                "w": np.asarray(out[0]),
                "V": np.asarray(out[1]),
                "gA": gA,
                "accepted": None if out.accepted is None else np.asarray(out.accepted),
            }
        else:
            result = {"out": np.asarray(out), "gA": pullback(GM.astype(dtype))}
        for k, v in result.items():
            assert v is None or np.all(np.isfinite(v)), f"reference {k} of {case.ident} not finite"
        assert result["gA"].dtype == np.dtype(dtype)
        _REFERENCE_CACHE[key] = result
    return _REFERENCE_CACHE[key]


def column_signs(V: np.ndarray, V_ref: np.ndarray) -> np.ndarray:
    s = np.sign(np.sum(V * V_ref, axis=-2))
    return np.where(s == 0, 1.0, s)


# ------------------------------------------------------------------------------ comparison


def _check(backend: Backend, case: Case, dtype: str, path: str, got: dict, ref: dict, errors: list) -> None:
    tol = TOL[dtype]
    for key, expected in ref.items():
        if key == "accepted":
            if expected is not None:
                assert got["accepted"] is not None, f"{path}: accepted missing"
                np.testing.assert_array_equal(backend.numpy(got["accepted"]), expected)
            continue
        value = got[key]
        assert value.dtype == np.dtype(dtype), f"{path} {key}: dtype {value.dtype}, expected {dtype}"
        assert value.shape == expected.shape, f"{path} {key}: shape {value.shape}, expected {expected.shape}"
        err = rel_err(value, expected)
        slot = (backend.name, dtype, path)
        if err > WORST[slot][0]:  # the first comparison always records
            WORST[slot] = (err, f"{case.ident} {key}")
        errors.append((err, f"{path} {key}"))
        assert err <= tol, f"{backend.name} {dtype} {case.ident} {path} {key}: rel err {err:.3g} > {tol:g}"


def _run_path(backend: Backend, case: Case, dtype: str, path: str, ref: dict) -> dict:
    """One backend path: 'vjp' (sc.vjp) or the framework autodiff. Returns NumPy arrays."""
    xp = backend.namespace()
    A = backend.asarray(A64, dtype)
    args = case.args(xp)
    signs: list = []

    def cotangent(out):
        if case.is_eigh:
            s = column_signs(backend.numpy(out[1]).astype(np.float64), ref["V"].astype(np.float64))
            signs.append(s)
            return (backend.asarray(GW, dtype), backend.asarray(GV * s[..., None, :], dtype))
        return backend.asarray(GM, dtype)

    if path == "vjp":
        out, pullback = sc.vjp(case.fn, A, *args, **case.kwargs)
        gA = pullback(cotangent(out))
    else:
        out, gA = backend.grad(case.fn, A, args, case.kwargs, cotangent)
    assert type(gA).__module__.split(".")[0] == type(A).__module__.split(".")[0], (
        f"{path}: gA is a {type(gA)}, not an array of the input's framework {type(A)}"
    )
    if case.is_eigh:
        s = signs[0]
        got = {
            "w": backend.numpy(out[0]),
            "V": backend.numpy(out[1]) * s[..., None, :].astype(dtype),
            "gA": backend.numpy(gA),
        }
        if path == "vjp" or backend.name == "torch":
            got["accepted"] = getattr(out, "accepted", None)
        else:  # jax.vjp of the (w, V) pair: accepted is checked through the public call below
            got["accepted"] = sc.eigh(A, **case.kwargs).accepted
        return got
    return {"out": backend.numpy(out), "gA": backend.numpy(gA)}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend_name", list(BACKENDS))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.ident)
def test_same_outputs_and_gradients(case, backend_name, dtype):
    backend = BACKENDS[backend_name]
    backend.available()
    ref = reference(case, dtype)
    errors: list = []
    with backend.context(dtype):
        results = {"vjp": _run_path(backend, case, dtype, "vjp", ref)}
        _check(backend, case, dtype, "sc.vjp", results["vjp"], ref, errors)
        if backend.autodiff:
            results["auto"] = _run_path(backend, case, dtype, backend.autodiff, ref)
            _check(backend, case, dtype, backend.autodiff, results["auto"], ref, errors)
            # the framework's autodiff runs the same core backward as sc.vjp: they agree
            for key in ("gA", "w", "V", "out"):
                if key in results["vjp"]:
                    err = rel_err(results["auto"][key], results["vjp"][key])
                    assert err <= TOL[dtype], (
                        f"{backend.name} {dtype} {case.ident}: {backend.autodiff} vs sc.vjp {key} differ by {err:.3g}"
                    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend_name", list(BACKENDS))
def test_public_call_keeps_framework_and_dtype(backend_name, dtype):
    """The plain public call returns the input's framework and dtype and equals NumPy."""
    backend = BACKENDS[backend_name]
    backend.available()
    with backend.context(dtype):
        A = backend.asarray(A64, dtype)
        S = sc.sqrtm(A, forward="mpa", backward="lyapunov")
        assert type(S).__module__.split(".")[0] == type(A).__module__.split(".")[0]
        assert backend.numpy(S).dtype == np.dtype(dtype)
        expected = sc.sqrtm(A64.astype(dtype), forward="mpa", backward="lyapunov")
        assert rel_err(backend.numpy(S), expected) <= TOL[dtype]


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if WORST:
        print("\nworst relative error against NumPy, per backend/dtype/path:")
        for (name, dtype, path), (err, where) in sorted(WORST.items()):
            print(f"  {name:17} {dtype} {path:9}: {err:.2e}  ({where})")
