"""p(Z) = Σ_{k=0..d} c_k Z^k for a square matrix Z in about 2√d matrix products (Paterson and
Stockmeyer, SIAM J. Comput. 1973), instead of Horner's d − 1; several polynomials of the same Z
(P and Q of a Padé approximant) share the powers.

With the powers I, Z, …, Z^s, split the coefficients into blocks of s,
B_j(Z) = Σ_{i<s} c_{js+i} Z^i, j = 0..r, r = ⌊d/s⌋, and run Horner in Z^s:

    p(Z) = B_0 + Z^s (B_1 + Z^s (B_2 + … + Z^s B_r)),

s − 1 products for the powers and r for the steps (one fewer when the top block is a constant),
s minimised over the polynomials together (:func:`block_size`): 5 for d = 11 (Horner: 10), 18
for d = 100, 4 for the pair of [5/5] (Z², Z³ and one step each) and 4 for [3/7] (Z², Z³, Z⁴ and
one step: 6 by all the powers). Each block is held as σ_j B̂_j, σ_j its first nonzero coefficient,
so that B̂_j starts with a coefficient 1 and takes one element-wise pass per further term
(:func:`spectralcore.products.combination`); the σ go into the steps' own scalars,
T ← σ Z^s T̂ + σ_j B̂_j, one fused product each (:func:`spectralcore.products.gemm`). ‖Z‖₂ ≤ 1
where the iterative methods call it, so the powers stay bounded and the result agrees with
Horner's to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ._array import Array, eye_like
from .products import combination, gemm, scaled_product


def _steps(degree: int, s: int) -> int:
    """Horner steps in Z^s for one polynomial of degree ``degree`` (a constant top block costs none)."""
    return max(degree // s - (1 if degree % s == 0 else 0), 0)


def _top_power(degrees: Sequence[int], s: int) -> int:
    """The highest power of Z the scheme forms: Z^s if some polynomial has a second block, else
    the highest degree."""
    return max(min(d, s) for d in degrees)


def _count(degrees: Sequence[int], s: int) -> int:
    """Matrix products of the scheme with blocks of ``s`` for polynomials of these degrees."""
    return max(_top_power(degrees, s) - 1, 0) + sum(_steps(d, s) for d in degrees)


def block_size(*degrees: int) -> int:
    """The block size s with the fewest products for these degrees together (the smallest such s,
    which also takes the fewest element-wise passes: s − 1 + d per polynomial)."""
    return min(range(1, max(degrees) + 2), key=lambda s: (_count(degrees, s), s))


def products(*degrees: int) -> int:
    """Matrix products :func:`evaluate_all` takes for polynomials of these degrees."""
    return _count(degrees, block_size(*degrees))


def _scaled_block(xp: Any, coefficients: Sequence[float], powers: Sequence[Array]) -> tuple[float, Array | None]:
    """(σ, B̂) with Σ_i c_i Z^i = σ B̂ and B̂'s first coefficient 1 (σ = 1 where the quotients
    would overflow, a subnormal σ); (0, None) for a zero block."""
    first = next((i for i, c in enumerate(coefficients) if c != 0), None)
    if first is None:
        return 0.0, None
    sigma = coefficients[first]
    scaled = [c / sigma for c in coefficients[first:]]
    if not all(map(math.isfinite, scaled)):
        sigma, scaled = 1.0, list(coefficients[first:])
    return sigma, combination(xp, scaled, powers[first:])


def _evaluate(xp: Any, coefficients: Sequence[float], powers: Sequence[Array], s: int) -> Array:
    degree = len(coefficients) - 1
    if degree < s:  # one block: a combination of the powers
        return combination(xp, coefficients, powers[: degree + 1])
    blocks = [list(coefficients[j : j + s]) for j in range(0, degree + 1, s)]
    if len(blocks[-1]) == 1:  # a constant top block: B_{r−1} + c Z^s, one more term and no product
        blocks.append(blocks.pop(-2) + blocks.pop())
    scale, T = _scaled_block(xp, blocks.pop(), powers)
    for block in reversed(blocks):
        sigma, B = _scaled_block(xp, block, powers)
        if T is None:  # every block so far zero
            scale, T = sigma, B
        elif B is None:
            T = scaled_product(xp, powers[s], T, scale)
            scale = 1.0
        else:
            T = gemm(xp, powers[s], T, B, alpha=scale, beta=sigma)
            scale = 1.0
    if T is None:
        return xp.zeros_like(powers[1])
    return T if scale == 1 else scale * T


def evaluate_all(xp: Any, Z: Array, polynomials: Sequence[Sequence[float]], eye: Array | None = None) -> list[Array]:
    """[Σ_k c_k Z^k for each coefficient list c] (from the constant term up), sharing the powers
    of Z, in :func:`products` matrix products; ``eye`` is the identity if the caller has one."""
    degrees = [len(c) - 1 for c in polynomials]
    s = block_size(*degrees)
    powers = [eye_like(xp, Z) if eye is None else eye, Z]
    while len(powers) <= _top_power(degrees, s):
        powers.append(powers[-1] @ Z)
    return [_evaluate(xp, c, powers, s) for c in polynomials]


def evaluate(xp: Any, Z: Array, coefficients: Sequence[float], eye: Array | None = None) -> Array:
    """Σ_k c_k Z^k (``coefficients`` from the constant term up) in :func:`products` products."""
    return evaluate_all(xp, Z, [coefficients], eye)[0]
