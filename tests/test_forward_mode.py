"""sc.jvp and sc.linearize on NumPy and array-api-strict: the explicit forward mode.

References: central differences of NumPy/SciPy float64 functions (np.linalg.eigh,
scipy.linalg.sqrtm) for the exact methods, and the NumPy VJP through the transpose identity
⟨JVP(dA), G⟩ = ⟨dA, VJP(G)⟩ for every method (the conformance suite checks that identity on
every backend and composition; here it is checked on a batch).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import spectralcore as sc
from reference import covariance, rel_err, symmetric

xps = pytest.importorskip("array_api_strict")


@pytest.fixture
def a(rng):
    return np.stack([covariance(rng, 5, 30) for _ in range(2)])


def _sqrtm(x):
    return np.stack([np.real(sla.sqrtm(m)) for m in x])


def test_exact_sqrtm_tangent_matches_central_differences(a, rng):
    dA = np.stack([symmetric(rng, 5) for _ in range(2)])
    h = 1e-5
    expected = (_sqrtm(a + h * dA) - _sqrtm(a - h * dA)) / (2 * h)
    out, tangent = sc.jvp(sc.sqrtm, a, dA)
    assert rel_err(out, _sqrtm(a)) < 1e-12
    assert rel_err(tangent, expected) < 1e-8


def test_eigh_tangent_matches_central_differences(a, rng):
    """dw and the sign-free d(V diag(c) Vᵀ) against differences of np.linalg.eigh."""
    dA = np.stack([symmetric(rng, 5) for _ in range(2)])
    c = np.linspace(1, 2, 5)
    h = 1e-6

    def outputs(x):
        w, V = np.linalg.eigh(x)
        return w, (V * c) @ np.swapaxes(V, -1, -2)

    (w_up, P_up), (w_down, P_down) = outputs(a + h * dA), outputs(a - h * dA)
    (w, V), (dw, dV) = sc.jvp(sc.eigh, a, dA)
    half = (dV * c) @ np.swapaxes(V, -1, -2)
    assert rel_err(dw, (w_up - w_down) / (2 * h)) < 1e-8
    assert rel_err(half + np.swapaxes(half, -1, -2), (P_up - P_down) / (2 * h)) < 1e-7


@pytest.mark.parametrize(
    "call",
    [
        lambda f, *x, **k: f(sc.sqrtm, *x, forward="mpa", backward="lyapunov", **k),
        lambda f, *x, **k: f(sc.invsqrtm, *x, forward="newton-schulz", backward="newton-schulz", **k),
        lambda f, *x, **k: f(sc.invsqrtm, *x, backward="taylor", **k),
        lambda f, *x, **k: f(sc.matrix_function, *x[:1], *x[1:], lambda v: v**3, lambda v: 3 * v**2, **k),
    ],
)
def test_transpose_identity_on_a_batch_and_under_array_api_strict(a, rng, call):
    dA = np.stack([symmetric(rng, 5) for _ in range(2)])
    G = rng.standard_normal(a.shape)
    _, pullback = call(sc.vjp, a)
    _, push = call(sc.linearize, a)
    tangent = push(dA)
    assert abs(np.sum(tangent * G) - np.sum(dA * pullback(G))) < 1e-12 * np.linalg.norm(dA) * np.linalg.norm(G) * 10
    strict_out, strict_push = call(sc.linearize, xps.asarray(a))
    assert isinstance(strict_out, type(xps.asarray(a)))
    assert rel_err(np.asarray(strict_push(xps.asarray(dA))), tangent) < 1e-12


def test_linearize_reuses_its_forward_and_is_linear(a, rng):
    d1, d2 = symmetric(rng, 5), symmetric(rng, 5)
    out, push = sc.linearize(sc.sqrtm, a[0], forward="mpa", backward="lyapunov")
    assert rel_err(push(2 * d1 - 3 * d2), 2 * push(d1) - 3 * push(d2)) < 1e-12
    assert np.array_equal(sc.jvp(sc.sqrtm, a[0], d1, forward="mpa", backward="lyapunov")[1], push(d1))
    assert np.all(push(None) == 0)  # None: a zero tangent
    dw, dV = sc.linearize(sc.eigh, a[0])[1](None)
    assert np.all(dw == 0) and np.all(dV == 0)


def test_tangent_errors_name_the_argument(a):
    with pytest.raises(
        sc.SpectralError,
        match=r"tangent `dsqrtm` must have shape \(2, 5, 5\) \(the shape of A\), "
        r"got \(5, 5\)",
    ):
        sc.jvp(sc.sqrtm, a, a[0])
    with pytest.raises(sc.SpectralError, match="tangent `deigh` must be an array like A"):
        sc.jvp(sc.eigh, a, [[1.0]])
    with pytest.raises(sc.SpectralError, match="linearize expects a spectralcore op"):
        sc.linearize(np.linalg.eigh, a)
