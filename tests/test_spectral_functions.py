"""sc.matrix_function / sc.matrix_power (Daleckii–Krein backward) and the eigenvector path,
against independent float64 references: SciPy forwards, finite differences of SciPy matrix
functions, and the Daleckii–Krein closed form evaluated in mpmath from the eigendecomposition
each test constructs."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.linalg as sl

import spectralcore as sc
from reference import fd_gradient, random_orthogonal, rel_err, symmetric

SEPARATED = [0.5, 1.3, 2.1, 3.7, 5.2]
POWERS = [0.5, -0.5, 2, -1, 0.3, -1.5, 1.5, 3]


def build(rng, eigenvalues):
    """(A, Q, λ) with A = Q diag(λ) Qᵀ, exactly symmetrised; Q and λ are the known decomposition."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    q = random_orthogonal(rng, lam.size)
    a = (q * lam) @ q.T
    return (a + a.T) / 2, q, lam


def scipy_power(a, p):
    return np.real(sl.fractional_matrix_power(a, p))


# (name, spectralcore call, scipy reference, mpmath f, mpmath f′)
FUNCTIONS = {
    "sqrt": (
        lambda a: sc.vjp(sc.matrix_power, a, 0.5),
        lambda a: scipy_power(a, 0.5),
        mpmath.sqrt,
        lambda x: 1 / (2 * mpmath.sqrt(x)),
    ),
    "invsqrt": (
        lambda a: sc.vjp(sc.matrix_power, a, -0.5),
        lambda a: scipy_power(a, -0.5),
        lambda x: x ** mpmath.mpf(-0.5),
        lambda x: mpmath.mpf(-0.5) * x ** mpmath.mpf(-1.5),
    ),
    "pow0.3": (
        lambda a: sc.vjp(sc.matrix_power, a, 0.3),
        lambda a: scipy_power(a, 0.3),
        lambda x: x ** mpmath.mpf(0.3),
        lambda x: mpmath.mpf(0.3) * x ** mpmath.mpf(-0.7),
    ),
    "pow-1.5": (
        lambda a: sc.vjp(sc.matrix_power, a, -1.5),
        lambda a: scipy_power(a, -1.5),
        lambda x: x ** mpmath.mpf(-1.5),
        lambda x: mpmath.mpf(-1.5) * x ** mpmath.mpf(-2.5),
    ),
    # integer powers: λ² and 1/λ in closed form, λ³ by divided differences
    "square": (lambda a: sc.vjp(sc.matrix_power, a, 2), lambda a: a @ a, lambda x: x * x, lambda x: 2 * x),
    "inverse": (lambda a: sc.vjp(sc.matrix_power, a, -1), np.linalg.inv, lambda x: 1 / x, lambda x: -1 / (x * x)),
    "cube": (lambda a: sc.vjp(sc.matrix_power, a, 3), lambda a: a @ a @ a, lambda x: x**3, lambda x: 3 * x * x),
    "log": (
        lambda a: sc.vjp(sc.matrix_function, a, np.log, lambda x: 1 / x),
        lambda a: np.real(sl.logm(a)),
        mpmath.log,
        lambda x: 1 / x,
    ),
    "exp": (lambda a: sc.vjp(sc.matrix_function, a, np.exp, np.exp), sl.expm, mpmath.exp, mpmath.exp),
    # logm and expm: their Γ in closed form (log1p, expm1), where matrix_function's is generic
    "logm": (lambda a: sc.vjp(sc.logm, a), lambda a: np.real(sl.logm(a)), mpmath.log, lambda x: 1 / x),
    "expm": (lambda a: sc.vjp(sc.expm, a), sl.expm, mpmath.exp, mpmath.exp),
}


