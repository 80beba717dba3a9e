"""Power iteration with deflation (NeurIPS 2019) and the TPAMI 2021 proposition."""

from __future__ import annotations

import numpy as np
import pytest

import spectralcore as sc
from reference import covariance, rel_err, with_spectrum


def top_column_cotangent(rng, n):
    gV = np.zeros((n, n))
    gV[:, -1] = rng.standard_normal(n)
    return gV


@pytest.mark.parametrize("degree", [0, 4, 9, 19])
def test_proposition_dominant_eigenvector(rng, degree):
    """TPAMI 2021 §3.3: K + 1 power iterations give the degree-K Taylor gradient (dominant vector)."""
    a = covariance(rng, 6, 12)
    gV = top_column_cotangent(rng, 6)
    pi = sc.vjp(sc.eigh, a, backward="power-iteration", iterations=degree + 1, eps=1e-300)[1]((None, gV))
    taylor = sc.vjp(sc.eigh, a, backward="taylor", degree=degree, eps=0.0)[1]((None, gV))
    assert rel_err(pi, taylor) < 1e-12


def test_proposition_holds_per_vector_after_deflation(rng):
    """For the i-th eigenvector the claim holds on its deflated matrix M_i = A − Σ_{l<i} λl vl vlᵀ."""
    a = covariance(rng, 6, 12)
    w, V = np.linalg.eigh(a)
    degree = 9
    for i in range(5, 0, -1):  # the top five, from the largest down
        m = a - sum(w[l] * np.outer(V[:, l], V[:, l]) for l in range(i + 1, 6))
        m = (m + m.T) / 2
        gV = top_column_cotangent(rng, 6)
        pi = sc.vjp(sc.eigh, m, backward="power-iteration", iterations=degree + 1, eps=1e-300)[1]((None, gV))
        taylor = sc.vjp(sc.eigh, m, backward="taylor", degree=degree, eps=1e-300)[1]((None, gV))
        assert rel_err(pi, taylor) < 1e-12


def test_proposition_does_not_hold_for_the_whole_vjp(rng):
    """With deflation, the whole PI VJP also carries the deflation paths: it differs from Taylor."""
    a = covariance(rng, 6, 12)
    gV = rng.standard_normal((6, 6))
    pi = sc.vjp(sc.eigh, a, backward="power-iteration", iterations=10, eps=1e-300)[1]((None, gV))
    taylor = sc.vjp(sc.eigh, a, backward="taylor", degree=9, eps=0.0)[1]((None, gV))
    assert 1e-3 < rel_err(pi, taylor) < 0.5


def test_power_iteration_backward_converges_to_exact(rng):
    a = with_spectrum(rng, [0.5, 1.0, 2.0, 4.0, 8.0])
    gV = rng.standard_normal((5, 5))
    exact = sc.vjp(sc.eigh, a)[1]((None, gV))
    errors = [
        rel_err(sc.vjp(sc.eigh, a, backward="power-iteration", iterations=k)[1]((None, gV)), exact) for k in (5, 20, 80)
    ]
    assert errors[0] > errors[1] > errors[2]
    assert errors[-1] < 1e-8


def test_power_iteration_backward_bounded_at_ties_and_zeros(rng):
    a = with_spectrum(rng, [0.0, 0.0, 1.0, 1.0, 1.0])
    gV = rng.standard_normal((5, 5))
    g = sc.vjp(sc.eigh, a, backward="power-iteration", iterations=19, eps=1e-5)[1]((None, gV))
    assert np.all(np.isfinite(g))
    assert np.linalg.norm(g) <= 5 * 19 / 1e-5 * np.linalg.norm(gV)


def test_forward_accepts_full_rank(rng):
    a = with_spectrum(rng, [0.5, 1.0, 2.0, 4.0])
    (w, V) = result = sc.eigh(a, forward="power-iteration")
    assert int(result.accepted) == 4
    np.testing.assert_allclose(w, [0.5, 1.0, 2.0, 4.0], rtol=1e-12)
    np.testing.assert_allclose((V * w) @ V.T, a, atol=1e-12)


def test_forward_truncates_rank_deficient_covariance(rng):
    """A rank-3 covariance keeps 3 pairs: λ ≤ eps and exhausted energy break the loop."""
    x = rng.standard_normal((6, 3))
    a = x @ x.T
    result = sc.eigh(a, forward="power-iteration")
    assert int(result.accepted) == 3
    w, V = result
    assert np.all(w[:3] == 0) and np.all(V[:, :3] == 0)
    np.testing.assert_allclose((V * w) @ V.T, a, atol=1e-10)


def test_forward_energy_condition(rng):
    """energy = 0.05 drops the pairs after 95% of the trace is captured."""
    a = with_spectrum(rng, [0.01, 0.02, 1.0, 3.0, 6.0])
    result = sc.eigh(a, forward="power-iteration", energy=0.05)
    assert int(result.accepted) == 3  # 6/10.03, 9/10.03 < 0.95, 10/10.03 ≥ 0.95: the two small pairs go


def test_forward_batched_counts(rng):
    a = np.stack([with_spectrum(rng, [0.0, 0.0, 1.0, 2.0]), with_spectrum(rng, [0.5, 1.0, 1.5, 2.0])])
    result = sc.eigh(a, forward="power-iteration")
    np.testing.assert_array_equal(result.accepted, [2, 4])


def test_forward_refinement_iterations_keep_eigenpairs(rng):
    a = with_spectrum(rng, [0.5, 1.0, 2.0, 4.0])
    w, V = sc.eigh(a, forward="power-iteration", iterations=3)
    np.testing.assert_allclose((V * w) @ V.T, a, atol=1e-8)
