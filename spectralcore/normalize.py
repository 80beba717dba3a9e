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

The methods use c only through a few of its powers (√c scales the root back, 1/c normalises,
c^{−1/2} and c^{−3/2} scale the backward), so a :class:`Scale` holds those, all made in one pass
over the (..., 1, 1) scalars (:func:`powers`) instead of one small kernel per quotient and root.

A :class:`Scale` remembers its rule by its class, so a backward that follows a forward of the
same normalisation can take the square root's scale from it: c(A^{1/2}) = c(A)^{1/2} holds for
both rules up to the forward's own error, and c(A)^{1/2} ≥ ‖A^{1/2}‖₂ exactly
(:func:`root_inverse`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ._array import Array, frobenius_norm, nonzero_or_one, scale_matrix
from .products import monomials

NORMALIZATIONS = ("frobenius", "spectral")
DEFAULT = "spectral"
SQUARINGS = 4
POWERS = (0.5, -0.5, -1.0, -1.5)  # the powers of c a :class:`Scale` holds


class Scale(NamedTuple):
    """c^p for p in :data:`POWERS`, c ≥ ‖A‖₂ of each matrix, each as (..., 1, 1). The zero
    matrix has c^p = 0 for p > 0, so scaling back by √c gives sqrtm(0) = 0 exactly and
    invsqrtm(0) = inf whatever the iteration gives at A/c = 0, and a finite c^p for p < 0 (1 for
    "frobenius"), which keeps A/c = 0 and the backward finite."""

    powers: tuple[Array, ...]

    def power(self, p: float) -> Array:
        """c^p, as (..., 1, 1)."""
        return self.powers[POWERS.index(p)]


class FrobeniusScale(Scale):
    """A :class:`Scale` by ``normalize="frobenius"``."""


class SpectralScale(Scale):
    """A :class:`Scale` by ``normalize="spectral"``."""


SCALES: dict[str, type[Scale]] = {"frobenius": FrobeniusScale, "spectral": SpectralScale}


def powers(xp: Any, norm: Array, divisor: Array, spread: Array | None = None, m: int = 1) -> tuple[Array, ...]:
    """(c^p for p in :data:`POWERS`) = (√c, 1/√c, 1/c, 1/c^{3/2}), c = ‖A‖_F · spread^{1/m}:
    ‖A‖_F^p spread^{p/m} for p > 0 and divisor^p spread^{p/m} for p < 0 (divisor = 1 for a zero
    matrix). On torch three kernels for all (:func:`spectralcore.products.monomials`); elsewhere
    c and 1/c and their roots, which a compiler fuses (and drops where unused)."""
    bases = [divisor, norm] if spread is None else [divisor, norm, spread]
    fused = monomials(xp, bases, [[min(p, 0.0), max(p, 0.0), p / m][: len(bases)] for p in POWERS])
    if fused is not None:
        return fused
    if spread is None:
        c, inverse = norm, divisor**-1
    else:
        grow = spread ** (-1 / m)
        c, inverse = norm / grow, grow / divisor
    return xp.sqrt(c), xp.sqrt(inverse), inverse, inverse**1.5


def normalizer(xp: Any, A: Array, how: str, squarings: int = SQUARINGS) -> Scale:
    """The :class:`Scale` of A by the rule ``how``."""
    norm = scale_matrix(frobenius_norm(xp, A))
    divisor = nonzero_or_one(xp, norm)
    if how == "frobenius":
        return FrobeniusScale(powers(xp, norm, divisor))
    B = A / divisor
    for _ in range(squarings):
        B = B @ B
    m = 2**squarings
    floor = A.shape[-1] ** ((1 - m) / 2)
    spread = xp.clip(scale_matrix(frobenius_norm(xp, B)), min=floor)  # ‖B^m‖_F ≤ 1, ‖B^m‖_F^{−1/m} ≥ 1
    return SpectralScale(powers(xp, norm, divisor, spread, m))


def products(how: str, squarings: int = SQUARINGS) -> int:
    """Matrix products of :func:`normalizer`: k squarings for "spectral", none for "frobenius"."""
    return squarings if how == "spectral" else 0


class ScaledRoot(NamedTuple):
    """What a forward of A^{1/2} = √c R saves: R, its root of A/c, and the :class:`Scale` of A."""

    root: Array
    scale: Scale


def normalized_root(xp: Any, saved: Any, how: str, S: Array) -> tuple[Array, Array]:
    """(S/c, 1/c) for c the rule ``how``'s scale of S = A^{1/2}: the forward's own root R of A/c
    (:class:`ScaledRoot`: S/√c to rounding, without the pass over S) when it used the same rule,
    else S times :func:`root_inverse`. (For the zero matrix √c = 0 and S = 0, so R is the
    forward's value at A/c = 0: the derivative is infinite there, outside the domain.)"""
    inverse = root_inverse(xp, saved, how, S)
    if isinstance(saved, ScaledRoot) and type(saved.scale) is SCALES[how]:
        return saved.root, inverse
    return S * inverse, inverse


def root_inverse(xp: Any, saved: Any, how: str, S: Array) -> Array:
    """1/c of S = A^{1/2}: √(1/c) of the forward's scale of A (``saved``, or its ``scale`` field)
    when the forward used the same rule ``how``, else S's own."""
    scale = getattr(saved, "scale", saved)
    if type(scale) is SCALES[how]:
        return scale.power(-0.5)
    return normalizer(xp, S, how).power(-1.0)


def check_normalize(method: Any) -> None:
    """Validate a method's ``normalize`` option."""
    method.require(method.normalize in NORMALIZATIONS, "normalize", f"one of {NORMALIZATIONS}")
