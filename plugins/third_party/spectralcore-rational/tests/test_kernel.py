"""The documented kernel guarantees, against an independent float64 NumPy computation:

relative error 0 ≤ 1 − K̃/K ≤ δ²/(2ρ²) (tight: ≥ r²/2 − 3r⁴/8), hard bound |K̃| ≤ 1/(δ λ̂b) (λ̂ = max(λ, ε s)) with
equality at ties, antisymmetry, and a monotone, continuous dependence on the gap.
"""

from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace

from helpers_rational import DELTA, documented_bounds, exact_kernel
from spectralcore_rational import SoftGap


def spectra(rng):
    """Separated, near-tied, tied, zero, negative (noise) and wide-range spectra, ascending."""
    out = [
        np.array([0.5, 1.0, 2.0, 4.0, 8.0]),
        np.array([1.0, 1.0 + 1e-9, 1.0 + 1e-6, 1.0 + 1e-3, 1.0 + 1e-1, 3.0]),
        np.array([2.0, 2.0, 2.0, 5.0, 5.0]),
        np.array([-1e-7, 0.0, 0.0, 1e-4, 1.0, 1.0]),
        np.logspace(-6, 6, 13),
    ]
    out += [np.sort(rng.exponential(size=8) ** 3) for _ in range(20)]
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("delta", [DELTA, 1e-2, 0.3])
def test_relative_error_and_hard_bound(rng, dtype, delta):
    ulp = float(np.finfo(dtype).eps)
    method = SoftGap(delta=delta)
    for w in spectra(rng):
        w = w.astype(dtype)
        k = np.asarray(method.kernel(array_namespace(w), w), dtype=np.float64)
        exact, big, rho = exact_kernel(w)  # from the same (rounded) eigenvalues
        rel_bound, hard = documented_bounds(w, delta=delta)
        off = ~np.eye(w.size, dtype=bool)
        assert np.all(np.diag(k) == 0) and np.array_equal(k, -k.T)
        # hard bound, everywhere including ties; equality at ties
        assert np.all(np.abs(k[off]) <= hard[off] * (1 + 4 * ulp))
        tie = off & (rho == 0)
        np.testing.assert_allclose(np.abs(k[tie]), hard[tie], rtol=4 * ulp)
        # relative error against 1/(λ̂j − λ̂i) on untied pairs; rounding of x = λs/λb adds ≈ ε·x/ρ
        sep = off & (rho > 0)
        shrink = 1 - k[sep] / exact[sep]
        x = 1 - rho[sep]
        rounding = 4 * ulp * (1 + x / rho[sep])
        assert np.all(shrink <= rel_bound[sep] + rounding)
        assert np.all(shrink >= -rounding)  # never enlarges, never flips the sign
        if dtype == np.float64:  # the bound is tight: error ≥ r²/2 − 3r⁴/8
            r2 = 2 * rel_bound[sep]
            assert np.all(shrink >= r2 / 2 - 3 * r2 * r2 / 8 - rounding)


def test_kernel_is_monotone_and_continuous_through_a_tie():
    """|K̃| grows monotonically as λs → λb and reaches 1/(δ λb) continuously (no kink, no drop)."""
    xp = array_namespace(np.zeros(1))
    gaps = np.concatenate([np.logspace(0, -12, 400), [0.0]])
    w = np.stack([2.0 - 2.0 * gaps, np.full_like(gaps, 2.0)], axis=-1)  # λb = 2, ρ = gap
    k = np.asarray(SoftGap().kernel(xp, w))[:, 0, 1]
    assert np.all(np.diff(k) >= 0)
    assert k[-1] == pytest.approx(1 / (DELTA * 2.0), rel=1e-15)
    assert k[-2] == pytest.approx(k[-1], rel=1e-12)  # ρ = 1e-12: within δ⁻²ρ²/2 of the tie
    # the slope in ρ is bounded (by the max of |g'| = 2/(3√3 δ²)) — clip's is unbounded at its kink
    slope = np.abs(np.diff(k) / np.diff(2.0 * gaps))
    assert np.max(slope) <= 2 / (3 * np.sqrt(3) * DELTA**2) / 2.0**2 * (1 + 1e-3)
