"""Pre-normalisation of iterative methods: A ↦ A / c, with c ≥ λmax so the iterations converge.

* ``"frobenius"`` — c = ‖A‖_F (the papers' choice; ICLR 2022 eq. 10). Cheap, but for a
  spread-out spectrum c ≫ λmax, the small eigenvalues of A/c sit near 0 and iterations
  converge slowly there.
* ``"spectral"`` — c = ‖A^m‖_F^{1/m}, m = 2^k, by k repeated squarings (block power
  iteration started from the identity). For symmetric A this is an upper bound of
  λmax = ‖A‖₂ within the factor n^{1/(2m)} (1.14 for n = 64, k = 4); it needs k matrix
  products and no start vector, so it cannot stall on an unlucky one. The squarings start from
  B = A/‖A‖_F and are not rescaled: ‖B‖₂ ≤ 1 bounds every power by 1, and for symmetric B
  ‖B^m‖_F ≥ n^{(1−m)/2} (the power mean of the eigenvalues), a floor far above underflow
  (2.8e-23 for n = 1024 in float32) that also keeps a zero matrix finite, so
  c = ‖A‖_F ‖B^m‖_F^{1/m} costs k products and four passes over the batch.

Both are each matrix's own scale and equivariant, c(tA) = |t| c(A), and the floor acts on the
normalised B, so the iterative methods (``mpa``, ``mtp``, ``newton-schulz``, ``lyapunov``),
which see A only as A/c and scale back by √c, have no threshold in the units of A:
f(tA) = t^p f(A) and gA(tA) = t^{p − 1} gA(A), p = ±1/2, to rounding.

A :class:`Scale` remembers its rule by its class, so a backward that follows a forward of the
same normalisation can take the square root's scale from it: c(A^{1/2}) = c(A)^{1/2} holds for
both rules up to the forward's own error, and c(A)^{1/2} ≥ ‖A^{1/2}‖₂ exactly
(:func:`root_inverse`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ._array import Array, frobenius_norm, scale_matrix

NORMALIZATIONS = ("frobenius", "spectral")
DEFAULT = "spectral"
SQUARINGS = 4


class Scale(NamedTuple):
    """c ≥ ‖A‖₂ of each matrix and 1/c, as (..., 1, 1). The zero matrix has c = 0, so scaling
    back by √c gives sqrtm(0) = 0 exactly and invsqrtm(0) = inf whatever the iteration gives at
    A/c = 0, and 1/c = 1, which divides it."""

    c: Array
    inverse: Array


class FrobeniusScale(Scale):
    """A :class:`Scale` by ``normalize="frobenius"``."""


class SpectralScale(Scale):
    """A :class:`Scale` by ``normalize="spectral"``."""


SCALES: dict[str, type[Scale]] = {"frobenius": FrobeniusScale, "spectral": SpectralScale}


def normalizer(xp: Any, A: Array, how: str, squarings: int = SQUARINGS) -> Scale:
    """The :class:`Scale` of A by the rule ``how``."""
    norm = scale_matrix(frobenius_norm(xp, A))
    divisor = xp.where(norm > 0, norm, 1.0)
    if how == "frobenius":
        return FrobeniusScale(norm, divisor**-1)
    B = A / divisor
    for _ in range(squarings):
        B = B @ B
    m = 2**squarings
    floor = A.shape[-1] ** ((1 - m) / 2)
    grow = xp.clip(scale_matrix(frobenius_norm(xp, B)), min=floor) ** (-1 / m)  # ‖B^m‖_F^{−1/m} ≥ 1
    return SpectralScale(norm / grow, grow / divisor)


def products(how: str, squarings: int = SQUARINGS) -> int:
    """Matrix products of :func:`normalizer`: k squarings for "spectral", none for "frobenius"."""
    return squarings if how == "spectral" else 0


def root_inverse(xp: Any, saved: Any, how: str, S: Array) -> Array:
    """1/c of S = A^{1/2}: √(1/c) of the forward's scale of A (``saved``, or its ``scale`` field)
    when the forward used the same rule ``how``, else S's own."""
    scale = getattr(saved, "scale", saved)
    if type(scale) is SCALES[how]:
        return xp.sqrt(scale.inverse)
    return normalizer(xp, S, how).inverse


def check_normalize(method: Any) -> None:
    """Validate a method's ``normalize`` option."""
    method.require(method.normalize in NORMALIZATIONS, "normalize", f"one of {NORMALIZATIONS}")
