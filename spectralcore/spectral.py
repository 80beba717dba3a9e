"""Spectral functions F = V f(Λ) Vᵀ: the Daleckii–Krein backward and the eigenvector path.

For symmetric A = V Λ Vᵀ and an elementwise f, the Fréchet derivative is (Daleckii–Krein)

    dF = V (Γ ∘ (Vᵀ dA V)) Vᵀ,   Γ_ij = (f(λi) − f(λj)) / (λi − λj),   Γ_ii = f′(λi),

so the VJP is gA = V (Γ ∘ (Vᵀ gF V)) Vᵀ (Γ is symmetric). Γ is exact at ties, where the
eigh route ("V f(Λ) Vᵀ differentiated through eigh") is not.
"""

from __future__ import annotations

from typing import Any, Callable

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


def daleckii_krein_vjp(V: Array, gamma: Array, gF: Array) -> Array:
    """gA = V (Γ ∘ (Vᵀ sym(gF) V)) Vᵀ."""
    return congruence(V, gamma * (V.mT @ sym(gF) @ V))


def eigen_cotangents(xp: Any, V: Array, gF: Array, fw: Array, dfw: Array) -> tuple[Array, Array]:
    """(gw, gV) of F = V f(Λ) Vᵀ: gV = (gF + gFᵀ) V diag(f(λ)), gw = f′(λ) ∘ diag(Vᵀ gF V).

    Feeding these to an eigh backward routes a spectral function through the eigenvector
    path (how the covariance-pooling papers differentiate SVD-based square roots).
    """
    gsym = gF + gF.mT
    gV = (gsym @ V) * fw[..., None, :]
    gw = dfw * xp.sum(V * (gF @ V), axis=-2)
    return gw, gV