def dk_closed_form(q, lam, g, f, df, dps=40):
    """Q (Γ ∘ (Qᵀ sym(G) Q)) Qᵀ, Γ_ij = (f(λi) − f(λj))/(λi − λj), Γ_ii = f′(λi), in mpmath."""
    with mpmath.workdps(dps):
        n = len(lam)
        lm = [mpmath.mpf(float(x)) for x in lam]
        Q = mpmath.matrix(np.asarray(q, dtype=np.float64).tolist())
        Gs = mpmath.matrix(((np.asarray(g, np.float64) + np.asarray(g, np.float64).T) / 2).tolist())
        M = Q.T * Gs * Q
        for i in range(n):
            for j in range(n):
                gamma = df(lm[i]) if lm[i] == lm[j] else (f(lm[i]) - f(lm[j])) / (lm[i] - lm[j])
                M[i, j] *= gamma
        return np.array((Q * M * Q.T).tolist(), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# 1. forward vs SciPy, DK VJP vs finite differences, batching


@pytest.mark.parametrize("p", POWERS)
def test_matrix_power_forward_and_vjp(rng, p):
    a, _, _ = build(rng, SEPARATED)
    g = rng.standard_normal(a.shape)
    out, pullback = sc.vjp(sc.matrix_power, a, p)
    assert rel_err(out, scipy_power(a, p)) < 1e-12
    assert rel_err(sc.matrix_power(a, p), scipy_power(a, p)) < 1e-12
    expected = fd_gradient(lambda x: float(np.sum(g * scipy_power(x, p))), a, h=1e-5)
    assert rel_err(pullback(g), expected) < 1e-8  # measured 2e-11 .. 7e-10


@pytest.mark.parametrize("name", ["log", "exp"])
def test_matrix_function_forward_and_vjp(rng, name):
    call, scipy_fn, _, _ = FUNCTIONS[name]
    a, _, _ = build(rng, SEPARATED)
    g = rng.standard_normal(a.shape)
    out, pullback = call(a)
    assert rel_err(out, scipy_fn(a)) < 1e-12
    expected = fd_gradient(lambda x: float(np.sum(g * np.real(scipy_fn(x)))), a, h=1e-5)
    assert rel_err(pullback(g), expected) < 1e-8  # measured 4e-11 (exp), 1.4e-10 (log)


def test_sqrt_forward_matches_sqrtm(rng):
    a, _, _ = build(rng, SEPARATED)
    assert rel_err(sc.matrix_power(a, 0.5), np.real(sl.sqrtm(a))) < 1e-12


def test_fractional_powers_of_a_singular_covariance(rng):
    """A rank-2 covariance in 6 channels: its zero eigenvalues come out of the eigensolver within
    rounding of 0, some below it, and check=True accepts it. A^½ and A^1.5 are then numbers equal
    to SciPy's (they gave NaN: λ^p of a rounding-negative λ), as sqrtm's are; an A with an
    eigenvalue clearly below 0 gives NaN with check=False, not the power of a clipped spectrum."""
    x = rng.standard_normal((6, 2))
    a = x @ x.T
    assert np.linalg.eigvalsh(a).min() < 0  # rounding below zero: the case at stake (seeded)
    for p in (0.5, 1.5):
        expected = np.real(sl.fractional_matrix_power(a, p))
        assert rel_err(sc.matrix_power(a, p), expected) < 1e-7
    assert rel_err(sc.matrix_power(a, 0.5), sc.sqrtm(a)) < 1e-12
    indefinite = random_orthogonal(rng, 3) @ np.diag([-0.5, 1.0, 2.0]) @ random_orthogonal(rng, 3).T
    indefinite = (indefinite + indefinite.T) / 2
    with np.errstate(invalid="ignore"):
        assert np.isnan(sc.matrix_power(indefinite, 0.5, check=False)).all()
        assert np.isnan(sc.sqrtm(indefinite, check=False)).all()


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_batched_equals_loop(rng, name):
    call, _, _, _ = FUNCTIONS[name]
    a = np.stack([build(rng, np.array(SEPARATED) * s)[0] for s in (0.6, 1.0, 1.4)])
    g = rng.standard_normal(a.shape)
    out, pullback = call(a)
    grad = pullback(g)
    assert out.shape == grad.shape == (3, 5, 5)
    for k in range(3):
        out_k, pullback_k = call(a[k])
        np.testing.assert_allclose(out[k], out_k, rtol=1e-12, atol=1e-12 * np.abs(out_k).max())
        grad_k = pullback_k(g[k])
        np.testing.assert_allclose(grad[k], grad_k, rtol=1e-12, atol=1e-12 * np.abs(grad_k).max())


def test_batched_public_call_equals_loop(rng):
    a = np.stack([build(rng, np.array(SEPARATED) * s)[0] for s in (0.6, 1.0, 1.4)])
    out = sc.matrix_function(a, np.log, lambda x: 1 / x)
    for k in range(3):
        assert rel_err(out[k], np.real(sl.logm(a[k]))) < 1e-12


# ---------------------------------------------------------------------------------------------
# 2. near ties and exact ties: finite and equal to the DK closed form (mpmath)

NEAR = [0.7, 1.3, 1.3 * (1 + 1e-9), 2.9, 2.9 * (1 + 1e-9)]
TRIPLE = [1.0, 1.0, 1.0, 2.0, 3.0]
TOL = {np.float64: 1e-10, np.float32: 1e-5}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("spectrum", ["near", "triple", "cI"])
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_ties_match_closed_form(rng, name, spectrum, dtype):
    call, _, f, df = FUNCTIONS[name]
    if spectrum == "cI":
        lam, q = np.full(5, 1.7), np.eye(5)
        a = 1.7 * np.eye(5)
    else:
        a, q, lam = build(rng, NEAR if spectrum == "near" else TRIPLE)
    g = symmetric(rng, 5)
    expected = dk_closed_form(q, lam, g, f, df)
    _, pullback = call(a.astype(dtype))
    grad = pullback(g.astype(dtype))
    assert grad.dtype == dtype
    assert np.all(np.isfinite(grad))
    # measured (this seed): float64 6e-17 .. 1.7e-15; float32 3e-8 .. 2.6e-7
    assert rel_err(grad, expected) < TOL[dtype]


CLOSED_GAMMA_PAIRS = {  # f: eigenvalue pairs (λi, λj): ties, near ties, wide gaps, the ends of the range
    "log": (
        POSITIVE := [
            (1.0, 1.0),
            (1.0, 1.0 + 2e-16),
            (3.0, 3.0 * (1 + 1e-9)),
            (1.0, 1.001),
            (0.5, 2.0),
            (1e-20, 1.0),
            (1e-150, 1e150),
            (7e-8, 7.5e-8),
            (2.0, 1e-12),
        ]
    ),
    # λ^p, p non-integer: a zero eigenvalue against a positive one where λ^p is finite at 0
    **{f"pow{p}": POSITIVE + [(0.0, 2.0), (3.0, 0.0)] * (p > 0) for p in (0.3, -0.7, 1.5, -1.5, 2.5)},
    # integer powers: eigenvalues of both signs
    **dict.fromkeys(
        ("square", "reciprocal"),
        [(1.0, 1.0), (1.0, 1.0 + 2e-16), (-2.0, 3.0), (-3.0, -3.0 * (1 + 1e-9)), (0.5, -0.5), (1e-150, 1e150)],
    ),
    "exp": [
        (0.0, 0.0),
        (1.0, 1.0 + 2e-16),
        (-3.0, -3.0 + 1e-9),
        (0.0, 1e-3),
        (-1.0, 2.0),
        (-800.0, 700.0),
        (700.0, 699.0),
        (-745.0, -700.0),
        (30.0, -30.0),
    ],
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", CLOSED_GAMMA_PAIRS)
def test_closed_form_gamma(name, dtype):
    """logm's, expm's and matrix_power's (non-integer p, p = 2 and −1) Γ_ij = (f(λi) − f(λj))/(λi − λj) (f′ at
    ties), from log1p and expm1,
    within 8 ε of mpmath's value of the pair as stored (50 digits) at every gap: ties, a gap of
    one ulp, wide gaps (1e-20 against 1, where a difference quotient of logs is fine but x → −1
    in log1p would not be; 1e-150 against 1e150; −800 against 700, where e^{λj} underflows); in
    float32 the pairs that fit it; λ^p of 0 against 3, M^{p−1}. A zero eigenvalue gives log's
    Γ = ∞ (f′(0) = ∞), a pair of both signs NaN."""
    from spectralcore.spectral import (
        half_exp_gamma,
        half_log_gamma,
        half_power_gamma,
        half_reciprocal_gamma,
        half_square_gamma,
    )

    if name.startswith("pow"):
        p = float(name[3:])
        half_gamma, f, df = (
            lambda xp, w: half_power_gamma(xp, w, p),
            lambda x: x ** mpmath.mpf(p),
            lambda x: p * x ** mpmath.mpf(p - 1),
        )
    else:
        half_gamma, f, df = {
            "log": (half_log_gamma, mpmath.log, lambda x: 1 / x),
            "exp": (half_exp_gamma, mpmath.exp, mpmath.exp),
            "square": (half_square_gamma, lambda x: x * x, lambda x: 2 * x),
            "reciprocal": (half_reciprocal_gamma, lambda x: 1 / x, lambda x: -1 / (x * x)),
        }[name]
    info = np.finfo(dtype)
    tiny, huge = float(info.tiny), float(info.max)
    for pair in CLOSED_GAMMA_PAIRS[name]:
        values = list(pair) + [float(f(mpmath.mpf(x))) for x in pair]
        if not all(tiny < abs(x) < huge or x == 0 for x in values):
            continue  # the pair or its f is outside dtype's range
        w = np.asarray(pair, dtype=dtype)
        with mpmath.workdps(50):
            a, b = (mpmath.mpf(float(x)) for x in w)
            exact = df(a) if a == b else (f(a) - f(b)) / (a - b)
        # f′(λ)/2 is computed for every λ, used at ties: ∞ at λ = 0 for p < 1, and λ^{p−1} of 1e-150
        # overflows for p = −1.5 (fine elsewhere: the pair is no tie)
        with np.errstate(divide="ignore", over="ignore"):
            gamma = 2 * half_gamma(np, w)
        assert gamma.dtype == dtype
        assert np.allclose(gamma, gamma.T, rtol=0, atol=0), pair
        got = float(gamma[0, 1])
        assert abs(got - float(exact)) <= 8 * info.eps * abs(float(exact)), (pair, got, float(exact))
    if name == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma = 2 * half_log_gamma(np, np.asarray([0.0, 1.0], dtype=dtype))
        assert gamma[0, 0] == gamma[0, 1] == gamma[1, 0] == np.inf and gamma[1, 1] == 1
        with np.errstate(invalid="ignore"):  # eigenvalues of both signs: NaN off the diagonal
            assert np.isnan(2 * half_log_gamma(np, np.asarray([-1.0, 0.5], dtype=dtype))[0, 1])


def test_cI_gradient_is_fprime_times_G(rng):
    """At A = c I every Γ_ij is f′(c): the gradient is f′(c) sym(G) (here exactly)."""
    g = symmetric(rng, 4)
    for p in (0.5, -0.5, 0.3):
        _, pullback = sc.vjp(sc.matrix_power, 2.5 * np.eye(4), p)
        assert rel_err(pullback(g), p * 2.5 ** (p - 1) * g) < 1e-14


# ---------------------------------------------------------------------------------------------
# 2b. divided differences at a moderate gap: the Simpson branch is used for gaps up to
# τ·max|λ| (τ = (100 ε)^{1/5} ≈ 1.86e-3 in float64, 0.104 in float32), and its error
# h⁴ f⁽⁵⁾/2880 is not relative for f = exp: it grows like h⁴ with the absolute gap h.


@pytest.mark.parametrize(
    "dtype, eigenvalues, measured",
    [
        (np.float64, [1.0, 2.0, 50.0, 50.08], "8.4e-9"),
        (np.float32, [1.0, 2.0, 10.0, 11.0], "2.3e-4"),
    ],
    ids=["f64", "f32"],
)
def test_exp_divided_difference_at_moderate_gap(rng, dtype, eigenvalues, measured):
    a, q, lam = build(rng, eigenvalues)
    g = symmetric(rng, len(lam))
    expected = dk_closed_form(q, lam, g, mpmath.exp, mpmath.exp)
    _, pullback = sc.vjp(sc.matrix_function, a.astype(dtype), np.exp, np.exp)
    err = rel_err(pullback(g.astype(dtype)), expected)
    # documented: relative error about 1e-13 (float64), 1e-6 (float32)
    assert err < TOL[dtype], f"relative error {err:.2g} (measured ≈ {measured})"


# ---------------------------------------------------------------------------------------------
# 3. the motivating comparison: √A through eigh's eigenvector rule at a triple eigenvalue


def test_sqrt_through_eigh_is_wrong_at_triple_eigenvalue_dk_is_exact(rng):
    torch = pytest.importorskip("torch")
    a, q, lam = build(rng, TRIPLE)
    g = symmetric(rng, 5)
    expected = dk_closed_form(q, lam, g, mpmath.sqrt, lambda x: 1 / (2 * mpmath.sqrt(x)))
    # independent check of the closed form: finite differences of scipy.linalg.sqrtm
    fd = fd_gradient(lambda x: float(np.sum(g * np.real(sl.sqrtm(x)))), a)
    assert rel_err(fd, expected) < 1e-7  # measured 1.8e-9

    # torch autograd of V diag(√w) Vᵀ through torch.linalg.eigh
    at = torch.tensor(a, requires_grad=True)
    w, v = torch.linalg.eigh(at)
    ((v * torch.sqrt(w)) @ v.mT * torch.tensor(g)).sum().backward()
    g_torch = at.grad.numpy()
    g_torch = (g_torch + g_torch.T) / 2
    err_torch = rel_err(g_torch, expected) if np.all(np.isfinite(g_torch)) else np.inf
    assert err_torch > 0.05  # measured 0.19 here; 0.10 .. 0.53 over seeds 0-7

    # spectralcore's eigenvector path (clip with T = 1e300: 1/(λj − λi) everywhere but exact ties)
    _, pullback = sc.vjp(sc.matrix_power, a, 0.5, backward="clip", threshold=1e300)
    g_clip = pullback(g)
    err_clip = rel_err(g_clip, expected) if np.all(np.isfinite(g_clip)) else np.inf
    assert err_clip > 0.05  # measured 0.24 here; 0.28 .. 0.62 over seeds 0-7

    # Daleckii–Krein: exact
    _, pullback = sc.vjp(sc.matrix_power, a, 0.5)
    assert rel_err(pullback(g), expected) < 1e-13  # measured 8.9e-16


def test_eigenvector_path_is_exact_on_separated_spectrum(rng):
    """Sanity of the eigenvector route itself: away from ties it agrees with DK / FD."""
    a, q, lam = build(rng, SEPARATED)
    g = symmetric(rng, 5)
    expected = dk_closed_form(q, lam, g, mpmath.sqrt, lambda x: 1 / (2 * mpmath.sqrt(x)))
    _, pullback = sc.vjp(sc.matrix_power, a, 0.5, backward="clip", threshold=1e300)
    assert rel_err(pullback(g), expected) < 1e-12


# ---------------------------------------------------------------------------------------------
# 4. degenerate-safe on both sides of its claim


MIDDLE_TRIPLE = [0.5, 2.0, 2.0, 2.0, 4.0]
BLOCK = slice(1, 4)


def test_degenerate_safe_projector_loss_is_exact(rng):
    a, _, _ = build(rng, MIDDLE_TRIPLE)
    g = symmetric(rng, 5)

    def loss(x):
        _, v = np.linalg.eigh(x)
        vb = v[:, BLOCK]
        return float(np.sum(g * (vb @ vb.T)))

    (w, v), pullback = sc.vjp(sc.eigh, a, backward="degenerate-safe")
    gV = np.zeros_like(v)
    gV[:, BLOCK] = (g + g.T) @ v[:, BLOCK]  # ∂⟨G, V_b V_bᵀ⟩/∂V_b
    grad = pullback((None, gV))
    assert np.all(np.isfinite(grad))
    assert rel_err(grad, fd_gradient(loss, a)) < 1e-8  # measured 8.5e-10


def test_degenerate_safe_eigenvalue_loss_is_exact(rng):
    a, q, lam = build(rng, MIDDLE_TRIPLE)
    (w, v), pullback = sc.vjp(sc.eigh, a, backward="degenerate-safe")
    grad = pullback((1 / (2 * np.sqrt(w)), None))
    fd = fd_gradient(lambda x: float(np.sum(np.sqrt(np.linalg.eigvalsh(x)))), a)
    assert rel_err(grad, fd) < 1e-8  # measured 1.6e-9
    assert rel_err(grad, (q / (2 * np.sqrt(lam))) @ q.T) < 1e-13  # ½ A^{-1/2}; measured 6.5e-16


def test_degenerate_safe_is_not_exact_for_sqrt_through_eigh_at_identity(rng):
    n = 4
    a = np.eye(n)
    g = symmetric(rng, n)
    np.fill_diagonal(g, 0.0)
    true = fd_gradient(lambda x: float(np.sum(g * np.real(sl.sqrtm(x)))), a)
    assert rel_err(true, g / 2) < 1e-8  # the true gradient is G/2 (FD: 1.7e-10)

    # ⟨G, V √Λ Vᵀ⟩ differentiated through eigh with degenerate-safe: cotangents by hand
    (w, v), pullback = sc.vjp(sc.eigh, a, backward="degenerate-safe")
    gw = np.sum(v * (g @ v), axis=0) / (2 * np.sqrt(w))
    gV = ((g + g.T) @ v) * np.sqrt(w)
    through_eigh = pullback((gw, gV))
    assert np.abs(through_eigh).max() == 0.0  # 0 instead of G/2 (relative error 1)
    assert rel_err(through_eigh, g / 2) == pytest.approx(1.0)

    # the same through sc.matrix_power's eigenvector path
    _, pullback = sc.vjp(sc.matrix_power, a, 0.5, backward="degenerate-safe")
    assert np.abs(pullback(g)).max() == 0.0

    # Daleckii–Krein gives G/2
    _, pullback = sc.vjp(sc.matrix_power, a, 0.5)
    assert rel_err(pullback(g), g / 2) < 1e-15
