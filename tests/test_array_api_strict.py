"""The core is backend-neutral: every op and method runs under array-api-strict and gives the
NumPy numbers (which the other tests check against float64 references)."""

from __future__ import annotations

import numpy as np
import pytest

import spectralcore as sc
from reference import covariance

xp = pytest.importorskip("array_api_strict")

EIGH_BACKWARDS = [i.name for i in sc.methods("eigh-backward")]
SQRTM_FORWARDS = [i.name for i in sc.methods("sqrtm-forward")]
SQRTM_BACKWARDS = [i.name for i in sc.methods("sqrtm-backward")] + ["taylor"]


@pytest.fixture
def a(rng):
    return np.stack([covariance(rng, 5, 20) for _ in range(2)])


def both(fn, a, cotangent, *args, **kwargs):
    """(NumPy out, gA), (strict out, gA) for one op call."""
    results = []
    for convert in (np.asarray, xp.asarray):
        out, pullback = sc.vjp(fn, convert(a), *args, **kwargs)
        cot = (
            tuple(None if c is None else convert(c) for c in cotangent)
            if isinstance(cotangent, tuple)
            else convert(cotangent)
        )
        results.append((out, pullback(cot)))
    return results


def assert_same(np_arr, strict_arr, rtol=1e-10):
    assert not isinstance(strict_arr, np.ndarray)
    np.testing.assert_allclose(np.asarray(strict_arr), np_arr, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("forward", ["eigh", "power-iteration"])
@pytest.mark.parametrize("backward", EIGH_BACKWARDS)
def test_eigh(a, rng, forward, backward):
    cot = (rng.standard_normal(a.shape[:-1]), rng.standard_normal(a.shape))
    (np_out, np_g), (st_out, st_g) = both(sc.eigh, a, cot, forward=forward, backward=backward)
    assert_same(np_out[0], st_out[0])
    assert_same(np_g, st_g)


@pytest.mark.parametrize("forward", SQRTM_FORWARDS)
@pytest.mark.parametrize("backward", SQRTM_BACKWARDS)
@pytest.mark.parametrize("op", [sc.sqrtm, sc.invsqrtm])
def test_sqrtm(a, rng, op, forward, backward):
    cot = rng.standard_normal(a.shape)
    (np_out, np_g), (st_out, st_g) = both(op, a, cot, forward=forward, backward=backward)
    assert_same(np_out, st_out)
    assert_same(np_g, st_g)


@pytest.mark.parametrize("backward", ["exact", "degenerate-safe"])
def test_spectral_functions(a, rng, backward):
    cot = rng.standard_normal(a.shape)
    (np_out, np_g), (st_out, st_g) = both(sc.matrix_power, a, cot, -0.5, backward=backward)
    assert_same(np_out, st_out)
    assert_same(np_g, st_g)
    # f and df act on arrays of A's own namespace
    np_out, np_pull = sc.vjp(sc.matrix_function, a, np.log, lambda x: 1 / x, backward=backward)
    st_out, st_pull = sc.vjp(sc.matrix_function, xp.asarray(a), xp.log, lambda x: 1 / x, backward=backward)
    assert_same(np_out, st_out)
    assert_same(np_pull(cot), st_pull(xp.asarray(cot)))


def test_public_call_returns_strict_arrays(a):
    w, V = sc.eigh(xp.asarray(a))
    assert type(w).__module__.startswith("array_api_strict")
    S = sc.sqrtm(xp.asarray(a, dtype=xp.float32), forward="mpa", backward="lyapunov")
    assert S.dtype == xp.float32
