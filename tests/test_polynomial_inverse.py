"""The matrix-product-only inverse of a Padé polynomial (spectralcore.polynomial_inverse) and
MPA's ``solve`` option: the proven residual bound, and agreement with LU solves and SciPy."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial import polynomial

import spectralcore as sc
from reference import covariance, rel_err, with_spectrum
from spectralcore.polynomial_inverse import newton_steps, polynomial_solve, seed
from spectralcore.series import binomial_series, pade


def pade_sqrt(m: int, n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    p, q = pade(binomial_series(Fraction(1, 2), m + n), m, n)
    return tuple(map(float, p)), tuple(map(float, q))


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(0, 10),
    n=st.integers(0, 10),
    which=st.sampled_from(["p", "q"]),
    z=st.lists(st.floats(0, 1), min_size=1, max_size=50),
)
def test_seed_residual_bound_holds_on_unit_interval(m, n, which, z):
    p, q = pade_sqrt(m, n)
    den = p if which == "p" else q
    s, e0 = seed(den, max(len(p), len(q)) - 1)
    assert e0 < 1
    z = np.asarray(z)
    residual = np.abs(1 - polynomial.polyval(z, den) * polynomial.polyval(z, s))
    assert residual.max() <= e0 * (1 + 1e-9) + 1e-15


def test_seed_is_near_minimax_for_mpa_default():
    """[5/5]: Q has condition number 93 on [0, 1]; the constant seed 2/(min Q + max Q) would
    leave e0 = 92/94 = 0.979, the degree-5 minimax seed leaves 0.141 (LP optimum: 0.1414)."""
    _, q = pade_sqrt(5, 5)
    _, e0 = seed(q, 5)
    assert 0.13 < e0 < 0.15
    assert newton_steps(e0, np.finfo(np.float32).eps) == 4
    assert newton_steps(e0, np.finfo(np.float64).eps) == 5


@pytest.mark.parametrize("e0, eps, steps", [(0.5, 2.0**-52, 6), (0.5, 2.0**-23, 5), (1e-20, 1e-16, 0), (0.9, 1e-16, 9)])
def test_newton_steps_is_the_smallest_sufficient_count(e0, eps, steps):
    assert newton_steps(e0, eps) == steps
    assert e0 ** (2**steps) <= eps
    assert steps == 0 or e0 ** (2 ** (steps - 1)) > eps


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="positive on"):
        seed((1.0, -2.0), 1)
    with pytest.raises(ValueError, match="diverges"):
        newton_steps(1.5, 1e-16)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m, n", [(5, 5), (3, 7), (8, 8), (1, 1)])
def test_polynomial_solve_matches_numpy_solve(rng, dtype, m, n):
    """Z with eigenvalues spread over all of [0, 1]: D(Z)⁻¹B against LAPACK, float64 reference."""
    p, q = pade_sqrt(m, n)
    Z = with_spectrum(rng, np.linspace(0, 1, 24))
    B = rng.standard_normal((24, 24))
    powers = [np.linalg.matrix_power(Z, k) for k in range(max(len(p), len(q)))]
    for den in (p, q):
        D = sum(c * power for c, power in zip(den, powers))
        want = np.linalg.solve(D, B)
        got = polynomial_solve(np, [x.astype(dtype) for x in powers], den, D.astype(dtype), B.astype(dtype))
        assert got.dtype == dtype
        # the forward error of any solve is about cond(D)·ε (cond up to 6.6e4 for P of [8/8])
        assert rel_err(got, want) < 10 * np.linalg.cond(D) * np.finfo(dtype).eps


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("spectrum", ["covariance", "condition 1e3"])
def test_mpa_newton_equals_lu(rng, inverse, spectrum):
    a = covariance(rng, 32, 128) if spectrum == "covariance" else with_spectrum(rng, np.geomspace(1e-3, 1, 32))
    fn = sc.invsqrtm if inverse else sc.sqrtm
    lu = fn(a, forward="mpa", solve="lu")
    newton = fn(a, forward="mpa", solve="newton")
    assert rel_err(newton, lu) < 1e-11  # both ≈ cond(P)·ε, cond(P) up to 1e3 for [5/5]
    # and both are the [5/5] Padé root, whose error against the true root is far larger
    exact = sla.inv(sla.sqrtm(a)) if inverse else sla.sqrtm(a)
    assert rel_err(newton, exact) == pytest.approx(rel_err(lu, exact), rel=1e-6)


def test_mpa_newton_equals_lu_float32(rng):
    a = np.stack([covariance(rng, 64, 256) for _ in range(4)])
    want = sc.sqrtm(a, forward="mpa", solve="lu")  # float64
    got = sc.sqrtm(a.astype(np.float32), forward="mpa", solve="newton")
    lu = sc.sqrtm(a.astype(np.float32), forward="mpa", solve="lu")
    assert got.dtype == np.float32
    assert rel_err(got, want) < 5e-6  # measured 2.2e-6 (LU in float32: 1.6e-6)
    assert rel_err(got, want) < 2 * rel_err(lu, want)


def test_mpa_too_high_for_newton_says_what_to_do(rng):
    a = covariance(rng, 6, 24)
    with pytest.raises(
        ValueError,
        match=r"'mpa' \[30/30\] with solve='newton'.*degree 30 must be positive.*"
        r"use solve='lu'",
    ):
        sc.sqrtm(a, forward="mpa", m=30, n=30, solve="newton")
    assert np.all(np.isfinite(sc.sqrtm(a, forward="mpa", m=30, n=30, solve="lu")))


def test_mpa_solve_option_is_validated():
    with pytest.raises(ValueError, match=r"mpa.*solve.*one of \('auto', 'newton', 'lu'\).*'qr'"):
        sc.sqrtm(np.eye(3), forward="mpa", solve="qr")


def test_auto_solve_is_lu_in_host_memory_and_newton_elsewhere(rng):
    """array-api-strict's second device stands in for an accelerator."""
    xs = pytest.importorskip("array_api_strict")
    torch = pytest.importorskip("torch")
    mpa = sc.methods.MPA()
    a = covariance(rng, 8, 32)
    assert mpa.chosen_solve(a) == "lu"
    assert mpa.chosen_solve(torch.asarray(a)) == "lu"
    assert mpa.chosen_solve(xs.asarray(a)) == "lu"
    elsewhere = xs.asarray(a, device=xs.Device("device1"))
    assert mpa.chosen_solve(elsewhere) == "newton"
    S = sc.sqrtm(elsewhere, forward="mpa")
    assert S.device == elsewhere.device
    assert rel_err(np.asarray(xs.asarray(S, device=xs.Device("CPU_DEVICE"))), sc.sqrtm(a, forward="mpa")) < 1e-12
