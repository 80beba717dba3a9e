"""Equivariance: a method's answer does not depend on the units or the orientation of A.

Units. An op of degree p (:attr:`Op.degree`) has f(cA) = c^p f(A), gA(cA) = c^{p−1} gA(A) and
dF(cA)[dA] = c^{p−1} dF(A)[dA]. :func:`observe` measures every quantity in units of A
(output · s^{−p}, gA and tangents · s^{1−p}, s = max|λ|, eigh's eigenvalue cotangent gw/s),
and :func:`scale_equivariance` compares cA's with A's for c in :data:`SCALES` = 10^±4, 10^±8,
in float64 and float32 alike: float32 allows more (every built-in passes up to 10^±16 on
these inputs; at 10^19 ‖A‖_F² overflows its 3.4e38, at 10^−24 the inverse root's gradient,
of size c^{−3/2}, does), so it gets the design's full range. A threshold absolute in the units
of A (an ε added to λ or to a gap, a clip at a fixed value) changes the answer by a relative
ε/(c λ) or more and fails.

Orientation. f(QAQᵀ) = Q f(A) Qᵀ, gA(QAQᵀ; QGQᵀ) = Q gA(A; G) Qᵀ and dF(QAQᵀ)[Q dA Qᵀ] =
Q dF(A)[dA] Qᵀ for orthogonal Q; eigenvalues and their tangents are invariant. Eigenvectors
enter only through the gauge-invariant loss and the weighted projector (as in the sign
invariance check), so their signs, which rotation may change, do not matter.

Both directions are checked (gA, and the JVP where the configuration has one), the outputs
for forwards, in every op reaching the method (``Subject.ops``), on a well-separated input and
a near tie (on NumPy, where ``matrix_power(A, 0.3)`` joins the ops of an eigh method; other
backends: see :func:`_plan`). Tolerance, in units of rounding:
the relative error of the input's rounding (½ε per entry of cA or QAQᵀ) is amplified by at
most κ = max|λ| / min gap in eigenvectors and in every gradient, so a method equivariant in
exact arithmetic stays within ``ROUNDING_UNITS`` ε κ; 500 leaves a margin of 40 over the
most any built-in measures (12 ε κ, power iteration).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

import spectralcore as sc

from .backends import Backend
from .cases import EQUIVARIANCE, SEED, Case, Cotangent, conditioning, direction, orthogonal, spectral_scale
from .result import Result, outcome, rel
from .subject import DEGREE, Op, Subject

SCALES = (1e-8, 1e-4, 1e4, 1e8)
ROUNDING_UNITS = 500
INVARIANT = ("eigenvalues", "deigenvalues")  # vectors, unchanged by A → QAQᵀ


def congruence(Q: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Q X Qᵀ, symmetrised (rounding makes it asymmetric by ε)."""
    Y = Q @ X @ Q.T
    return (Y + Y.T) / 2


def allowed(dtype: str, A: np.ndarray) -> float:
    """ROUNDING_UNITS · ε · κ(A): the input's rounding, amplified by its eigen-gap conditioning."""
    return ROUNDING_UNITS * float(np.finfo(dtype).eps) * conditioning(A)


def _plan(s: Subject, b: Backend) -> tuple[tuple[Case, ...], list[Op], tuple[float, ...]]:
    """(inputs, ops, scales): everything on NumPy; elsewhere the same Array-API code runs (the
    "same numbers as numpy" check compares it on the method's own op), so the method's own op,
    the separated input and the extreme scales suffice there (a tenth of the cost)."""
    if b.name == "numpy":
        return EQUIVARIANCE, s.ops + _spectral_function(s), SCALES
    return EQUIVARIANCE[:1], s.primary_ops, (SCALES[0], SCALES[-1])


def _spectral_function(s: Subject) -> list[Op]:
    """A^0.3 through an eigh method (``matrix_power(A, 0.3, backward=...)`` reaches an eigh
    backward too); log and exp have no degree of homogeneity, so they are left out."""
    if not s.kind.startswith("eigh"):
        return []
    return [Op("matrix_power", sc.matrix_power, primary=False, args=(0.3,))]


def observe(
    s: Subject, op: Op, b: Backend, A: np.ndarray, dtype: str, cot: Cotangent, dA: np.ndarray
) -> dict[str, np.ndarray]:
    """In units of A (s = max|λ|): gA s^{1−p} for the cotangent in units (eigh: gw/s); a
    forward's outputs F s^{−p} in its own op; the output tangents dF s^{1−p} for dA where the
    op has forward mode (eigh: dw and the weighted projector's)."""
    scale = spectral_scale(A)
    run = s.run(op, b, A, dtype, cot.in_units(scale))
    seen = {"gA": run.gA * scale ** (1 - op.degree)}
    if not s.is_backward and op.primary:
        seen |= {key: value * scale ** -DEGREE.get(key, op.degree) for key, value in run.outputs.items()}
    if s.has_jvp(op):
        tangents = s.pushforward(op, b, A, dtype, dA, cot.weights)
        seen |= {
            f"d{key}": t * scale ** (1 - DEGREE.get(key, op.degree))
            for key, t in tangents.items()
            if key != "eigenvectors"
        }
    return seen


def scale_equivariance(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """f(cA) = c^p f(A), gA(cA) = c^{p−1} gA(A), dF(cA)[dA] = c^{p−1} dF(A)[dA] for c in SCALES."""
    cases, ops, scales = _plan(s, b)
    for case in cases:
        cot, dA = Cotangent.for_shape(case.matrix.shape), direction(case.matrix.shape)
        for op in ops:
            base = observe(s, op, b, case.matrix, dtype, cot, dA)
            for c in scales:
                scaled = observe(s, op, b, c * case.matrix, dtype, cot, dA)
                for key, value in base.items():
                    yield outcome(
                        "scale equivariance",
                        s,
                        b,
                        dtype,
                        f"{op.label} {key}, {case.name} ×{c:.0e}",
                        rel(scaled[key], value),
                        allowed(dtype, case.matrix),
                    )


def rotation_equivariance(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """f(QAQᵀ) = Q f(A) Qᵀ, gA(QAQᵀ; QGQᵀ) = Q gA(A; G) Qᵀ, dF(QAQᵀ)[Q dA Qᵀ] = Q dF(A)[dA] Qᵀ
    for a seeded random orthogonal Q (eigenvalues and their tangents invariant)."""
    cases, ops, _ = _plan(s, b)
    for case in cases:
        A, cot, dA = case.matrix, Cotangent.for_shape(case.matrix.shape), direction(case.matrix.shape)
        Q = orthogonal(np.random.default_rng(SEED + 3), A.shape[-1])
        for op in ops:
            base = observe(s, op, b, A, dtype, cot, dA)
            turned = observe(s, op, b, congruence(Q, A), dtype, cot.rotated(Q), congruence(Q, dA))
            for key, value in base.items():
                expected = value if key in INVARIANT else Q @ value @ Q.T
                yield outcome(
                    "rotation equivariance",
                    s,
                    b,
                    dtype,
                    f"{op.label} {key}, {case.name} rotated",
                    rel(turned[key], expected),
                    allowed(dtype, A),
                )
