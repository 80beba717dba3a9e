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

    Where |λi − λj| ≤ τ·max(|λi|, |λj|), τ = (100 ε)^{1/5}, the quotient would cancel;
    there Γ_ij = (1/h)∫ f′ over [λj, λi] is taken by Simpson's rule,
    (f′(λi) + 4 f′((λi + λj)/2) + f′(λj)) / 6, whose error is h⁴ max|f⁽⁵⁾| / 2880.
    At ties this is f′(λi) exactly. Relative error: about 1e-13 (float64), 1e-6 (float32).
    """
    tau = (100 * dtype_eps(xp, w.dtype)) ** 0.2
    li, lj = w[..., :, None], w[..., None, :]
    gap = li - lj
    scale = xp.maximum(xp.abs(li), xp.abs(lj))
    far = xp.abs(gap) > tau * scale
    fw = f(w)
    quotient = (fw[..., :, None] - fw[..., None, :]) / xp.where(far, gap, xp.ones_like(gap))
    dfw = df(w)
    simpson = (dfw[..., :, None] + 4 * df((li + lj) / 2) + dfw[..., None, :]) / 6
    return xp.where(far, quotient, simpson)


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

