"""Bad input gets an error naming the argument, the expected and the actual value."""

from __future__ import annotations

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
    with pytest.raises(sc.SpectralError, match="unknown backward method 'tailor'.*available: clip, "
                                               "degenerate-safe, exact, lorentzian, pade"):
        sc.eigh(a, backward="tailor")
    with pytest.raises(sc.SpectralError, match="available: .*lyapunov.*taylor"):
        sc.sqrtm(a, backward="nope")


def test_unknown_option_lists_valid_ones(a):
    with pytest.raises(sc.SpectralError, match=r"unknown option\(s\) 'degre' for eigh; valid options: "
                                               r"forward 'eigh': solver='auto'; backward 'taylor': degree=9, eps=0\.01"):
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
