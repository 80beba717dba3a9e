"""A method under test: the ops that use it, how to run them on any backend, and the reference.

A method is tested in its own op (``sc.eigh`` for eigh kinds, ``sc.sqrtm`` and ``sc.invsqrtm``
with the default partner for sqrtm kinds) and in every composition that reaches it: an eigh
backward through ``sqrtm`` and ``invsqrtm`` (the eigenvector path), a sqrtm forward with each
registered sqrtm backward and a sqrtm backward with each registered sqrtm forward. The
second-order check also runs eigh methods in ``sc.logm``, ``sc.expm`` and ``sc.matrix_power``
(:attr:`Subject.second_order_ops`).

Each op has a degree p of homogeneity, f(cA) = c^p f(A) (:attr:`Op.degree`), so its gradient
has degree p − 1 and gA · s^{1−p}, s = max|λ|, is the gradient in units of A.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from array_api_compat import array_namespace

import spectralcore as sc
from spectralcore.dispatch import PublicOp
from spectralcore.method import Method, UnclaimedAccuracy

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
# f(cA) = c^p f(A) for each output; eigh's gradient has the projector's degree (its eigenvalue
# cotangent is taken in units of A, Cotangent.in_units)
DEGREE = {"eigh": 0.0, "eigenvalues": 1.0, "weighted projector": 0.0, "sqrtm": 0.5, "invsqrtm": -0.5}


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
    args: tuple[float, ...] = ()  # positional arguments after A (matrix_power's p)

    @property
    def label(self) -> str:
        name = " ".join([self.name, *map(str, self.args)])
        if self.partner is None:
            return name if self.primary else f"{name} (eigenvector path)"
        return f"{name} with {self.partner.kind.split('-')[1]} '{self.partner.name}'"

    @property
    def degree(self) -> float:
        """p with f(cA) = c^p f(A) (eigh: the eigenvector projector's, 0), so gA(cA) = c^{p−1} gA(A)."""
        return self.args[0] if self.name == "matrix_power" else DEGREE[self.name]


def _claim(method: Method) -> float | None:
    """``claimed_accuracy()`` of the method's class, 0 where it states none (:attr:`Subject.unclaimed`)."""
    try:
        return type(method).claimed_accuracy()
    except UnclaimedAccuracy:
        return 0.0


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
    def second_order_ops(self) -> list[Op]:
        """:attr:`ops` and, for eigh methods, the spectral functions log, exp and A^0.3."""
        if not self.kind.startswith("eigh"):
            return self.ops
        spectral = [Op("logm", sc.logm), Op("expm", sc.expm), Op("matrix_power", sc.matrix_power, args=(0.3,))]
        return self.ops + [dataclasses.replace(op, primary=self.kind == "eigh-forward") for op in spectral]

    def configuration(self, op: Op) -> Any:
        """The op's configuration with this method (what the adapters decide second order by)."""
        return op.fn.configure(np.eye(2), *op.args, **self.roles(op))

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
            out, pullback = sc.vjp(op.fn, x, *op.args, **self.roles(op))
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

    def loss(self, op: Op, backend: Backend, dtype: str, cot: Cotangent) -> Callable[[Any], Any]:
        """A ↦ the scalar loss whose gradient :meth:`run` computes, written in the backend's
        namespace so its framework can differentiate it: ⟨G, f(A)⟩, or for eigh
        Σ gw λ + Σ c viᵀ G vi (gV = 2 G V diag(c))."""
        G, gw, weights = (backend.asarray(v.astype(dtype)) for v in (cot.G, cot.gw, cot.weights))

        def loss(a: Any) -> Any:
            xp = array_namespace(a)
            out = op.fn(a, *op.args, **self.roles(op))
            if op.name == "eigh":
                return xp.sum(gw * out[0]) + xp.sum((out[1] * weights) * (G @ out[1]))
            return xp.sum(G * out)

        return loss

    def has_jvp(self, op: Op) -> bool:
        """Whether forward mode is available in ``op``: the method and the op's partner have a JVP."""
        return all(m.has_jvp() for m in self.roles(op).values())

    def pushforward(
        self, op: Op, backend: Backend, A: np.ndarray, dtype: str, dA: np.ndarray, weights: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The output tangents of ``op`` at A for dA, as float64 NumPy: for eigh dw, dV and the
        weighted projector's dP = dV C Vᵀ + V C dVᵀ (C = diag(weights))."""
        with backend.precision(dtype):
            x = backend.asarray(A.astype(dtype))
            out, pushforward = sc.linearize(op.fn, x, *op.args, **self.roles(op))
            tangent = pushforward(backend.asarray(dA.astype(dtype)))
            if op.name != "eigh":
                return {op.name: backend.to_numpy(tangent).astype(np.float64)}
            dw, dV = (backend.to_numpy(t).astype(np.float64) for t in tangent)
            V = backend.to_numpy(out[1]).astype(np.float64)
        half = (dV * weights) @ np.swapaxes(V, -1, -2)
        return {"eigenvalues": dw, "eigenvectors": dV, "weighted projector": half + np.swapaxes(half, -1, -2)}

    def tangents(
        self, op: Op, backend: Backend, A: np.ndarray, dtype: str, dA: np.ndarray, cot: Cotangent
    ) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, ...], np.ndarray]:
        """Forward mode and reverse mode of ``op`` at A in ``dtype``: (:meth:`pushforward`, the
        same cotangent as arrays of the output's structure, gA for it). For eigh the cotangent
        is (gw, G) taken as arbitrary arrays."""
        cotangent = (cot.gw, cot.G) if op.name == "eigh" else (cot.G,)
        with backend.precision(dtype):
            x = backend.asarray(A.astype(dtype))
            _, pullback = sc.vjp(op.fn, x, *op.args, **self.roles(op))
            arrays = tuple(backend.asarray(c.astype(dtype)) for c in cotangent)
            gA = pullback(arrays if op.name == "eigh" else arrays[0])
            gA = backend.to_numpy(gA).astype(np.float64)
        return self.pushforward(op, backend, A, dtype, dA, cot.weights), cotangent, gA

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

    @property
    def unclaimed(self) -> bool:
        """Whether the method states no accuracy at all (neither ``accuracy`` nor an opt-out): a
        method passed to the suite directly, not registered. Its agreement checks then allow 0, so
        they fail, and each says the value it measured (the one to declare)."""
        return _claim(self.method) == 0

    def tolerance(self, dtype: str, op: Op | None = None) -> float | None:
        """The relative error against the exact result that the method claims in ``op`` (None:
        it opts out; 0: it states no claim): its own claim, or the looser of its and its
        partner's in a composition."""
        claims = [_claim(self.method)]
        if op is not None and op.partner is not None:
            claims.append(_claim(op.partner))
        known = [claim for claim in claims if claim is not None]
        if len(known) < len(claims):
            return None
        tol = max(known)
        return max(tol, 1e-3) if dtype == "float32" else tol
