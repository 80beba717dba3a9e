"""Hypothesis property tests for every registered backward: symmetric gradients, invariance to
eigenvector signs, linearity in the cotangent — including at repeated and zero eigenvalues
for methods that claim to be bounded."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import spectralcore as sc
from reference import with_spectrum

EIGH_BACKWARDS = [i for i in sc.methods("eigh-backward")]
SQRTM_BACKWARDS = [i.name for i in sc.methods("sqrtm-backward")] + ["taylor", "power-iteration"]

seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(2, 6)
# spectra drawn from a small grid so ties and zeros are common
grid_spectra = st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.0 + 1e-9, 2.0, 3.0]), min_size=2, max_size=6)
distinct_spectra = sizes.flatmap(
    lambda n: st.lists(st.floats(0.1, 10.0), min_size=n, max_size=n, unique=True).filter(
        lambda v: min(np.diff(sorted(v))) > 1e-2
    )
)


def spectra_for(info):
    return grid_spectra if "bounded" in info.claims else distinct_spectra


def problem(seed, spectrum):
    rng = np.random.default_rng(seed)
    a = with_spectrum(rng, spectrum)
    w, V = np.linalg.eigh(a)
    n = len(spectrum)
    return rng, a, w, V, rng.standard_normal(n), rng.standard_normal((n, n))


def _eigh_property(info, seed, spectrum):
    rng, a, w, V, gw, gV = problem(seed, spectrum)
    method = info.cls()
    g = method.vjp(np, a, w, V, gw, gV)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, g.T, rtol=0, atol=1e-12 * max(1.0, np.abs(g).max()))
    signs = rng.choice([-1.0, 1.0], size=len(spectrum))
    flipped = method.vjp(np, a, w, V * signs, gw, gV * signs)
    np.testing.assert_allclose(flipped, g, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(g).max()))
    gw2, gV2 = rng.standard_normal(gw.shape), rng.standard_normal(gV.shape)
    alpha, beta = rng.standard_normal(2)
    combined = method.vjp(np, a, w, V, alpha * gw + beta * gw2, alpha * gV + beta * gV2)
    separate = alpha * g + beta * method.vjp(np, a, w, V, gw2, gV2)
    np.testing.assert_allclose(combined, separate, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(separate).max()))
    assert np.all(method.vjp(np, a, w, V, 0 * gw, 0 * gV) == 0)


def make_eigh_test(info):
    @settings(max_examples=25, deadline=None)
    @given(seed=seeds, spectrum=spectra_for(info))
    def test(seed, spectrum):
        _eigh_property(info, seed, spectrum)

    test.__name__ = f"test_eigh_backward_properties_{info.name.replace('-', '_')}"
    return test


for _info in EIGH_BACKWARDS:
    globals()[f"test_eigh_backward_properties_{_info.name.replace('-', '_')}"] = make_eigh_test(_info)


@settings(max_examples=15, deadline=None)
@given(
    seed=seeds,
    spectrum=st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=2, max_size=6),
    backward=st.sampled_from(SQRTM_BACKWARDS),
)
def test_sqrtm_backward_symmetric_and_linear(seed, spectrum, backward):
    rng = np.random.default_rng(seed)
    a = with_spectrum(rng, spectrum)
    _, pullback = sc.vjp(sc.sqrtm, a, backward=backward)
    g1, g2 = rng.standard_normal((2,) + a.shape)
    r1, r2 = pullback(g1), pullback(g2)
    assert np.all(np.isfinite(r1))
    np.testing.assert_allclose(r1, r1.T, atol=1e-12)
    np.testing.assert_allclose(pullback(2 * g1 - 3 * g2), 2 * r1 - 3 * r2, rtol=1e-9, atol=1e-9)
