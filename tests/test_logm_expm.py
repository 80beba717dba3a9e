"""sc.logm and sc.expm: values against SciPy, gradients and tangents against central differences
of scipy.linalg.logm/expm, on separated, near-tied and exactly tied spectra, float32 and float64.

The Daleckii–Krein backward is exact at repeated eigenvalues, where differentiating through
eigh is not: the tied cases are the point.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import spectralcore as sc
from reference import fd_gradient, rel_err, symmetric, with_spectrum

SPECTRA = {
    "separated": [0.4, 0.9, 1.7, 2.6, 3.5],
    "near tie": [0.4, 1.3, 1.3 + 1e-7, 2.6, 3.5],
    "triple tie": [0.4, 1.3, 1.3, 1.3, 3.5],
}
FUNCTIONS = {"logm": (sc.logm, sla.logm), "expm": (sc.expm, sla.expm)}
TOL = {"float64": 1e-7, "float32": 2e-4}  # float64: against central differences; float32: rounding of the op


def _real(x):
    return np.real(x)


@pytest.mark.parametrize("spectrum", list(SPECTRA))
@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_value_gradient_and_tangent_against_scipy(rng, name, spectrum, dtype):
    ours, theirs = FUNCTIONS[name]
    a = with_spectrum(rng, SPECTRA[spectrum])
    G, dA = symmetric(rng, 5), symmetric(rng, 5)
    reference_grad = fd_gradient(lambda x: float(np.sum(G * _real(theirs(x)))), a, h=1e-5)
    h = 1e-5
    reference_tangent = _real(theirs(a + h * dA) - theirs(a - h * dA)) / (2 * h)
    x = a.astype(dtype)
    out, pullback = sc.vjp(ours, x)
    _, tangent = sc.jvp(ours, x, dA.astype(dtype))
    assert out.dtype == dtype
    assert rel_err(out, _real(theirs(a))) < (1e-12 if dtype == "float64" else 1e-5)
    assert rel_err(pullback(G.astype(dtype)), reference_grad) < TOL[dtype]
    assert rel_err(tangent, reference_tangent) < TOL[dtype]


def test_logm_needs_positive_definite_input_and_expm_takes_any_symmetric(rng):
    with pytest.raises(sc.SpectralError, match="logm .* positive definite"):
        sc.logm(np.diag([1.0, 0.0, 2.0]))
    a = with_spectrum(rng, [-1.5, -0.2, 0.7, 1.9])  # indefinite
    assert rel_err(sc.expm(a), sla.expm(a)) < 1e-12
    assert rel_err(sc.logm(sc.expm(a)), a) < 1e-11


def test_torch_and_jax_gradients_equal_numpy(rng):
    a = with_spectrum(rng, SPECTRA["triple tie"])
    G = symmetric(rng, 5)
    for ours, _ in FUNCTIONS.values():
        expected = sc.vjp(ours, a)[1](G)
        torch = pytest.importorskip("torch")
        t = torch.tensor(a, requires_grad=True)
        (ours(t) * torch.tensor(G)).sum().backward()
        assert rel_err(t.grad, expected) < 1e-12
        jax = pytest.importorskip("jax")
        with jax.enable_x64(True):
            g = jax.grad(lambda x, ours=ours: (ours(x) * G).sum())(jax.numpy.asarray(a))
        assert rel_err(g, expected) < 1e-12
