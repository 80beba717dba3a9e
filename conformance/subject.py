"""A method under test: how to run it through the public API on any backend, and its reference."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

import spectralcore as sc
from spectralcore.method import Method

from . import reference
from .backends import Backend
from .cases import Cotangent

ROLE = {"eigh-forward": "forward", "eigh-backward": "backward", "sqrtm-forward": "forward",
        "sqrtm-backward": "backward"}


@dataclasses.dataclass
class Run:
    """One call: comparable outputs and gA as float64 NumPy, plus the raw backend arrays."""

    outputs: dict[str, np.ndarray]
    gA: np.ndarray
    raw_outputs: list[Any]
    raw_gA: Any


@dataclasses.dataclass(frozen=True)
class Op:
    name: str
    fn: Callable[..., Any]


@dataclasses.dataclass(frozen=True)
class Subject:
    """A configured method of one kind, exercised through ``sc.vjp``."""

    kind: str
    method: Method

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.method.name}'"

    @property
    def ops(self) -> list[Op]:
        if self.kind.startswith("eigh"):
            return [Op("eigh", sc.eigh)]
        return [Op("sqrtm", sc.sqrtm), Op("invsqrtm", sc.invsqrtm)]

    @property
    def is_backward(self) -> bool:
        return self.kind.endswith("backward")

    def run(self, op: Op, backend: Backend, A: np.ndarray, dtype: str, cot: Cotangent) -> Run:
        """Forward and VJP of ``op`` with this method on ``backend`` in ``dtype``."""
        with backend.precision(dtype):
            x = backend.asarray(A.astype(dtype))
            out, pullback = sc.vjp(op.fn, x, **{ROLE[self.kind]: self.method})
            if op.name == "eigh":
                w, V = backend.to_numpy(out[0]), backend.to_numpy(out[1])
                gw, gV = cot.eigh(V.astype(np.float64))
                raw_gA = pullback((backend.asarray(gw.astype(dtype)), backend.asarray(gV.astype(dtype))))
                outputs = {"eigenvalues": w, "weighted projector": (V * cot.weights) @ np.swapaxes(V, -1, -2)}
                raw = [out[0], out[1]]
            else:
                raw_gA = pullback(backend.asarray(cot.G.astype(dtype)))
                outputs, raw = {op.name: backend.to_numpy(out)}, [out]
            return Run({k: v.astype(np.float64) for k, v in outputs.items()},
                       backend.to_numpy(raw_gA).astype(np.float64), raw, raw_gA)

    def reference(self, op: Op, A: np.ndarray, cot: Cotangent) -> Run:
        """The exact outputs and gradient, in float64 NumPy."""
        if op.name == "eigh":
            w, V = np.linalg.eigh(A)
            gw, gV = cot.eigh(V)
            outputs = {"eigenvalues": w, "weighted projector": (V * cot.weights) @ np.swapaxes(V, -1, -2)}
            return Run(outputs, reference.eigh_vjp(A, gw, gV), [], None)
        if op.name == "sqrtm":
            return Run({"sqrtm": reference.power(A, 0.5)}, reference.sqrtm_vjp(A, cot.G), [], None)
        return Run({"invsqrtm": reference.power(A, -0.5)}, reference.invsqrtm_vjp(A, cot.G), [], None)

    def tolerance(self, dtype: str) -> float | None:
        """The relative error against the exact result the method claims (None: no claim)."""
        cls = type(self.method)
        tol = cls.accuracy if cls.accuracy is not None else (1e-8 if "exact" in cls.claims else None)
        if tol is None:
            return None
        return max(tol, 1e-3) if dtype == "float32" else tol
