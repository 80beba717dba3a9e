"""Spectral functions F = V f(Λ) Vᵀ: the Daleckii–Krein backward and the eigenvector path.

For symmetric A = V Λ Vᵀ and an elementwise f, the Fréchet derivative is (Daleckii–Krein)

    dF = V (Γ ∘ (Vᵀ dA V)) Vᵀ,   Γ_ij = (f(λi) − f(λj)) / (λi − λj),   Γ_ii = f′(λi),

and the VJP is the same map, gA = V (Γ ∘ (Vᵀ gF V)) Vᵀ (Γ is symmetric, so the map is its
own transpose). Γ is exact at ties, where the eigh route ("V f(Λ) Vᵀ differentiated through
eigh") is not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._array import Array, congruence, dtype_eps, sym

ElementwiseFn = Callable[[Array], Array]


def apply_function(V: Array, fw: Array) -> Array:
    """V diag(f(λ)) Vᵀ, written as (V · f(λ)) Vᵀ to skip the diagonal matrix."""
    return (V * fw[..., None, :]) @ V.mT


def divided_differences(xp: Any, w: Array, f: ElementwiseFn, df: ElementwiseFn) -> Array:
    """Γ_ij = (f(λi) − f(λj))/(λi − λj), accurate for every gap, including ties.

    Γ_ij = (1/h)∫ f′ over [λj, λi]. Where f′ barely changes on that interval,
    |f′(λi) − f′(λj)| ≤ ρ |f′(m)| with m the midpoint and ρ = (2880 ε)^{1/4}, the quotient
    would cancel, and Simpson's rule (f′(λi) + 4 f′(m) + f′(λj)) / 6 is used instead: its
    error, about (h |f″/f′|)⁴/2880 relative, is then below ε. Elsewhere the quotient loses
    at most ε |f| / (h |f′|). At ties this is f′(λi) exactly. The switch is scale-free, so
    it holds for exp at large λ as for powers near 0.
    """
    rho = (2880 * dtype_eps(xp, w.dtype)) ** 0.25
    li, lj = w[..., :, None], w[..., None, :]
    gap = li - lj
    dfw = df(w)
    dfi, dfj, dfm = dfw[..., :, None], dfw[..., None, :], df((li + lj) / 2)
    near = (gap == 0) | (xp.abs(dfi - dfj) <= rho * xp.abs(dfm))
    fw = f(w)
    quotient = (fw[..., :, None] - fw[..., None, :]) / xp.where(near, xp.ones_like(gap), gap)
    return xp.where(near, (dfi + 4 * dfm + dfj) / 6, quotient)


def daleckii_krein(V: Array, gamma: Array, X: Array) -> Array:
    """V (Γ ∘ (Vᵀ sym(X) V)) Vᵀ: the JVP dF for X = dA and, being self-adjoint, the VJP gA for X = gF."""
    return congruence(V, gamma * (V.mT @ sym(X) @ V))


def eigen_cotangents(xp: Any, V: Array, gF: Array, fw: Array, dfw: Array) -> tuple[Array, Array]:
    """(gw, gV) of F = V f(Λ) Vᵀ: gV = (gF + gFᵀ) V diag(f(λ)), gw = f′(λ) ∘ diag(Vᵀ gF V).

    Feeding these to an eigh backward routes a spectral function through the eigenvector
    path (how the covariance-pooling papers differentiate SVD-based square roots).
    """
    gsym = gF + gF.mT
    gV = (gsym @ V) * fw[..., None, :]
    gw = dfw * xp.sum(V * (gF @ V), axis=-2)
    return gw, gV


def eigen_tangent(V: Array, dw: Array, dV: Array, fw: Array, dfw: Array) -> Array:
    """dF of F = V f(Λ) Vᵀ from (dw, dV): dF = dV f(Λ) Vᵀ + V f(Λ) dVᵀ + V diag(f′(λ) dw) Vᵀ,
    the transpose of :func:`eigen_cotangents` (the eigenvector path in forward mode)."""
    half = (dV * fw[..., None, :]) @ V.mT
    return half + half.mT + apply_function(V, dfw * dw)
