"""sc.sqrtm / sc.invsqrtm: forwards and backwards against independent float64 references.

References used here (none of them calls spectralcore):
* scipy.linalg.sqrtm (Schur method) and its inverse for the forward values;
* central finite differences of scipy.linalg.sqrtm (reference.fd_gradient, Richardson-
  extrapolated: (4 D(h) − D(2h)) / 3, h = 2e-3, accurate to ~1e-11 here) for gradients;
* scipy.linalg.solve_sylvester(S, S, G) — the Lyapunov equation S X + X S = G that
  defines the exact sqrtm gradient — for the larger matrices where FD would be slow;
* closed forms at a diagonal input: gA_ij = G_ij / (√λi + √λj);
* a plain NumPy coupled Newton–Schulz iteration (written below) for the NS method.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import spectralcore as sc
from reference import covariance, fd_gradient, rel_err, symmetric, with_spectrum

FORWARDS = ["eigh", "mtp", "mpa", "newton-schulz"]
NORMALIZE = ["spectral", "frobenius"]
MACHINE_FLOOR = 1e-13  # below this an error sequence is at rounding level and need not decrease


# ---------------------------------------------------------------- independent references


def ref_sqrtm(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 3:
        return np.stack([ref_sqrtm(x) for x in a])
    return np.real(sla.sqrtm(a))


def ref_invsqrtm(a: np.ndarray) -> np.ndarray:
    return np.linalg.inv(ref_sqrtm(a))


def fd(loss, a: np.ndarray, h: float = 2e-3) -> np.ndarray:
    """Richardson-extrapolated central differences (O(h⁴)) built on reference.fd_gradient."""
    return (4 * fd_gradient(loss, a, h) - fd_gradient(loss, a, 2 * h)) / 3


def fd_sqrtm_grad(a: np.ndarray, g: np.ndarray, inverse: bool = False) -> np.ndarray:
    f = ref_invsqrtm if inverse else ref_sqrtm
    return fd(lambda x: float(np.sum(g * f(x))), a)


def sylvester_grad(a: np.ndarray, g: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Exact gradient of <G, A^{±1/2}>: S X + X S = G (sqrtm), with G → −W G W (invsqrtm)."""
    s = ref_sqrtm(a)
    if inverse:
        w = np.linalg.inv(s)
        g = -(w @ g @ w)
    return sla.solve_sylvester(s, s, g)


