"""Spectral functions F = V f(Λ) Vᵀ: the Daleckii–Krein backward and the eigenvector path.

For symmetric A = V Λ Vᵀ and an elementwise f, the Fréchet derivative is (Daleckii–Krein)

    dF = V (Γ ∘ (Vᵀ dA V)) Vᵀ,   Γ_ij = (f(λi) − f(λj)) / (λi − λj),   Γ_ii = f′(λi),

and the VJP is the same map, gA = V (Γ ∘ (Vᵀ gF V)) Vᵀ (Γ is symmetric, so the map is its
own transpose). Γ is exact at ties, where the eigh route ("V f(Λ) Vᵀ differentiated through
eigh") is not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Protocol

from ._array import Array, congruence, dtype_eps, nonzero_or_one, reciprocal, rounding_clip, sym, torch_namespace
from .products import axpy

ElementwiseFn = Callable[[Array], Array]


class ScalarFunction(Protocol):
    """f and its derivatives, acting elementwise on arrays of eigenvalues; ``d2f`` (f″) may be None
    where none was given (then second derivatives need one, see :func:`with_second_derivative`)."""

    @property
    def f(self) -> ElementwiseFn: ...
    @property
    def df(self) -> ElementwiseFn: ...
    @property
    def d2f(self) -> ElementwiseFn | None: ...


@dataclasses.dataclass(frozen=True)
class WithSecondDerivative:
    """A :class:`ScalarFunction` whose missing f″ is ``derivative(df)`` (an adapter's autodiff)."""

    base: ScalarFunction
    derivative: Callable[[ElementwiseFn], ElementwiseFn]

    @property
    def f(self) -> ElementwiseFn:
        return self.base.f

    @property
    def df(self) -> ElementwiseFn:
        return self.base.df

    @property
    def d2f(self) -> ElementwiseFn:
        return self.base.d2f or self.derivative(self.base.df)


def with_second_derivative(fn: ScalarFunction, derivative: Callable[[ElementwiseFn], ElementwiseFn]) -> ScalarFunction:
    """``fn`` itself when it has f″, else ``fn`` with f″ = ``derivative(fn.df)``: an adapter passes
    its framework's forward-mode derivative of an elementwise function."""
    return fn if fn.d2f is not None else WithSecondDerivative(fn, derivative)


def apply_function(V: Array, fw: Array) -> Array:
    """V diag(f(λ)) Vᵀ, written as (V · f(λ)) Vᵀ to skip the diagonal matrix."""
    return (V * fw[..., None, :]) @ V.mT


def divided_differences(xp: Any, w: Array, f: ElementwiseFn, df: ElementwiseFn, fw: Array | None = None) -> Array:
    """Γ_ij = (f(λi) − f(λj))/(λi − λj), accurate for every gap, including ties; ``fw`` is f(w)
    where the caller has it.

    Γ_ij = (1/h)∫ f′ over [λj, λi]. Where f′ barely changes on that interval,
    |f′(λi) − f′(λj)| ≤ ρ |f′(m)| with m the midpoint and ρ = (2880 ε)^{1/4}, the quotient
    would cancel, and Simpson's rule (f′(λi) + 4 f′(m) + f′(λj)) / 6 is used instead: its
    error, about (h |f″/f′|)⁴/2880 relative, is then below ε. Elsewhere the quotient loses
    at most ε |f| / (h |f′|). At ties this is f′(λi) exactly (an infinite f′ too: the test is
    written so that ∞ − ∞ counts as "barely changes"). The switch is scale-free, so it holds
    for exp at large λ as for powers near 0. The sixths are taken on the n values of f′/6.
    """
    rho = (2880 * dtype_eps(xp, w.dtype)) ** 0.25
    gap = w[..., :, None] - w[..., None, :]
    sixth = df(w) / 6
    half = w / 2
    dfm = df(half[..., :, None] + half[..., None, :])
    far = xp.abs(sixth[..., :, None] - sixth[..., None, :]) > (rho / 6) * xp.abs(dfm)
    fw = f(w) if fw is None else fw
    quotient = (fw[..., :, None] - fw[..., None, :]) / nonzero_or_one(xp, gap)
    simpson = axpy(xp, 2 / 3, dfm, sixth[..., :, None] + sixth[..., None, :])
    return xp.where(far, quotient, simpson)


def roots(xp: Any, w: Array) -> Array:
    """√λ; eigenvalues within rounding below 0 count as 0, further below give NaN (``rounding_clip``)."""
    return xp.sqrt(rounding_clip(xp, w))


def half_root_gamma(xp: Any, w: Array, fw: Array | None = None) -> Array:
    """Γ/2 of f = √· in closed form: 1/(2√λi + 2√λj), no cancellation at any gap (f′/2 at ties);
    the doubling (exact) costs a pass over the n eigenvalues, where halving Γ or sym(X) would cost
    one over the n × n matrices. ``fw``, √λ where the caller has it (the forward's)."""
    twice = 2 * (roots(xp, w) if fw is None else fw)
    return reciprocal(twice[..., :, None] + twice[..., None, :])


def half_inverse_root_gamma(xp: Any, w: Array, fw: Array | None = None) -> Array:
    """Γ/2 of f = λ^{-1/2} in closed form: −(1/√λi)(1/√λj)/(2√λi + 2√λj); ``fw``, λ^{-1/2} where
    the caller has it (the forward's)."""
    if fw is None:
        clipped = rounding_clip(xp, w)
        inverse, minus_twice = clipped**-0.5, -2 * xp.sqrt(clipped)
    else:
        inverse, minus_twice = fw, -2 * reciprocal(fw)
    return inverse[..., :, None] * inverse[..., None, :] / (minus_twice[..., :, None] + minus_twice[..., None, :])


def _quotient_or(xp: Any, num: Array, den: Array, at_zero: Array) -> Array:
    """num / den, and ``at_zero`` (broadcast) where den = 0, without dividing by 0 (the quotient
    is taken against den with its zeros replaced by 1: no NaN, no NumPy warning)."""
    zero = den == 0
    return xp.where(zero, at_zero, num / nonzero_or_one(xp, den, zero))


def _ratio_or_infinity(xp: Any, num: Array, den: Array) -> Array:
    """num / den for num ≥ 0, den ≥ 0, and ∞ where den = 0: IEEE division on torch (no warnings
    there; 0/0 = NaN only at ties, which callers replace), a select elsewhere (NumPy warns)."""
    if torch_namespace(xp) is not None:
        return num / den
    zero = den == 0
    return xp.where(zero, xp.full_like(den, math.inf), num / nonzero_or_one(xp, den, zero))


def _gap_and_log_ratio(xp: Any, v: Array) -> tuple[Array, Array]:
    """(M − m, log(M/m) = log1p((M − m)/m)) for each pair of the values v (..., n) ≥ 0, M ≥ m
    the pair's larger and smaller: log1p of the relative gap has no cancellation near ties, and
    M/m = ∞ where m = 0 (:func:`_ratio_or_infinity`)."""
    vi, vj = v[..., :, None], v[..., None, :]
    gap = xp.abs(vi - vj)
    return gap, xp.log1p(_ratio_or_infinity(xp, gap, xp.minimum(vi, vj)))


def half_log_gamma(xp: Any, w: Array, fw: Array | None = None) -> Array:
    """Γ/2 of f = log in closed form: Γ_ij = log1p(x)/(M − m), x = (M − m)/m for the pair's
    larger and smaller eigenvalues M ≥ m, 1/λ at ties. log1p of x ≥ 0 is well conditioned and
    M − m has no rounding beyond its own (Sterbenz near ties), so Γ is accurate to a few ε at
    every gap, where the difference quotient cancels (``fw`` is not needed). A pair with m < 0 <
    M gives NaN (x < −1), as log does; x overflows to ∞ (and Γ with it) only where M/m exceeds
    the largest float, far outside the definite domain (M/m < 1/(n ε))."""
    twice = w + w
    spread, log_ratio = _gap_and_log_ratio(xp, twice)  # 2 (M − m), log(M/m)
    return _quotient_or(xp, log_ratio, spread, reciprocal(twice)[..., None, :])


def half_exp_gamma(xp: Any, w: Array, fw: Array | None = None) -> Array:
    """Γ/2 of f = exp in closed form: Γ_ij = e^M (1 − e^{−(M − m)})/(M − m) = e^M expm1(−h)/(−h),
    h = |λi − λj|, e^λ at ties: expm1 has no cancellation, and no factor exceeds e^M, which the
    forward computed (fw = e^λ): no overflow where e^M is finite."""
    fw = xp.exp(w) if fw is None else fw
    half = fw / 2
    top = xp.maximum(half[..., :, None], half[..., None, :])
    below = -xp.abs(w[..., :, None] - w[..., None, :])  # −h ≤ 0
    return _quotient_or(xp, top * xp.expm1(below), below, top)


def half_power_gamma(xp: Any, w: Array, p: float, fw: Array | None = None) -> Array:
    """Γ/2 of f = λ^p, p non-integer, in closed form: with M ≥ m the pair's eigenvalues, x = (M − m)/m
    and F = max(M^p, m^p) (M^p for p > 0, m^p for p < 0; the forward's ``fw``),
    Γ_ij = (M^p − m^p)/(M − m) = −sgn(p) F expm1(−|p| log1p(x))/(M − m), p λ^{p−1} at ties: log1p
    and expm1 have no cancellation and no factor exceeds F, so Γ is accurate to a few ε at every
    gap, where the difference quotient cancels. m = 0 < M gives M^{p−1} (x = ∞). Eigenvalues below
    0 count as 0 here: within rounding (``rounding_clip``) that is the forward's f, further below
    the forward's f(λ) = NaN, which F carries into Γ."""
    if fw is None:
        fw = rounding_clip(xp, w) ** p
    clipped = xp.clip(w, 0, None)
    spread, log_ratio = _gap_and_log_ratio(xp, clipped)  # M − m, log(M/m)
    rise = xp.expm1(-abs(p) * log_ratio)
    half = fw * (-0.5 if p > 0 else 0.5)  # −sgn(p) f/2: the sign and Γ's ½ on the n values
    hi, hj = half[..., :, None], half[..., None, :]
    top = xp.minimum(hi, hj) if p > 0 else xp.maximum(hi, hj)  # −sgn(p) F/2
    tie = ((p / 2) * clipped ** (p - 1))[..., None, :]  # f′/2 (λi = λj there)
    return _quotient_or(xp, top * rise, spread, tie)


def half_reciprocal_gamma(xp: Any, w: Array, fw: Array | None = None) -> Array:
    """Γ/2 of f = 1/λ in closed form: Γ_ij = −(1/λi)(1/λj) (−1/λ² at ties), exact to one rounding
    at every gap and for eigenvalues of either sign; ``fw``, 1/λ where the caller has it."""
    fw = reciprocal(w) if fw is None else fw
    return (fw * -0.5)[..., :, None] * fw[..., None, :]


def half_square_gamma(xp: Any, w: Array, fw: Array | None = None) -> Array:
    """Γ/2 of f = λ² in closed form: (λi + λj)/2 (λi at ties); ``fw`` is not needed."""
    half = w / 2
    return half[..., :, None] + half[..., None, :]


def daleckii_krein_rule(xp: Any, fn: ScalarFunction, w: Array, V: Array, X: Array, fw: Array | None = None) -> Array:
    """DF(A)[X] = V (Γ ∘ (Vᵀ sym(X) V)) Vᵀ with Γ in closed form where ``fn`` has one
    (``fn.half_gamma(xp, w, fw)``, Γ/2, not None), else by :func:`divided_differences`; ``fw``
    is f(w) where the caller has it (the forward's)."""
    closed = getattr(fn, "half_gamma", None)
    half_gamma = None if closed is None else closed(xp, w, fw)
    if half_gamma is not None:
        return daleckii_krein_halved(V, half_gamma, X)
    return daleckii_krein(V, divided_differences(xp, w, fn.f, fn.df, fw), X)


def daleckii_krein(V: Array, gamma: Array, X: Array) -> Array:
    """V (Γ ∘ (Vᵀ sym(X) V)) Vᵀ: the JVP dF for X = dA and, being self-adjoint, the VJP gA for X = gF."""
    return congruence(V, gamma * (V.mT @ sym(X) @ V))


def daleckii_krein_halved(V: Array, half_gamma: Array, X: Array) -> Array:
    """:func:`daleckii_krein` from Γ/2: V ((Γ/2) ∘ (Vᵀ (X + Xᵀ) V)) Vᵀ, the same map with the ½ of
    sym(X) taken into Γ (one pass over the batch fewer, the same number: halving is exact)."""
    return congruence(V, half_gamma * (V.mT @ (X + X.mT) @ V))


def eigen_cotangents(xp: Any, V: Array, gF: Array, fw: Array, dfw: Array) -> tuple[Array, Array]:
    """(gw, gV) of F = V f(Λ) Vᵀ: gV = (gF + gFᵀ) V diag(f(λ)), gw = f′(λ) ∘ diag(Vᵀ gF V).

    Feeding these to an eigh backward routes a spectral function through the eigenvector
    path (how the covariance-pooling papers differentiate SVD-based square roots). Both come
    from the one product P = (gF + gFᵀ) V: diag(Vᵀ gF V) = ½ diag(Vᵀ P).
    """
    product = (gF + gF.mT) @ V
    gV = product * fw[..., None, :]
    gw = (dfw / 2) * xp.sum(V * product, axis=-2)
    return gw, gV


def eigen_tangent(V: Array, dw: Array, dV: Array, fw: Array, dfw: Array) -> Array:
    """dF of F = V f(Λ) Vᵀ from (dw, dV): dF = dV f(Λ) Vᵀ + V f(Λ) dVᵀ + V diag(f′(λ) dw) Vᵀ,
    the transpose of :func:`eigen_cotangents` (the eigenvector path in forward mode)."""
    half = (dV * fw[..., None, :]) @ V.mT
    return half + half.mT + apply_function(V, dfw * dw)


def second_divided_differences(
    xp: Any, w: Array, f: ElementwiseFn, df: ElementwiseFn, d2f: ElementwiseFn, gamma: Array | None = None
) -> Array:
    """T_ijk = f[λi, λj, λk], shape (..., n, n, n), accurate for every gap, including (triple) ties.

    Of a triple, the two values furthest apart, x and y, and the third, z, give
    f[x, y, z] = (f[x, z] − f[y, z]) / (x − y) from the first divided differences Γ
    (:func:`divided_differences`), which loses at most about ε |Γ| / (|x − y| |T|). Where f″
    barely changes across the triple, |f″(x) − f″(y)| ≤ ρ |f″((x + y)/2)| with
    ρ = (200 ε)^{1/4}, that quotient would cancel and the Hermite–Genocchi integral
    f[x, y, z] = ∫_simplex f″ is taken by the edge-midpoint rule (exact for quadratic f″),
    (f″((x+y)/2) + f″((y+z)/2) + f″((x+z)/2)) / 6, whose error is then about ρ³ relative. At
    a triple tie this is f″(λ)/2 exactly; on a double tie λi = λj ≠ λk it is
    (f′(λi) − Γ_ik)/(λi − λk). The switch is scale-free, like the first-order one.
    """
    gamma = divided_differences(xp, w, f, df) if gamma is None else gamma
    rho = (200 * dtype_eps(xp, w.dtype)) ** 0.25
    li, lj, lk = w[..., :, None, None], w[..., None, :, None], w[..., None, None, :]
    g_ij, g_ik, g_jk = gamma[..., :, :, None], gamma[..., :, None, :], gamma[..., None, :, :]
    gap_ij, gap_ik, gap_jk = li - lj, li - lk, lj - lk
    # of the three ways to write the quotient, the one dividing by the widest gap
    widest_ij = (xp.abs(gap_ij) >= xp.abs(gap_ik)) & (xp.abs(gap_ij) >= xp.abs(gap_jk))
    widest_ik = ~widest_ij & (xp.abs(gap_ik) >= xp.abs(gap_jk))
    numerator = xp.where(widest_ij, g_ik - g_jk, xp.where(widest_ik, g_ij - g_jk, g_ij - g_ik))
    gap = xp.where(widest_ij, gap_ij, xp.where(widest_ik, gap_ik, gap_jk))
    x = xp.where(widest_ij, li, xp.where(widest_ik, li, lj))
    y = xp.where(widest_ij, lj, xp.where(widest_ik, lk, lk))
    m_ij, m_ik, m_jk = d2f((li + lj) / 2), d2f((li + lk) / 2), d2f((lj + lk) / 2)
    d2x, d2y, d2m = d2f(x), d2f(y), d2f((x + y) / 2)
    near = (gap == 0) | (xp.abs(d2x - d2y) <= rho * xp.abs(d2m))
    quotient = numerator / xp.where(near, xp.ones_like(gap), gap)
    return xp.where(near, (m_ij + m_ik + m_jk) / 6, quotient)


def daleckii_krein_second(xp: Any, V: Array, T: Array, X: Array, H: Array) -> Array:
    """D²F(A)[X, H] = V M Vᵀ, M_ab = Σ_c T_abc (X̃_ac H̃_cb + H̃_ac X̃_cb), X̃ = Vᵀ sym(X) V and
    H̃ likewise, T = :func:`second_divided_differences`: the derivative along H of the
    Daleckii–Krein map X ↦ dF (which is the VJP and the JVP), symmetric in X and H and, for
    each, self-adjoint in the other; exact at ties."""
    x, h = V.mT @ sym(X) @ V, V.mT @ sym(H) @ V
    pairs = x[..., :, None, :] * h[..., None, :, :] + h[..., :, None, :] * x[..., None, :, :]
    return congruence(V, xp.sum(T * pairs, axis=-1))
