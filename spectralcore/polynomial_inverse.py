"""D(Z)⁻¹ B for a matrix polynomial D by matrix products only: no solve, no host synchronisation.

For Z with eigenvalues in [0, 1] and a polynomial D > 0 on [0, 1] (the Padé numerators and
denominators of MPA): seed X₀ = s(Z), with s the degree-d polynomial that minimises
e₀ = max_{z∈[0,1]} |1 − D(z) s(z)|, then Newton–Schulz for the inverse,

    X_{k+1} = X_k (2I − D X_k),   so   I − D X_K = (I − D X₀)^{2^K}.

Every matrix here is a polynomial in Z, so they commute and the residual bound holds
eigenvalue by eigenvalue: K = ⌈log₂(log ε / log e₀)⌉ steps (2 products each) reach the
dtype's precision ε. The seed reuses the powers Z¹…Z^d the caller already has, so it
costs no product. Unlike ``xp.linalg.solve`` (LU with pivoting), this can be captured in a
CUDA graph and fused by compilers; ``solve="auto"`` takes LU for arrays in host memory (its
measured cost against these steps: ``plugins/mpa.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.polynomial import polynomial

from ._array import dtype_eps
from .products import combination, gemm_eye
from .trace_constants import trace_constant

GRID = 4001  # Chebyshev-clustered points of [0, 1] for the minimax fit
CHECK_GRID = 100_001  # uniform points on which e₀ is measured
LAWSON_STEPS = 200
EXACT = 1e-14


@trace_constant
def seed(denominator: tuple[float, ...], degree: int) -> tuple[tuple[float, ...], float]:
    """(s, e₀): the coefficients of s (degree ``degree``) minimising max |1 − D s| on [0, 1],
    by Lawson's iteratively reweighted least squares, and that maximum measured on a fine grid."""
    z = (1 - np.cos(np.linspace(0, np.pi, GRID))) / 2
    d = polynomial.polyval(z, denominator)
    if d.min() <= 0:
        raise ValueError(
            f"a polynomial of degree {len(denominator) - 1} must be positive on [0, 1] to be "
            f"inverted by matrix products; in float64 it reaches {d.min():.3g}"
        )
    basis = d[:, None] * z[:, None] ** np.arange(degree + 1)
    weights = np.full(GRID, 1 / GRID)
    best, best_error = None, math.inf
    for _ in range(LAWSON_STEPS):
        root = np.sqrt(weights)
        coeffs = np.linalg.lstsq(basis * root[:, None], root, rcond=None)[0]
        residual = np.abs(1 - basis @ coeffs)
        if residual.max() < best_error:
            best, best_error = coeffs, residual.max()
        if best_error < EXACT:  # D is (numerically) a constant: s = 1/D exactly
            break
        weights = weights * residual
        weights /= weights.sum()
    assert best is not None  # the first fit beats math.inf (a NaN system fails in lstsq first)
    fine = np.linspace(0, 1, CHECK_GRID)
    e0 = float(np.abs(1 - polynomial.polyval(fine, denominator) * polynomial.polyval(fine, best)).max())
    return tuple(float(c) for c in best), e0


def newton_steps(e0: float, eps: float) -> int:
    """Smallest K ≥ 0 with e₀^{2^K} ≤ ε."""
    if e0 <= eps:
        return 0
    if e0 >= 1:
        raise ValueError(f"Newton–Schulz inverse diverges: seed residual {e0:.3g} >= 1")
    return max(0, math.ceil(math.log2(math.log(eps) / math.log(e0))))


def polynomial_solve(xp: Any, powers: Sequence[Any], denominator: Sequence[float], D: Any, B: Any) -> Any:
    """D(Z)⁻¹ B, given ``powers`` = [I, Z, …, Z^d] and D = Σ_k denominator[k] Z^k already formed."""
    s, e0 = seed(tuple(float(c) for c in denominator), len(powers) - 1)
    X = combination(xp, s, list(powers))
    for _ in range(newton_steps(e0, dtype_eps(xp, D.dtype))):
        X = X @ gemm_eye(xp, D, X, 2.0, -1.0, powers[0])  # X (2I − D X)
    return X @ B
