"""Second order: the framework's Hessian-vector product of an exact configuration against
central differences of the configuration's own first derivative.

For a loss L (``Subject.loss``) and a symmetric direction dA, the HVP d/dt ∇L(A + t dA) comes
from the framework's transforms (``Backend.hvp``: ``torch.func.jvp`` of ``torch.func.grad``,
``jax.jvp`` of ``jax.grad``) or from ``sc.hvp``, and is compared with

    (∇L(A + h dA) − ∇L(A − h dA)) / 2h,   h = 1e-5 s,  s = max|λ|,

where ∇L is the method's own first derivative through ``sc.vjp`` in float64 NumPy. Its
truncation error is about h² ‖∇³L‖ / 6 and its rounding ε ‖∇L‖ / h, both below 1e-9 relative
on these inputs, so :data:`ALLOWED` = 1e-6 gives a verdict no rounding can flip.

It runs for every configuration whose methods all claim ``exact`` (the ones the adapters
differentiate twice, ``spectralcore.ops.base.exactly_differentiable``), in every op reaching
the method and, for eigh methods, in ``logm``, ``expm`` and ``matrix_power`` too
(``Subject.second_order_ops``), in float64 only. Inputs: the separated spectrum and, where the
first derivative is exact at ties because no eigh backward is configured (Daleckii–Krein,
the eigenbasis Lyapunov solve), a near tie (gap 1e-7), A = 2I and a triple tie whose stored
entries are exact (``cases.TIES``). Through an eigh backward the first derivative is exact
only for distinct eigenvalues, so those configurations get the separated input only. NumPy,
array-api-strict and CuPy have no second-derivative transform (``Backend.hvp`` is None): there
the HVP is ``sc.hvp``, which covers the Daleckii–Krein configurations, and the others (eigh,
eigenvector paths) are checked on torch and JAX only.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

import spectralcore as sc
from spectralcore.ops.base import exactly_differentiable

from .backends import Backend, available
from .cases import SEPARATED, TIES, Cotangent, direction, spectral_scale
from .result import Result, outcome, rel
from .subject import Op, Subject

STEP = 1e-5  # h / s
ALLOWED = 1e-6


def _differences(s: Subject, op: Op, A: np.ndarray, dA: np.ndarray, cot: Cotangent) -> np.ndarray:
    """(∇L(A + h dA) − ∇L(A − h dA)) / 2h with the method's own ∇L (float64 NumPy)."""
    numpy_backend = next(available(["numpy"]))
    h = STEP * float(spectral_scale(A))
    up, down = (s.run(op, numpy_backend, A + sign * h * dA, "float64", cot).gA for sign in (1, -1))
    return (up - down) / (2 * h)


def _hvp(s: Subject, op: Op, b: Backend, A: np.ndarray, dA: np.ndarray, cot: Cotangent) -> np.ndarray:
    """d/dt ∇L(A + t dA): the framework's transforms (``Backend.hvp``), else ``sc.hvp``."""
    with b.precision("float64"):
        x, t = b.asarray(A), b.asarray(dA)
        if b.hvp is not None:
            product = b.hvp(s.loss(op, b, "float64", cot), x, t)
        else:
            product = sc.hvp(op.fn, x, b.asarray(cot.G), t, *op.args, **s.roles(op))[1]
        return b.to_numpy(product).astype(np.float64)


def second_order(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """The HVP within ALLOWED of differences of the first derivative (float64)."""
    if dtype != "float64":
        return
    for op in s.second_order_ops:
        config = s.configuration(op)
        if not exactly_differentiable(config):
            continue
        through_eigh = s.kind == "eigh-backward" or op.name == "eigh"  # gA = V (K̃ ∘ VᵀgV + diag(gw)) Vᵀ
        if b.hvp is None and op.fn.op.daleckii_krein(config) is None:
            continue  # sc.hvp differentiates Daleckii–Krein rules only
        for case in (SEPARATED,) if through_eigh else (SEPARATED, *TIES):
            A, dA, cot = case.matrix, direction(case.matrix.shape), Cotangent.for_shape(case.matrix.shape)
            measured = rel(_hvp(s, op, b, A, dA, cot), _differences(s, op, A, dA, cot))
            yield outcome("second order", s, b, dtype, f"{op.label}, {case.name}", measured, ALLOWED)