def numpy_newton_schulz(a: np.ndarray, c: float, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Coupled NS with a fixed scale c: returns (√c Y_K, Z_K/√c) ≈ (A^{1/2}, A^{-1/2})."""
    eye = np.eye(a.shape[-1])
    y, z = a / c, eye
    for _ in range(iterations):
        t = (3 * eye - z @ y) / 2
        y, z = y @ t, t @ z
    return np.sqrt(c) * y, z / np.sqrt(c)


def numpy_scale(a: np.ndarray, normalize: str) -> float:
    """c = ‖A‖_F ("frobenius") or ‖A¹⁶‖_F^{1/16} ("spectral": 4 squarings, normalize.py)."""
    if normalize == "frobenius":
        return float(np.linalg.norm(a))
    return float(np.linalg.norm(np.linalg.matrix_power(a, 16)) ** (1 / 16))


def grad(a, g, inverse=False, **kwargs):
    _, pullback = sc.vjp(sc.invsqrtm if inverse else sc.sqrtm, a, **kwargs)
    return pullback(g)


def assert_decreasing(errors, floor=MACHINE_FLOOR):
    """Strictly decreasing until the error reaches rounding level."""
    for k in range(len(errors) - 1):
        if errors[k] > floor:
            assert errors[k + 1] < errors[k], f"error did not decrease at step {k}: {errors}"


# ---------------------------------------------------------------- inputs


@pytest.fixture
def batch(rng):
    """(3, 8, 8) SPD, spectra evenly spread over [1, 2], [1, 3], [1, 4] (condition ≤ 4)."""
    return np.stack([with_spectrum(rng, np.linspace(1.0, top, 8)) for top in (2.0, 3.0, 4.0)])


def _worst(x, ref):
    return max(rel_err(x[i], ref[i]) for i in range(ref.shape[0]))


# ---------------------------------------------------------------- 1. forwards vs scipy

# (forward, options, tol sqrtm, tol invsqrtm); measured worst-of-batch errors in comments.
FORWARD_CASES = [
    ("eigh", {}, 1e-12, 1e-12),  # 2.1e-15, 1.7e-15
    ("mtp", {}, 1e-3, 1.5e-2),  # degree 11: 3.1e-4, 4.8e-3
    ("mpa", {}, 1e-5, 2e-5),  # [5/5]: 2.5e-6, 5.8e-6
    ("newton-schulz", {}, 1e-6, 2e-6),  # 5 its: 2.8e-7, 6.3e-7
    ("mtp", {"degree": 100}, 1e-13, 1e-13),  # 1.7e-15, 1.5e-14
    ("mpa", {"m": 12, "n": 12}, 1e-11, 1e-11),  # 6.4e-13, 1.4e-12
    ("newton-schulz", {"iterations": 10}, 1e-13, 1e-13),  # 1.7e-15, 1.7e-15
]


@pytest.mark.parametrize(
    "forward, options, tol_s, tol_w", FORWARD_CASES, ids=[f"{f}-{o}" for f, o, *_ in FORWARD_CASES]
)
def test_forward_matches_scipy_batched(batch, forward, options, tol_s, tol_w):
    s = sc.sqrtm(batch, forward=forward, **options)
    w = sc.invsqrtm(batch, forward=forward, **options)
    assert s.shape == w.shape == batch.shape
    assert s.dtype == w.dtype == np.float64
    assert _worst(s, ref_sqrtm(batch)) < tol_s
    assert _worst(w, ref_invsqrtm(batch)) < tol_w


# ---------------------------------------------------------------- 2. convergence in order


@pytest.mark.parametrize("normalize", NORMALIZE)
@pytest.mark.parametrize("inverse", [False, True], ids=["sqrtm", "invsqrtm"])
@pytest.mark.parametrize(
    "forward, option, values",
    [
        ("mtp", "degree", [4, 8, 16, 32]),
        ("mpa", "m=n", [1, 2, 3, 4, 5, 6]),
        ("newton-schulz", "iterations", [2, 3, 4, 5, 6, 7, 8]),
    ],
)
def test_forward_error_falls_with_order(batch, forward, option, values, inverse, normalize):
    fn, ref = (sc.invsqrtm, ref_invsqrtm(batch)) if inverse else (sc.sqrtm, ref_sqrtm(batch))
    errors = []
    for v in values:
        opts = {"m": v, "n": v} if option == "m=n" else {option: v}
        errors.append(rel_err(fn(batch, forward=forward, normalize=normalize, **opts), ref))
    assert_decreasing(errors)
    # the whole sweep gains at least two orders of magnitude (measured: ≥ 3, e.g. NS 1e-1 → 2e-15)
    assert errors[-1] < 1e-2 * errors[0]


# ---------------------------------------------------------------- 3. exact backward vs FD


@pytest.mark.parametrize(
    "spectrum", [[1.0, 1.4, 1.8, 2.2, 2.6, 3.0], [1.0, 1.0, 1.0, 2.0, 3.0]], ids=["distinct", "repeated"]
)
@pytest.mark.parametrize("inverse", [False, True], ids=["sqrtm", "invsqrtm"])
def test_exact_backward_matches_fd(rng, spectrum, inverse):
    a = with_spectrum(rng, spectrum)
    g = symmetric(rng, len(spectrum))
    reference = fd_sqrtm_grad(a, g, inverse)
    # measured 4.9e-12, 8.6e-12, 1.7e-12, 1.5e-11 (FD-limited); the repeated spectrum is a numerical
    # near-tie (gaps ~1e-16)
    assert rel_err(grad(a, g, inverse, backward="exact"), reference) < 1e-8


# ---------------------------------------------------------------- 4. lyapunov backward


@pytest.mark.parametrize("inverse", [False, True], ids=["sqrtm", "invsqrtm"])
def test_lyapunov_converges_to_exact(rng, inverse):
    a = covariance(rng, 32, 128)  # condition ~8.5
    g = symmetric(rng, 32)
    reference = sylvester_grad(a, g, inverse)
    errors = [
        rel_err(grad(a, g, inverse, backward="lyapunov", iterations=k, normalize="spectral"), reference)
        for k in (2, 4, 6, 8, 10)
    ]
    # measured (sqrtm): 1.4e-1, 7.5e-3, 3.7e-7, 3.3e-15, 3.3e-15
    assert_decreasing(errors)
    assert errors[-1] < 1e-10
    frob = [
        rel_err(grad(a, g, inverse, backward="lyapunov", iterations=k, normalize="frobenius"), reference)
        for k in (2, 4, 6, 8, 10, 12)
    ]
    # measured (sqrtm): 6.7e-1, 3.6e-1, 7.6e-2, 9.8e-4, 1.7e-10, 3.4e-15 — slower, same limit
    assert_decreasing(frob)
    assert frob[-1] < 1e-10


def test_lyapunov_normalization_gap_64(rng):
    a = covariance(rng, 64, 256)
    g = symmetric(rng, 64)
    reference = sylvester_grad(a, g)
    frob = rel_err(grad(a, g, backward="lyapunov", iterations=8, normalize="frobenius"), reference)
    spec = rel_err(grad(a, g, backward="lyapunov", iterations=8, normalize="spectral"), reference)
    # measured: frobenius 8.6e-3, spectral 4.8e-15
    assert frob > 1e-3
    assert spec < 1e-8


# ---------------------------------------------------------------- 5. newton-schulz backward


@pytest.mark.parametrize("normalize", NORMALIZE)
@pytest.mark.parametrize("inverse", [False, True], ids=["sqrtm", "invsqrtm"])
@pytest.mark.parametrize("iterations", [1, 3, 5, 8])
def test_newton_schulz_backward_is_derivative_of_fixed_scale_iteration(rng, iterations, inverse, normalize):
    a = with_spectrum(rng, np.linspace(1.0, 3.0, 6))
    g = symmetric(rng, 6)
    c = numpy_scale(a, normalize)  # held constant during FD, as the method documents
    idx = 1 if inverse else 0
    fn = sc.invsqrtm if inverse else sc.sqrtm
    # the forward is the same iteration (measured ≤ 2e-16)
    out = fn(a, forward="newton-schulz", iterations=iterations, normalize=normalize)
    assert rel_err(out, numpy_newton_schulz(a, c, iterations)[idx]) < 1e-13
    reference = fd(lambda x: float(np.sum(g * numpy_newton_schulz(x, c, iterations)[idx])), a)
    got = grad(
        a, g, inverse, forward="newton-schulz", backward="newton-schulz", iterations=iterations, normalize=normalize
    )
    assert rel_err(got, reference) < 1e-7  # measured ≤ 8e-12 (FD-limited)


@pytest.mark.parametrize("normalize", NORMALIZE)
@pytest.mark.parametrize("inverse", [False, True], ids=["sqrtm", "invsqrtm"])
def test_newton_schulz_backward_approaches_exact(rng, inverse, normalize):
    a = with_spectrum(rng, np.linspace(1.0, 3.0, 6))
    g = symmetric(rng, 6)
    reference = sylvester_grad(a, g, inverse)
    errors = [
        rel_err(grad(a, g, inverse, backward="newton-schulz", iterations=k, normalize=normalize), reference)
        for k in range(2, 11)
    ]
    # measured (sqrtm, frobenius): 2.6e-1, 1.1e-1, 1.4e-2, 1.6e-4, 1.2e-8, 2.4e-15, ~2e-15 ...
    # (spectral: 1.5e-1, 2.7e-2, 6.2e-4, 1.8e-7, 8.3e-15, 2.1e-15 ...)
    assert_decreasing(errors)
    assert errors[-1] < 1e-12


@pytest.mark.parametrize("inverse", [False, True], ids=["sqrtm", "invsqrtm"])
def test_newton_schulz_backward_reuses_the_forward_steps(rng, inverse):
    """After the newton-schulz forward the backward uses the saved iterates; after another
    forward it runs the iteration itself: the same gradient either way."""
    from spectralcore.plugins.newton_schulz import NewtonSchulzBackward, NewtonSchulzSteps

    a, g = with_spectrum(rng, np.linspace(0.5, 3.0, 6)), symmetric(rng, 6)
    fn = sc.invsqrtm if inverse else sc.sqrtm
    out, residuals = fn.op.forward(np, a, fn.configure(a, forward="newton-schulz", backward="newton-schulz"))
    saved = residuals[-1]
    assert isinstance(saved, NewtonSchulzSteps) and len(saved.steps) == 5
    backward = NewtonSchulzBackward()
    vjp = backward.vjp_inverse if inverse else backward.vjp
    assert rel_err(vjp(np, a, out, g, saved), vjp(np, a, out, g, None)) < 1e-14
    assert (
        rel_err(
            grad(a, g, inverse, forward="newton-schulz", backward="newton-schulz"),
            grad(a, g, inverse, forward="mpa", backward="newton-schulz"),
        )
        < 1e-14
    )


def test_newton_schulz_pair_with_different_options_is_rejected():
    from spectralcore.plugins.newton_schulz import NewtonSchulz, NewtonSchulzBackward

    with pytest.raises(ValueError, match=r"options must agree: forward \{'iterations': 5.*backward \{'iterations': 8"):
        sc.sqrtm(np.eye(3), forward=NewtonSchulz(), backward=NewtonSchulzBackward(iterations=8))


# ---------------------------------------------------------------- 6. eigenvector path


@pytest.mark.parametrize("inverse", [False, True], ids=["sqrtm", "invsqrtm"])
def test_eigenvector_path_exact_on_separated_spectrum(rng, inverse):
    a = with_spectrum(rng, [1.0, 1.5, 2.0, 2.5, 3.0])  # adjacent ratio ≤ 5/6: (5/6)^201 ~ 1e-16
    g = symmetric(rng, 5)
    reference = fd_sqrtm_grad(a, g, inverse)
    # measured: 2.4e-12 (sqrtm), 8.9e-12 (invsqrtm) for both
    assert rel_err(grad(a, g, inverse, backward="taylor", degree=200, eps=0.0), reference) < 1e-9
    assert rel_err(grad(a, g, inverse, backward="pade"), reference) < 1e-9
    # the default Taylor (degree 9, eps 1e-2) is a truncation, not exact: measured 6.4e-2, 3.3e-2
    assert rel_err(grad(a, g, inverse, backward="taylor"), reference) > 1e-2


@pytest.mark.parametrize("inverse", [False, True], ids=["sqrtm", "invsqrtm"])
def test_exact_ties_eigenvector_path_fails_sqrtm_exact_does_not(rng, inverse):
    lam = np.array([1.0, 1.0, 1.0, 2.0, 3.0])
    a = np.diag(lam)  # eigh returns exactly tied eigenvalues
    g = symmetric(rng, 5)
    s = np.sqrt(lam)
    si, sj = s[:, None], s[None, :]
    closed = -g / (si * sj * (si + sj)) if inverse else g / (si + sj)
    reference = fd_sqrtm_grad(a, g, inverse)
    assert rel_err(closed, reference) < 1e-9  # the closed form itself vs FD: 2.7e-12 / 2.8e-11

    with np.errstate(all="ignore"):
        path = grad(a, g, inverse, backward=sc.methods.Exact())  # eigh "exact" through (w, V)
    assert not np.all(np.isfinite(path))

    exact = grad(a, g, inverse, backward="exact")  # the sqrtm-specific Daleckii–Krein rule
    assert np.all(np.isfinite(exact))
    assert rel_err(exact, closed) < 1e-12  # measured 4.5e-17 / 5.2e-17
    assert rel_err(exact, reference) < 1e-8  # measured 2.7e-12 / 2.8e-11


# ---------------------------------------------------------------- 7. dtypes


@pytest.mark.parametrize("forward", FORWARDS)
@pytest.mark.parametrize("backward", ["exact", "lyapunov", "newton-schulz", "taylor"])
def test_float32_output_and_gradient(rng, forward, backward):
    a = with_spectrum(rng, [1.0, 1.5, 2.0, 2.5, 3.0])
    g = symmetric(rng, 5)
    a32, g32 = a.astype(np.float32), g.astype(np.float32)
    for inverse in (False, True):
        out, pullback = sc.vjp(sc.invsqrtm if inverse else sc.sqrtm, a32, forward=forward, backward=backward)
        ga = pullback(g32)
        assert out.dtype == np.float32 and ga.dtype == np.float32
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(ga))


def test_float32_eigh_exact_accuracy(rng):
    a = with_spectrum(rng, [1.0, 1.5, 2.0, 2.5, 3.0])
    g = symmetric(rng, 5)
    out, pullback = sc.vjp(sc.sqrtm, a.astype(np.float32))
    ga = pullback(g.astype(np.float32))
    assert rel_err(out, ref_sqrtm(a)) < 1e-6  # measured 3.7e-8
    assert rel_err(ga, fd_sqrtm_grad(a, g)) < 1e-5  # measured 1.5e-7


@pytest.mark.parametrize(
    "forward, options",
    [
        ("eigh", {}),
        ("mtp", {}),
        ("mpa", {}),
        ("newton-schulz", {}),
        ("newton-schulz", {"iterations": 8}),
    ],
)
def test_float16_in_float16_out_computed_in_float32(rng, forward, options):
    a16 = with_spectrum(rng, [1.0, 1.5, 2.0, 2.5, 3.0]).astype(np.float16)
    exact = ref_sqrtm(a16.astype(np.float64))
    s = sc.sqrtm(a16, forward=forward, **options)
    w = sc.invsqrtm(a16, forward=forward, **options)
    assert s.dtype == np.float16 and w.dtype == np.float16
    # measured: s 1.7e-4..2.1e-4; w 2.0e-4 (1.2e-3 for mtp, its degree-11 truncation)
    assert rel_err(s, exact) < 1e-3 and rel_err(w, np.linalg.inv(exact)) < 3e-3
    _, pullback = sc.vjp(sc.sqrtm, a16, forward=forward, **options)
    assert pullback(np.eye(5, dtype=np.float16)).dtype == np.float16
    if forward == "eigh" or options:
        # converged methods: every entry within one float16 ulp of the float64 truth, which
        # float16 arithmetic (ε = 9.8e-4 per operation) would not reach; measured rel 2e-4
        for out, ref in ((s, exact), (w, np.linalg.inv(exact))):
            ulp = np.spacing(np.abs(ref).astype(np.float16)).astype(np.float64)
            assert np.all(np.abs(out.astype(np.float64) - ref) <= ulp)


@pytest.mark.parametrize("forward", ["eigh", "mpa", "mtp", "newton-schulz"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_square_root_of_the_zero_matrix_is_zero(forward, dtype):
    """c = 1 divides a zero matrix, but scaling back uses ‖A‖ = 0: exactly 0, not P(1)/Q(1)."""
    Z = np.zeros((2, 4, 4), dtype=dtype)
    S = sc.sqrtm(Z, forward=forward)
    assert S.dtype == dtype and np.array_equal(S, np.zeros_like(Z))
    with pytest.raises(sc.SpectralError, match="invsqrtm .* needs a positive definite `A`"):
        sc.invsqrtm(Z, forward=forward)
    with np.errstate(divide="ignore", invalid="ignore"):
        W = sc.invsqrtm(Z, forward=forward, check=False)
    assert not np.any(np.isfinite(np.diagonal(W, axis1=-2, axis2=-1)))  # outside the domain: not a number
