"""A method under test: the ops that use it, how to run them on any backend, and the reference.

A method is tested in its own op (``sc.eigh`` for eigh kinds, ``sc.sqrtm`` and ``sc.invsqrtm``
with the default partner for sqrtm kinds) and in every composition that reaches it: an eigh
backward through ``sqrtm`` and ``invsqrtm`` (the eigenvector path), a sqrtm forward with each
registered sqrtm backward and a sqrtm backward with each registered sqrtm forward.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

import spectralcore as sc
from spectralcore.dispatch import PublicOp
from spectralcore.method import Method

from . import reference
from .backends import Backend
from .cases import Cotangent

ROLE = {
    "eigh-forward": "forward",
    "eigh-backward": "backward",
    "sqrtm-forward": "forward",
    "sqrtm-backward": "backward",
}
OTHER = {"sqrtm-forward": "sqrtm-backward", "sqrtm-backward": "sqrtm-forward"}


class MethodError(Exception):
    """A method raised: the original error, the op and the input that triggered it."""


@dataclasses.dataclass
class Run:
    """One call: comparable outputs and gA as float64 NumPy, plus the raw backend arrays."""

    outputs: dict[str, np.ndarray]
    gA: np.ndarray
    raw_outputs: list[Any]
    raw_gA: Any


@dataclasses.dataclass(frozen=True)
class Op:
    """A public op the method runs in; ``partner`` fills the other role of a composition
    (None: the op's default), ``primary`` marks the method's own op (structural checks)."""

    name: str
    fn: PublicOp[..., Any]
    partner: Method | None = None
    primary: bool = True

    @property
    def label(self) -> str:
        if self.partner is None:
            return self.name if self.primary else f"{self.name} (eigenvector path)"
        return f"{self.name} with {self.partner.kind.split('-')[1]} '{self.partner.name}'"


def _partners(kind: str) -> list[Method]:
    """Every registered method of the other sqrtm role, default-configured."""
    return [info.cls() for info in sc.methods(OTHER[kind])]


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
        if self.kind == "eigh-forward":
            return [Op("eigh", sc.eigh)]
        if self.kind == "eigh-backward":
            return [
                Op("eigh", sc.eigh),
                Op("sqrtm", sc.sqrtm, primary=False),
                Op("invsqrtm", sc.invsqrtm, primary=False),
            ]
        ops = [Op("sqrtm", sc.sqrtm), Op("invsqrtm", sc.invsqrtm)]
        default = "exact" if self.kind == "sqrtm-forward" else "eigh"
        for partner in _partners(self.kind):
            if partner.name != default and self._accepts(partner):
                ops += [Op("sqrtm", sc.sqrtm, partner, False), Op("invsqrtm", sc.invsqrtm, partner, False)]
        return ops

    @property
    def primary_ops(self) -> list[Op]:
        return [op for op in self.ops if op.primary]

    @property
    def is_backward(self) -> bool:
        return self.kind.endswith("backward")

    def roles(self, op: Op) -> dict[str, Method]:
        """The keyword arguments that put this method (and the op's partner) in place."""
        roles = {ROLE[self.kind]: self.method}
        if op.partner is not None:
            roles[ROLE[op.partner.kind]] = op.partner
        return roles

    def _accepts(self, partner: Method) -> bool:
        """Whether sc.sqrtm accepts this method with ``partner`` (a backward may reject a forward)."""
        try:
            roles: dict[str, Any] = {ROLE[self.kind]: self.method, ROLE[partner.kind]: partner}
            sc.sqrtm.configure(np.eye(2), **roles)
        except ValueError:
            return False
        return True

    def run(self, op: Op, backend: Backend, A: np.ndarray, dtype: str, cot: Cotangent) -> Run:
        """Forward and VJP of ``op`` with this method on ``backend`` in ``dtype``; an error the
        method raises comes back as :class:`MethodError` naming the op and the input."""
        try:
            return self._run(op, backend, A, dtype, cot)
        except Exception as error:
            w = np.linalg.eigvalsh(A)
            raise MethodError(
                f"{type(error).__name__}: {error} (in {op.label}, {dtype}, input of shape {A.shape} "
                f"with eigenvalues {np.array2string(w.ravel()[:8], precision=3)}"
                f"{' …' if w.size > 8 else ''})"
            ) from error

    def _run(self, op: Op, backend: Backend, A: np.ndarray, dtype: str, cot: Cotangent) -> Run:
        with backend.precision(dtype):
            x = backend.asarray(A.astype(dtype))
            out, pullback = sc.vjp(op.fn, x, **self.roles(op))
            if op.name == "eigh":
                w, V = backend.to_numpy(out[0]), backend.to_numpy(out[1])
                gw, gV = cot.eigh(V.astype(np.float64))
                raw_gA = pullback((backend.asarray(gw.astype(dtype)), backend.asarray(gV.astype(dtype))))
                outputs = {"eigenvalues": w, "weighted projector": (V * cot.weights) @ np.swapaxes(V, -1, -2)}
                raw = [out[0], out[1]]
            else:
                raw_gA = pullback(backend.asarray(cot.G.astype(dtype)))
                outputs, raw = {op.name: backend.to_numpy(out)}, [out]
            return Run(
                {k: v.astype(np.float64) for k, v in outputs.items()},
                backend.to_numpy(raw_gA).astype(np.float64),
                raw,
                raw_gA,
            )

    def has_jvp(self, op: Op) -> bool:
        """Whether forward mode is available in ``op``: the method and the op's partner have a JVP."""
        return all(m.has_jvp() for m in self.roles(op).values())

    def tangents(
        self, op: Op, backend: Backend, A: np.ndarray, dtype: str, dA: np.ndarray, cot: Cotangent
    ) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, ...], np.ndarray]:
        """Forward mode and reverse mode of ``op`` at A in ``dtype``: (the output tangents for dA as
        float64 NumPy, the same cotangent as arrays of the output's structure, gA for it). For eigh
        the tangents are dw, dV and the weighted projector's dP = dV C Vᵀ + V C dVᵀ; its cotangent
        is (gw, G) taken as arbitrary arrays."""
        with backend.precision(dtype):
            x = backend.asarray(A.astype(dtype))
            out, pushforward = sc.linearize(op.fn, x, **self.roles(op))
            _, pullback = sc.vjp(op.fn, x, **self.roles(op))
            tangent = pushforward(backend.asarray(dA.astype(dtype)))
            cotangent: tuple[np.ndarray, ...]
            if op.name == "eigh":
                cotangent = (cot.gw, cot.G)
                gA = pullback(tuple(backend.asarray(c.astype(dtype)) for c in cotangent))
                dw, dV = (backend.to_numpy(t).astype(np.float64) for t in tangent)
                V = backend.to_numpy(out[1]).astype(np.float64)
                half = (dV * cot.weights) @ np.swapaxes(V, -1, -2)
                tangents = {
                    "eigenvalues": dw,
                    "eigenvectors": dV,
                    "weighted projector": half + np.swapaxes(half, -1, -2),
                }
            else:
                cotangent = (cot.G,)
                gA = pullback(backend.asarray(cot.G.astype(dtype)))
                tangents = {op.name: backend.to_numpy(tangent).astype(np.float64)}
        return tangents, cotangent, backend.to_numpy(gA).astype(np.float64)

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

    def tolerance(self, dtype: str, op: Op | None = None) -> float | None:
        """The relative error against the exact result that the method claims in ``op`` (None:
        no claim): its own claim, or the looser of its and its partner's in a composition."""
        claims = [type(self.method).claimed_accuracy()]
        if op is not None and op.partner is not None:
            claims.append(type(op.partner).claimed_accuracy())
        known = [claim for claim in claims if claim is not None]
        if len(known) < len(claims):
            return None
        tol = max(known)
        return max(tol, 1e-3) if dtype == "float32" else tol
