"""Bad input gets an error naming the argument, the expected and the actual value."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import spectralcore as sc
from reference import with_spectrum


@pytest.fixture
def a(rng):
    return with_spectrum(rng, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("op", [sc.eigh, sc.sqrtm, sc.invsqrtm])
def test_wrong_ndim(op):
    with pytest.raises(sc.SpectralError, match=r"`A` must have shape \(\.\.\., n, n\).*got ndim=1"):
        op(np.ones(3))


def test_not_square():
    with pytest.raises(sc.SpectralError, match=r"square.*got shape \(2, 3, 4\)"):
        sc.eigh(np.ones((2, 3, 4)))


@pytest.mark.parametrize("dtype", [np.int64, np.complex128, np.bool_])
def test_wrong_dtype(a, dtype):
    with pytest.raises(sc.SpectralError, match=f"real floating dtype.*got {np.dtype(dtype)}"):
        sc.sqrtm(a.astype(dtype))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite(a, bad):
    a[0, 0] = bad
    with pytest.raises(sc.SpectralError, match="`A` must be finite, got 1 non-finite"):
        sc.eigh(a)


def test_asymmetric_with_opt_out(a):
    a[0, 1] += 1e-3
    with pytest.raises(sc.SpectralError, match=r"`A` must be symmetric.*got 0\.001.*check=False"):
        sc.eigh(a)
    w, _ = sc.eigh(a, check=False)  # the check is skippable for speed
    assert w.shape == (3,)


def test_rounding_level_asymmetry_is_accepted(rng):
    x = rng.standard_normal((20, 50)).astype(np.float32)
    sc.sqrtm(x @ x.T)  # float32 products are not exactly symmetric; must not be rejected


def test_unknown_method_lists_available(a):
    with pytest.raises(
        sc.SpectralError,
        match="unknown backward method 'tailor'.*available: clip, degenerate-safe, exact, lorentzian, pade",
    ):
        sc.eigh(a, backward="tailor")
    with pytest.raises(sc.SpectralError, match="available: .*lyapunov.*taylor"):
        sc.sqrtm(a, backward="nope")


def test_unknown_option_lists_valid_ones(a):
    with pytest.raises(
        sc.SpectralError,
        match=r"unknown option\(s\) 'degre' for eigh; valid options: "
        r"forward 'eigh': solver='auto'; backward 'taylor': degree=9, eps=0\.01",
    ):
        sc.eigh(a, backward="taylor", degre=9)


def test_invalid_option_value_names_method_and_option(a):
    with pytest.raises(ValueError, match="eigh-backward method 'taylor': option `degree` must be an int >= 0, got -1"):
        sc.eigh(a, backward="taylor", degree=-1)
    with pytest.raises(ValueError, match="option `normalize` must be one of .*got 'max'"):
        sc.sqrtm(a, forward="mpa", normalize="max")


def test_method_of_wrong_kind(a):
    with pytest.raises(sc.SpectralError, match="`forward` must be a eigh-forward method, got Taylor"):
        sc.eigh(a, forward=sc.methods.Taylor())


def test_cotangent_shape(a):
    _, pullback = sc.vjp(sc.sqrtm, a)
    with pytest.raises(sc.SpectralError, match=r"cotangent `sqrtm` must have shape \(3, 3\).*got \(3,\)"):
        pullback(np.ones(3))


def test_vjp_of_non_op():
    with pytest.raises(sc.SpectralError, match="vjp expects a spectralcore op"):
        sc.vjp(np.linalg.eigh, np.eye(2))


# ------------------------------------------------------------------ misuse: raised when the call is made
@pytest.mark.parametrize(
    "call,message",
    [
        (lambda A: sc.eigh(A, backward="taylor", eps="big"), r"option `eps` must be a real number, got 'big' \(str\)"),
        (lambda A: sc.eigh(A, backward="taylor", degree=True), r"option `degree` must be an int, got True \(bool\)"),
        (lambda A: sc.sqrtm(A, forward="mpa", m=2.5), r"option `m` must be an int, got 2.5"),
        (lambda A: sc.eigh(A, backward="degenerate-safe", rtol="x"), r"option `rtol` must be a real number or None"),
        (lambda A: sc.eigh(A, backward="topn", n=True), r"option `n` must be an int or a real number, got True"),
        (lambda A: sc.eigh(A, backward="topn", n=4), r"option `n` must be at most the matrix size 3"),
        (lambda A: sc.sqrtm(A, backward="topn", n=4), r"option `n` must be at most the matrix size 3"),
        (lambda A: sc.eigh(A, check="yes"), r"`check` must be True or False, got 'yes'"),
        (lambda A: sc.matrix_power(A, "x"), r"`p` must be a finite real number, got 'x'"),
        (lambda A: sc.matrix_power(A, float("nan")), r"`p` must be a finite real number, got nan"),
        (lambda A: sc.matrix_function(A, np.log, None), r"`df` must be a callable.*got None"),
        (lambda A: sc.eigh(A, solver="cupy"), r"solver='cupy' needs an array on a CUDA device, got one on cpu"),
    ],
)
def test_misuse_is_an_error_at_the_call(a, call, message):
    with pytest.raises(ValueError, match=message):
        call(a)


def test_numpy_integers_and_floats_are_options(a):
    w, _ = sc.eigh(a, backward="taylor", degree=np.int64(5), eps=np.float32(1e-2))
    np.testing.assert_allclose(w, [1.0, 2.0, 3.0], rtol=1e-12)


@pytest.mark.parametrize("op", [sc.sqrtm, sc.matrix_power])
@pytest.mark.parametrize(
    "bad,message",
    [
        ((1, 2), r"must be an array like A \(numpy.ndarray\) or None, got builtins.tuple"),
        ([np.eye(3)], r"got builtins.list"),
        (1.0, r"got builtins.float"),
        (np.eye(4), r"must have shape \(3, 3\) \(the shape of the output\), got \(4, 4\)"),
    ],
)
def test_pullback_names_the_op_and_the_bad_cotangent(a, op, bad, message):
    _, pullback = sc.vjp(op, a, 0.5) if op is sc.matrix_power else sc.vjp(op, a)
    with pytest.raises(sc.SpectralError, match=f"cotangent `{op.__name__}` .*{message}"):
        pullback(bad)


def test_cotangent_of_another_framework(a):
    torch = pytest.importorskip("torch")
    _, pullback = sc.vjp(sc.sqrtm, a)
    with pytest.raises(sc.SpectralError, match="array like A \\(numpy.ndarray\\) or None, got torch.Tensor"):
        pullback(torch.eye(3, dtype=torch.float64))


def test_eigh_pullback_accepts_none_like_the_others(a):
    _, pullback = sc.vjp(sc.eigh, a)
    assert np.array_equal(pullback(None), np.zeros((3, 3)))


def test_one_sample_has_no_covariance():
    from spectralcore.layers import zca_state, zca_whitening

    with pytest.raises(sc.SpectralError, match="at least 2 samples .* got 1"):
        zca_whitening(np.ones((1, 4)), zca_state(4))


# ------------------------------------------------------------------ definiteness (check=True)
FORWARDS = ["eigh", "mpa", "mtp", "newton-schulz"]


@pytest.mark.parametrize("forward", FORWARDS)
@pytest.mark.parametrize(
    "spectrum,op,lowest",
    [
        ([-1.0, -1.0, -1.0], sc.sqrtm, "-1"),
        ([2.0, 1.0, -1.0, 0.5], sc.sqrtm, "-1"),
        ([2.0, 1.0, -1e-3], sc.sqrtm, "-0.001"),
        ([2.0, 1.0, -1.0, 0.5], sc.invsqrtm, "-1"),
        ([2.0, 1.0, 0.0], sc.invsqrtm, ""),
    ],
)
def test_outside_the_domain_is_an_error_naming_op_method_and_eigenvalue(rng, forward, spectrum, op, lowest):
    A = with_spectrum(rng, spectrum)
    what = "semidefinite" if op is sc.sqrtm else "definite"
    with pytest.raises(
        sc.SpectralError,
        match=rf"{op.__name__} \(forward '{forward}'\) needs a positive {what} "
        rf"`A`: .* got {lowest}",
    ):
        op(A, forward=forward)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rounding_below_zero_is_semidefinite(rng, dtype):
    """−1e-7 λmax (a float32 covariance's rounding) is inside √ε max|λ| in float32; a singular
    covariance computed in float64 has eigenvalues ~1e-16 below zero."""
    x = rng.standard_normal((6, 2))
    cov = (x @ x.T / 2).astype(dtype)
    spectrum = [-1e-7 * 2, 1.0, 2.0] if dtype == np.float32 else [-1e-12, 1.0, 2.0]
    for A in (cov, with_spectrum(rng, spectrum).astype(dtype)):
        assert np.all(np.isfinite(sc.sqrtm(A, forward="newton-schulz")))


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("forward", ["eigh", "newton-schulz"])
def test_semidefinite_tolerance_is_the_forwards_clip(rng, backend, forward):
    """The psd tolerance is √ε max|λ|, the δ below which the forward's clip leaves an eigenvalue
    negative: with A = λ₁ 11ᵀ/n + (its other eigenvalues) max|A| is λ₁/n, so λmin = −½√ε λ₁,
    eight times a √ε max|A| floor, is accepted (and the square root is finite), while −2√ε λ₁
    is an error; both at twice the distance from the floor, on every path (torch's check on the
    forward's eigenvalues, the Cholesky-first one), at every scale."""
    convert, context = _framework(backend, np.float64)
    n, root_eps = 16, np.finfo(np.float64).eps ** 0.5
    ones = np.full((n, 1), n**-0.5)
    basis = np.linalg.qr(np.concatenate([ones, rng.standard_normal((n, n - 1))], axis=1))[0]
    with context:
        for c in (1e-6, 1.0, 1e6):
            for lowest, inside in ((-0.5 * root_eps, True), (-2 * root_eps, False)):
                spectrum = np.concatenate([[1.0, lowest], np.zeros(n - 2)])
                A = c * (basis * spectrum) @ basis.T
                A = convert((A + A.T) / 2)
                assert np.abs(np.asarray(A)).max() < 1.2 * c / n
                if inside:
                    assert np.all(np.isfinite(np.asarray(sc.sqrtm(A, forward=forward))))
                else:
                    with pytest.raises(sc.SpectralError, match=r"positive semidefinite `A`.*max\|eigenvalue\|"):
                        sc.sqrtm(A, forward=forward)


def test_matrix_power_domain_follows_p(rng):
    A = with_spectrum(rng, [2.0, -1.0, 0.5])
    np.testing.assert_allclose(sc.matrix_power(A, 2.0), A @ A, atol=1e-12)  # integer p: any symmetric A
    with pytest.raises(sc.SpectralError, match="matrix_power .* needs a positive semidefinite"):
        sc.matrix_power(A, 0.5)
    with pytest.raises(sc.SpectralError, match="matrix_power .* needs a positive definite"):
        sc.matrix_power(with_spectrum(rng, [2.0, 0.0, 0.5]), -0.5)
    assert np.isnan(sc.matrix_power(A, 0.5, check=False)).any()  # check=False: NaN where A is outside


SINGULAR_OPS = {
    "invsqrtm": sc.invsqrtm,
    "logm": sc.logm,
    "matrix_power(-0.5)": lambda A, **kw: sc.matrix_power(A, -0.5, **kw),
    "matrix_power(-2.5)": lambda A, **kw: sc.matrix_power(A, -2.5, **kw),
}


def _framework(backend, dtype):
    """(convert, context): arrays of ``backend`` and the context they keep ``dtype`` in (JAX: x64)."""
    if backend == "numpy":
        return np.asarray, contextlib.nullcontext()
    mod = pytest.importorskip(backend)
    if backend == "torch":
        return mod.asarray, contextlib.nullcontext()
    return mod.numpy.asarray, mod.enable_x64(dtype == np.float64)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", SINGULAR_OPS)
def test_singular_to_working_precision_is_singular(rng, backend, dtype, op):
    """An eigenvalue that is 0 in exact arithmetic comes out within a few ε λmax of 0, positive
    or negative by the BLAS: below the floor n ε λmax (about 10 × that rounding here) it is an
    error whichever sign it got, at every scale; 1e-3 λmax (float32) or 1e-8 λmax (float64),
    far above the floor, is accepted. Neither verdict depends on rounding."""
    fn, (convert, context) = SINGULAR_OPS[op], _framework(backend, dtype)
    low = 1e-3 if dtype == np.float32 else 1e-8
    with context:
        for c in (1e-8, 1.0, 1e8):
            singular = convert((c * with_spectrum(rng, [5.0, 0.0, 0.5, 2.0])).astype(dtype))
            with pytest.raises(sc.SpectralError, match=r"positive definite `A`: .*singular to working precision"):
                fn(singular)
            fine = convert((c * with_spectrum(rng, [5.0, low * 5.0, 0.5, 2.0])).astype(dtype))
            assert fine.dtype == singular.dtype and str(fine.dtype).endswith(np.dtype(dtype).name)
            assert np.all(np.isfinite(np.asarray(fn(fine))))


def test_definiteness_is_judged_per_matrix(rng):
    """A matrix at scale 1e-8 with an eigenvalue of −0.1 × its own scale is not positive
    semidefinite, next to a matrix of scale 1 in the same batch (a batch-wide tolerance,
    √ε · 1 = 1.5e-8, would have let it through); likewise a singular one at scale 1e-8 beside a
    definite one at scale 1 (the floor n ε λmax is its own: 4e-23)."""
    big = with_spectrum(rng, [1.0, 0.5, 0.25])
    small_indefinite = 1e-8 * with_spectrum(rng, [1.0, -0.1, 0.5])
    with pytest.raises(sc.SpectralError, match=r"needs a positive semidefinite `A`: .* got -1e-09"):
        sc.sqrtm(np.stack([big, small_indefinite]))
    small_singular = 1e-8 * with_spectrum(rng, [1.0, 0.0, 0.5])
    with pytest.raises(sc.SpectralError, match="singular to working precision"):
        sc.invsqrtm(np.stack([big, small_singular]))
    small_definite = 1e-8 * with_spectrum(rng, [1.0, 1e-6, 0.5])
    assert np.all(np.isfinite(sc.invsqrtm(np.stack([big, small_definite]))))


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_definiteness_on_other_backends(rng, backend):
    mod = pytest.importorskip(backend)
    A = with_spectrum(rng, [2.0, 1.0, -1.0])
    x = mod.asarray(A) if backend == "torch" else mod.numpy.asarray(A)
    with pytest.raises(sc.SpectralError, match="needs a positive semidefinite"):
        sc.sqrtm(x, forward="mpa")
    with pytest.raises(sc.SpectralError, match="needs a positive definite"):
        sc.invsqrtm(x)


DOMAIN_CASES = {  # name: (op, spectrum of A in float64, inside the domain)
    "sqrtm indefinite": (sc.sqrtm, [2.0, 1.0, -1e-3], False),
    "sqrtm rounding below 0": (sc.sqrtm, [2.0, 1.0, -1e-12], True),
    "sqrtm singular": (sc.sqrtm, [2.0, 1.0, 0.0], True),
    "invsqrtm singular": (sc.invsqrtm, [2.0, 1.0, 0.0], False),
    "invsqrtm definite": (sc.invsqrtm, [2.0, 1.0, 1e-8], True),
    "logm indefinite": (sc.logm, [2.0, -1.0, 0.5], False),
    "matrix_power(0.5) indefinite": (lambda A, **kw: sc.matrix_power(A, 0.5, **kw), [2.0, -1.0, 0.5], False),
    "matrix_power(-0.5) definite": (lambda A, **kw: sc.matrix_power(A, -0.5, **kw), [2.0, 1e-8, 0.5], True),
}


def _accepted(fn, A) -> bool:
    try:
        fn(A)
    except sc.SpectralError as error:
        assert "needs a positive" in str(error)
        return False
    return True


@pytest.mark.parametrize("case", DOMAIN_CASES)
def test_torch_checks_the_domain_on_the_forwards_own_eigenvalues(rng, case):
    """Through the torch adapter an exact eigendecomposition forward checks A's domain on the
    eigenvalues it computed (no Cholesky factorisation runs), with NumPy's verdict (the
    factorisation, then the eigenvalues) on every case: the public call, torch.func.grad, and
    sc.vjp; a batch is judged per matrix; an approximate forward still factorises first."""
    torch = pytest.importorskip("torch")
    from spectralcore.adapters.torch_timing import count_ops

    fn, spectrum, inside = DOMAIN_CASES[case]
    A = with_spectrum(rng, spectrum)
    assert _accepted(fn, A) is inside  # NumPy: the Cholesky path
    x = torch.asarray(A).requires_grad_()
    counted = count_ops(lambda: _accepted(fn, x))
    assert not any("cholesky" in op for op in counted.ops), dict(counted.ops)
    assert _accepted(fn, x) is inside
    assert _accepted(lambda X: torch.func.grad(lambda Y: fn(Y).sum())(X), x) is inside
    assert _accepted(lambda X: sc.vjp(fn, X)[0] if fn in (sc.sqrtm, sc.invsqrtm, sc.logm) else fn(X), x) is inside
    big = torch.asarray(with_spectrum(rng, [1.0, 0.5, 0.25]))
    assert _accepted(fn, torch.stack([big, 1e-8 * x.detach()])) is inside  # its own scale, not the batch's
    if fn in (sc.sqrtm, sc.invsqrtm):
        approximate = count_ops(lambda: _accepted(lambda X: fn(X, forward="newton-schulz"), x))
        assert any("cholesky" in op for op in approximate.ops)


def test_eigenvalue_check_of_a_half_precision_matrix_runs_in_float32(rng):
    """float16 is computed in float32: its domain check too (the float32 floors, float32 eigenvalues)."""
    torch = pytest.importorskip("torch")
    A = torch.asarray(with_spectrum(rng, [2.0, 1.0, -1e-2])).to(torch.float16)
    with pytest.raises(sc.SpectralError, match=r"needs a positive semidefinite `A`: .*, got -0\.0099\d \(largest 2\)"):
        sc.sqrtm(A)  # -0.01 rounded to float16; in float16 eps, -0.01 would be inside -sqrt(eps) max|eigenvalue|
    assert sc.sqrtm(torch.asarray(with_spectrum(rng, [2.0, 1.0, 0.5])).to(torch.float16)).dtype == torch.float16


# ------------------------------------------------------------------ the residual warning (check=True)
@pytest.fixture
def fresh_warnings(monkeypatch):
    from spectralcore import dispatch

    monkeypatch.setattr(dispatch, "_WARNED", set())


def test_an_inaccurate_result_warns_once_with_its_residual(fresh_warnings):
    from spectralcore.report.sections.conditioning import geometric

    A = geometric(16, 1e4)
    with pytest.warns(sc.AccuracyWarning, match=r"sqrtm \(forward 'mpa'\): relative residual 0\.0\d+ > 0\.001"):
        S = sc.sqrtm(A, forward="mpa")
    np.testing.assert_allclose(np.linalg.norm(S @ S - A) / np.linalg.norm(A), 0.019, rtol=0.1)  # what it said
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sc.sqrtm(A, forward="mpa")  # once per op and forward
        sc.sqrtm(A)  # eigh: exact, not checked
        sc.invsqrtm(A, forward="newton-schulz", check=False)  # check=False: nothing runs
        sc.invsqrtm(geometric(16, 3.0), forward="newton-schulz", iterations=8)  # accurate: silent
    with pytest.warns(sc.AccuracyWarning, match=r"invsqrtm \(forward 'newton-schulz'\).*‖W A W − I‖"):
        sc.vjp(sc.invsqrtm, A, forward="newton-schulz")
