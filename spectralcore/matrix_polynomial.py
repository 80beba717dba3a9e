"""p(Z) = Σ_{k=0..d} c_k Z^k for a square matrix Z in about 2√d matrix products (Paterson and
Stockmeyer, SIAM J. Comput. 1973), instead of Horner's d − 1.

With the powers I, Z, …, Z^s, split the coefficients into blocks of s,
B_j(Z) = Σ_{i<s} c_{js+i} Z^i, j = 0..r, r = ⌊d/s⌋, and run Horner in Z^s:

    p(Z) = B_0 + Z^s (B_1 + Z^s (B_2 + … + Z^s B_r)),

s − 1 products for the powers and r for the steps (one fewer when the top block is a constant),
minimised over s (:func:`block_size`): 5 for d = 11 (Horner: 10), 18 for d = 100. The blocks are
combinations of the same s powers (:func:`spectralcore.products.combinations`, one pass per
term) and each step is one fused product T ← Z^s T + B_j
(:func:`spectralcore.products.gemm`). ‖Z‖₂ ≤ 1 where the iterative methods call it, so the
powers stay bounded and the result agrees with Horner's to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._array import Array, eye_like
from .products import axpy, combination, combinations, gemm


def _count(degree: int, s: int) -> int:
    """Matrix products of the scheme with blocks of ``s`` for a polynomial of degree ``degree``."""
    steps = degree // s
    if steps == 0:  # one block: the powers Z², …, Z^d
        return max(degree - 1, 0)
    return (s - 1) + steps - (1 if degree % s == 0 else 0)  # a constant top block costs no step


def block_size(degree: int) -> int:
    """The block size s with the fewest products (the smallest such s)."""
    return min(range(1, degree + 2), key=lambda s: (_count(degree, s), s))


def products(degree: int) -> int:
    """Matrix products :func:`evaluate` takes for a polynomial of degree ``degree``."""
    return _count(degree, block_size(degree))


def evaluate(xp: Any, Z: Array, coefficients: Sequence[float]) -> Array:
    """Σ_k c_k Z^k (``coefficients`` from the constant term up) in :func:`products` products."""
    degree = len(coefficients) - 1
    s = block_size(degree)
    blocks = [tuple(coefficients[j : j + s]) for j in range(0, degree + 1, s)]
    powers = [eye_like(xp, Z), Z]
    while len(powers) <= (s if len(blocks) > 1 else degree):
        powers.append(powers[-1] @ Z)
    if len(blocks) == 1:
        return combination(xp, coefficients, powers)
    constant_top = len(blocks[-1]) == 1
    parts = combinations(xp, blocks[:-1] if constant_top else blocks, powers[:s])
    T = axpy(xp, blocks[-1][0], powers[s], parts.pop()) if constant_top else parts.pop()
    for B in reversed(parts):
        T = gemm(xp, powers[s], T, B)
    return T
