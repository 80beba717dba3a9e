"""eigh backwards against float64 references: finite differences and the papers' closed forms."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.interpolate

import spectralcore as sc
from reference import aligned_eigh, fd_gradient, rel_err, with_spectrum
from spectralcore.series import binomial_series, pade

SEPARATED = [0.3, 0.9, 1.7, 2.6, 4.0]


def eigh_loss(gw, gV, V0):
    """L(A) = ⟨gw, λ(A)⟩ + ⟨gV, V(A)⟩ with eigenvector signs aligned to V0."""

    def loss(a):
        w, v = aligned_eigh(a, V0)
        return float(np.sum(gw * w) + np.sum(gV * v))

    return loss


def reference_kernel_vjp(w, V, gw, gV, kernel):
    """TPAMI 2021 eq. 2 written with explicit loops over pairs: a float64 reference."""
    n = w.size
    inner = np.zeros((n, n))
    vtg = V.T @ gV
    for i in range(n):
        for j in range(n):
            inner[i, j] = kernel(w[i], w[j], i, j) * vtg[i, j] if i != j else gw[i]
    g = V @ inner @ V.T
    return (g + g.T) / 2


def taylor_entry(degree, eps):
    def k(li, lj, i, j):
        li, lj = max(li, eps), max(lj, eps)
        big, small = max(li, lj), min(li, lj)
        value = sum((small / big) ** p for p in range(degree + 1)) / big
        return value if j > i else -value

    return k


def setup(rng, spectrum=SEPARATED):
    a = with_spectrum(rng, spectrum)
    w, V = np.linalg.eigh(a)
    return a, w, V, rng.standard_normal(w.shape), rng.standard_normal(V.shape)


def test_exact_matches_finite_differences(rng):
    a, w, V, gw, gV = setup(rng)
    out, pullback = sc.vjp(sc.eigh, a)
    np.testing.assert_allclose(out[0], w, rtol=1e-13)
    expected = fd_gradient(eigh_loss(gw, gV, V), a)
    assert rel_err(pullback((gw, gV)), expected) < 1e-8


@pytest.mark.parametrize("which", ["eigenvalues", "eigenvectors"])
def test_none_cotangent_means_zero(rng, which):
    a, w, V, gw, gV = setup(rng)
    _, pullback = sc.vjp(sc.eigh, a)
    if which == "eigenvalues":
        expected = fd_gradient(eigh_loss(np.zeros_like(gw), gV, V), a)
        got = pullback((None, gV))
    else:
        expected = fd_gradient(eigh_loss(gw, np.zeros_like(gV), V), a)
        got = pullback((gw, None))
    assert rel_err(got, expected) < 1e-8
    assert np.all(pullback((None, None)) == 0)


@pytest.mark.parametrize("backward", ["clip", "degenerate-safe", "pade", "lorentzian"])
def test_exact_claimers_agree_where_separated(rng, backward):
    a, w, V, gw, gV = setup(rng)
    expected = fd_gradient(eigh_loss(gw, gV, V), a)
    _, pullback = sc.vjp(sc.eigh, a, backward=backward)
    assert rel_err(pullback((gw, gV)), expected) < 1e-8


@pytest.mark.parametrize("relative", [True, False])
@pytest.mark.parametrize("degree,eps", [(0, 0.0), (3, 0.5), (9, 1e-2), (20, 1e-3)])
def test_taylor_is_tpami_eq9(rng, degree, eps, relative):
    """Eigenvalues floored at ε·max|λ| (relative, default) or at ε (the paper's absolute ε)."""
    a, w, V, gw, gV = setup(rng, [0.0, 0.2, 0.2, 1.0, 3.0])
    _, pullback = sc.vjp(sc.eigh, a, backward="taylor", degree=degree, eps=eps, relative=relative)
    floor = eps * np.max(np.abs(w)) if relative else eps
    expected = reference_kernel_vjp(w, V, gw, gV, taylor_entry(degree, floor))
    assert rel_err(pullback((gw, gV)), expected) < 1e-12


def test_taylor_converges_to_exact_with_degree(rng):
    a, w, V, gw, gV = setup(rng)
    exact = fd_gradient(eigh_loss(gw, gV, V), a)
    errors = [
        rel_err(sc.vjp(sc.eigh, a, backward="taylor", degree=k, eps=0.0)[1]((gw, gV)), exact) for k in (2, 8, 32, 128)
    ]
    assert all(e2 < e1 for e1, e2 in zip(errors, errors[1:]))
    assert errors[-1] < 1e-8


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_taylor_bound_tpami_eq15(rng, scale):
    """|K̃_ij| s ≤ (K + 1)/ε, so ‖gA‖ s ≤ n (K + 1)/ε ‖gV‖ (s = max|λ|, the bound in units of A)
    even at ties and zero eigenvalues, and the bound is attained up to n at a tie."""
    degree, eps = 9, 1e-2
    a, w, V, gw, gV = setup(rng, [0.0, 0.0, 1.0, 1.0, 1.0])
    g = sc.vjp(sc.eigh, scale * a, backward="taylor", degree=degree, eps=eps)[1]((None, gV))
    assert np.linalg.norm(g) * scale <= 5 * (degree + 1) / eps * np.linalg.norm(gV)
    assert np.linalg.norm(g) * scale >= (degree + 1) / eps * np.linalg.norm(gV) / 100


@pytest.mark.parametrize("relative", [True, False])
def test_clip_and_lorentzian_closed_forms(rng, relative):
    """min(1/|x|, T/s) and x/(x² + ε s²), s = max|λ| (relative) or 1 (the papers' absolute T, ε)."""
    a, w, V, gw, gV = setup(rng, [1.0, 1.0 + 1e-13, 2.0, 2.0 + 1e-3, 3.0])
    threshold, eps = 1e6, 1e-4
    s = np.max(np.abs(w)) if relative else 1.0

    def clip(li, lj, i, j):
        sign = 1 if j > i else -1
        return sign * min(1 / abs(lj - li), threshold / s) if lj != li else sign * threshold / s

    def lorentz(li, lj, i, j):
        return (lj - li) / ((lj - li) ** 2 + eps * s**2)

    got = sc.vjp(sc.eigh, a, backward="clip", threshold=threshold, relative=relative)[1]((gw, gV))
    assert rel_err(got, reference_kernel_vjp(w, V, gw, gV, clip)) < 1e-12
    got = sc.vjp(sc.eigh, a, backward="lorentzian", eps=eps, relative=relative)[1]((gw, gV))
    assert rel_err(got, reference_kernel_vjp(w, V, gw, gV, lorentz)) < 1e-12


def test_topn_closed_form(rng):
    a, w, V, gw, gV = setup(rng, [0.0, 1e-9, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0])
    keep = 5
    kept = np.arange(8) >= 8 - keep
    lam = np.where(kept, w, 0.0)

    def topn(li, lj, i, j):
        return 1 / (lam[j] - lam[i]) if (kept[i] or kept[j]) else 0.0

    got = sc.vjp(sc.eigh, a, backward="topn", n=keep)[1]((gw, gV))
    assert rel_err(got, reference_kernel_vjp(w, V, np.where(kept, gw, 0.0), gV, topn)) < 1e-12
    half = sc.vjp(sc.eigh, a, backward="topn", n=0.5)[1]((gw, gV))
    four = sc.vjp(sc.eigh, a, backward="topn", n=4)[1]((gw, gV))
    np.testing.assert_allclose(half, four, rtol=1e-14)


@pytest.mark.parametrize("m,n", [(1, 1), (2, 2), (3, 2), (2, 3), (4, 4)])
def test_pade_coefficients_match_scipy_for_sqrt_series(m, n):
    series = binomial_series(Fraction(1, 2), m + n)
    p, q = pade(series, m, n)
    sp, sq = scipy.interpolate.pade([float(c) for c in series], n, m)
    np.testing.assert_allclose([float(c) for c in p], sp.coeffs[::-1] / sq.coeffs[-1], rtol=1e-10)
    np.testing.assert_allclose([float(c) for c in q], sq.coeffs[::-1] / sq.coeffs[-1], rtol=1e-10)


@pytest.mark.parametrize("m", [0, 1, 3, 6])
def test_pade_of_geometric_series_is_the_series_itself(m):
    """[m/1] from scipy, and every [m/n] (n ≥ 1) here, is 1/(1 − x): P = 1, Q = 1 − x."""
    series = binomial_series(Fraction(-1), m + 6)
    sp, sq = scipy.interpolate.pade([float(c) for c in series[: m + 2]], 1, m)
    x = np.linspace(-0.9, 0.9, 7)
    np.testing.assert_allclose(sp(x) / sq(x), 1 / (1 - x), rtol=1e-12)
    for n in (1, 2, 5):
        assert pade(series[: m + n + 1], m, n) == ((Fraction(1),), (Fraction(1), Fraction(-1)))


def test_pade_backward_is_the_float_evaluation_of_one_over_one_minus_x():
    """ICCV 2021 Table 6 setting: the approximant reproduces 1/(1 − x) to rounding and is
    unbounded as x → 1 (inf at a tie), unlike Taylor."""
    import numpy as xp

    from spectralcore.plugins.pade import Pade

    x = np.array([0.1, 0.5, 0.9, 0.99, 0.999])
    np.testing.assert_allclose(Pade().geometric(xp, x), 1 / (1 - x), rtol=1e-12)
    assert Pade().geometric(xp, np.array([0.999]))[0] == pytest.approx(1000.0, rel=1e-12)
    with np.errstate(divide="ignore"):
        assert np.isinf(Pade().geometric(xp, np.array([1.0]))[0])
    np.testing.assert_allclose(Pade(m=9, n=0).geometric(xp, x), (1 - x**10) / (1 - x), rtol=1e-12)


def test_batched_equals_loop(rng):
    a = np.stack([with_spectrum(rng, SEPARATED) for _ in range(3)])
    gw, gV = rng.standard_normal((3, 5)), rng.standard_normal((3, 5, 5))
    for backward in ["exact", "taylor", "power-iteration", "topn"]:
        (w, V), pullback = sc.vjp(sc.eigh, a, backward=backward)
        g = pullback((gw, gV))
        for b in range(3):
            (wb, Vb), pb = sc.vjp(sc.eigh, a[b], backward=backward)
            np.testing.assert_allclose(g[b], pb((gw[b], gV[b])), rtol=1e-10, atol=1e-12)


def test_symmetric_input_gradient_is_symmetric(rng):
    a, w, V, gw, gV = setup(rng)
    for info in sc.methods("eigh-backward"):
        g = sc.vjp(sc.eigh, a, backward=info.name)[1]((gw, gV))
        np.testing.assert_allclose(g, g.T, atol=1e-14)


def test_eigenvalues_only_loss_ignores_ties(rng):
    """gA = V diag(gw) Vᵀ for every method when gV = 0, even at exact ties."""
    a = with_spectrum(rng, [1.0, 1.0, 1.0, 2.0])
    w, V = np.linalg.eigh(a)
    gw = rng.standard_normal(4)
    for info in sc.methods("eigh-backward"):
        g = sc.vjp(sc.eigh, a, backward=info.name)[1]((gw, None))
        np.testing.assert_allclose(g, (V * gw) @ V.T, atol=1e-13)  # topn keeps all 4 by default


def test_rejects_wrong_cotangent_shape(rng):
    a, w, V, gw, gV = setup(rng)
    _, pullback = sc.vjp(sc.eigh, a)
    with pytest.raises(ValueError, match=r"eigh\[1\].*\(5, 5\).*\(4, 5\)"):
        pullback((gw, gV[:4]))
    with pytest.raises(ValueError, match="tuple of 2"):
        pullback(gV)


def test_kernel_diagonal_is_ignored(rng):
    """A kernel may return anything on its diagonal (here 1/0 = inf): K̃_ii = 0 is imposed."""
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class RawCauchy(sc.KernelBackward):
        name = "raw-cauchy"

        def kernel(self, xp, w):
            with np.errstate(divide="ignore"):
                return 1 / (w[..., None, :] - w[..., :, None])

    a = with_spectrum(rng, [1.0, 2.0, 3.0, 5.0])
    gw, gV = rng.standard_normal(4), rng.standard_normal((4, 4))
    got = sc.vjp(sc.eigh, a, backward=RawCauchy())[1]((gw, gV))
    assert np.all(np.isfinite(got))
    assert rel_err(got, sc.vjp(sc.eigh, a, backward="exact")[1]((gw, gV))) < 1e-13
