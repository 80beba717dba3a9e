"""Degenerate inputs in float32 and float64: repeated, near-repeated and zero eigenvalues, and
rank-deficient covariances. Every bounded backward stays finite; the tests also pin down where
the unbounded ones (exact, pade, topn) are inf/NaN, as documented."""

from __future__ import annotations

import numpy as np
import pytest

import spectralcore as sc
from reference import random_orthogonal, with_spectrum

BOUNDED = [i.name for i in sc.methods("eigh-backward") if "bounded" in i.claims]
SPECTRA = {
    "triple": [1.0, 1.0, 1.0, 2.0, 3.0],
    "all-equal": [2.0] * 5,
    "near-1e-3": [1.0, 1.001, 2.0, 2.002, 3.0],
    "near-1e-7": [1.0, 1.0 + 1e-7, 2.0, 3.0, 3.0 + 1e-7],
    "near-1e-12": [1.0, 1.0 + 1e-12, 2.0, 3.0, 4.0],
    "zeros": [0.0, 0.0, 0.0, 1.0, 2.0],
}


def rank_deficient_covariance(rng, n=6, rank=2):
    x = rng.standard_normal((n, rank))
    a = x @ x.T
    return (a + a.T) / 2


def inputs(rng):
    cases = {name: with_spectrum(rng, s) for name, s in SPECTRA.items()}
    cases["rank-deficient"] = rank_deficient_covariance(rng)
    return cases


def pullback_of(a, dtype, backward, rng):
    a = a.astype(dtype)
    n = a.shape[-1]
    gw = rng.standard_normal(n).astype(dtype)
    gV = rng.standard_normal((n, n)).astype(dtype)
    return sc.vjp(sc.eigh, a, backward=backward)[1]((gw, gV))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("backward", BOUNDED)
def test_bounded_backwards_finite(rng, dtype, backward):
    for name, a in inputs(rng).items():
        g = pullback_of(a, dtype, backward, rng)
        assert g.dtype == dtype
        assert np.all(np.isfinite(g)), f"{backward} not finite on {name} ({dtype.__name__})"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_is_not_finite_at_exact_ties(dtype):
    """The analytic K̃ divides by λj − λi: a diagonal input with a repeated value gives inf/NaN."""
    a = np.diag([1.0, 1.0, 2.0]).astype(dtype)
    gV = np.ones((3, 3), dtype=dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        for backward in ("exact", "pade"):
            g = sc.vjp(sc.eigh, a, backward=backward)[1]((None, gV))
            assert not np.all(np.isfinite(g)), backward


def test_exact_grows_without_bound_near_ties(rng):
    q = random_orthogonal(rng, 3)
    gV = rng.standard_normal((3, 3))
    norms = []
    for gap in (1e-2, 1e-5, 1e-8):
        a = (q * [1.0, 1.0 + gap, 2.0]) @ q.T
        norms.append(np.linalg.norm(sc.vjp(sc.eigh, (a + a.T) / 2)[1]((None, gV))))
    assert norms[0] * 1e2 < norms[1] and norms[1] * 1e2 < norms[2]


def test_topn_unbounded_only_among_kept_ties():
    gV = np.ones((5, 5))
    with np.errstate(divide="ignore", invalid="ignore"):
        discarded_tie = sc.vjp(sc.eigh, np.diag([0.0, 0.0, 1.0, 2.0, 3.0]), backward="topn", n=3)[1]((None, gV))
        kept_tie = sc.vjp(sc.eigh, np.diag([0.0, 0.0, 1.0, 2.0, 2.0]), backward="topn", n=3)[1]((None, gV))
    assert np.all(np.isfinite(discarded_tie))
    assert not np.all(np.isfinite(kept_tie))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("backward", ["exact", "lyapunov", "newton-schulz", "taylor", "power-iteration"])
@pytest.mark.parametrize("spectrum", [[1.0, 1.0, 1.0, 2.0, 3.0], [2.0] * 5, [1.0, 1.0 + 1e-9, 2.0, 3.0, 3.0]])
def test_sqrtm_backwards_finite_on_repeated_positive_spectra(rng, dtype, backward, spectrum):
    a = with_spectrum(rng, spectrum).astype(dtype)
    g = sc.vjp(sc.sqrtm, a, backward=backward)[1](rng.standard_normal(a.shape).astype(dtype))
    assert g.dtype == dtype and np.all(np.isfinite(g))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_iterative_sqrtm_finite_on_rank_deficient(rng, dtype):
    a = rank_deficient_covariance(rng).astype(dtype)
    cot = rng.standard_normal(a.shape).astype(dtype)
    for forward, backward in [("mpa", "lyapunov"), ("mtp", "lyapunov"), ("newton-schulz", "newton-schulz")]:
        out, pullback = sc.vjp(sc.sqrtm, a, forward=forward, backward=backward)
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(pullback(cot)))
