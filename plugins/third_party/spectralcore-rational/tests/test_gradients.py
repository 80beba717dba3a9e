"""Gradients through sc.vjp(sc.eigh, A, backward="softgap") and through autograd.

Documented: ‖gA − gA_exact‖_F ≤ δ²/(2ρ_min²) ‖gA_exact‖_F when every λ ≥ ε s, and
‖gA‖_F² ≤ ‖gV‖_F²/(δ ε s)² + ‖gw‖² everywhere (ties, zero eigenvalues, rank deficiency), with
s = max|λ| (1 for the zero matrix).
"""

from __future__ import annotations

import numpy as np
import pytest

import spectralcore as sc
from helpers_rational import DELTA, EPS, fd_gradient, quadratic_loss, rel_err, scale, with_spectrum

SEPARATED = [[1.0, 1.6, 2.3, 3.1, 4.0], [0.5, 1.0, 2.0, 4.0, 8.0], [0.2, 1.0, 5.0, 25.0, 100.0]]  # every λ ≥ ε s


def rho_min(spectrum) -> float:
    lam = np.sort(np.asarray(spectrum, dtype=np.float64))
    return float(np.min(np.diff(lam) / lam[1:]))


def degenerate_inputs(rng):
    x = rng.standard_normal((7, 2))
    return {
        "triple": with_spectrum(rng, [1.0, 1.0, 1.0, 2.0, 3.0, 3.0 + 1e-9, 4.0]),
        "identity": np.eye(7),
        "zeros": with_spectrum(rng, [0.0, 0.0, 0.0, 1e-12, 1.0, 2.0, 2.0]),
        "zero-matrix": np.zeros((7, 7)),
        "rank-2 covariance": x @ x.T / 2,
        "near-ties": with_spectrum(rng, [1.0, 1.0 + 1e-7, 1.0 + 2e-7, 5.0, 5.0 + 1e-12, 6.0, 7.0]),
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_finite_and_bounded_at_ties_and_zero_eigenvalues(rng, dtype):
    for label, a in degenerate_inputs(rng).items():
        a = a.astype(dtype)
        gw, gV = (rng.standard_normal(a.shape[:-1]).astype(dtype), rng.standard_normal(a.shape).astype(dtype))
        for cotangent in [(gw, gV), (None, gV), (gw, None)]:
            (w, V), pullback = sc.vjp(sc.eigh, a, backward="softgap")
            gA = pullback(cotangent)
            assert gA.dtype == dtype and np.all(np.isfinite(gA)), label
            np.testing.assert_allclose(gA, gA.T, atol=0, err_msg=label)
            nw = 0.0 if cotangent[0] is None else np.linalg.norm(gw.astype(np.float64))
            nV = 0.0 if cotangent[1] is None else np.linalg.norm(gV.astype(np.float64))
            s = scale(np.linalg.eigvalsh(a.astype(np.float64))).item()
            bound = np.sqrt((nV / (DELTA * EPS * s)) ** 2 + nw**2)
            assert np.linalg.norm(gA.astype(np.float64)) <= bound * (1 + 1e-3), label


def test_exact_gradient_is_unbounded_where_softgap_is_not(rng):
    """The reason for the method: at a tie the exact kernel divides by zero."""
    a = degenerate_inputs(rng)["triple"]
    g = (None, rng.standard_normal(a.shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = sc.vjp(sc.eigh, a)[1](g)
    soft = sc.vjp(sc.eigh, a, backward="softgap")[1](g)
    assert not np.all(np.isfinite(exact)) or np.max(np.abs(exact)) > 1e6
    assert np.max(np.abs(soft)) < 1e4


@pytest.mark.parametrize("delta", [DELTA, 1e-2, 5e-2])
@pytest.mark.parametrize("spectrum", SEPARATED)
def test_agrees_with_exact_within_documented_bound(rng, spectrum, delta):
    a = with_spectrum(rng, spectrum)
    cot = (rng.standard_normal(5), rng.standard_normal((5, 5)))
    exact = sc.vjp(sc.eigh, a)[1](cot)
    soft = sc.vjp(sc.eigh, a, backward="softgap", delta=delta, eps=1e-3)[1](cot)
    bound = delta**2 / (2 * rho_min(spectrum) ** 2)
    err = rel_err(soft, exact)
    assert err <= bound * (1 + 1e-6) + 1e-13
    assert err >= bound * 1e-3  # it is an approximation, not the exact rule


def test_agrees_with_finite_differences(rng):
    spectrum = SEPARATED[0]
    a = with_spectrum(rng, spectrum)
    loss, cotangents = quadratic_loss(rng, 5)
    (w, V), pullback = sc.vjp(sc.eigh, a, backward="softgap")
    fd = fd_gradient(loss, a)
    bound = DELTA**2 / (2 * rho_min(spectrum) ** 2)
    assert rel_err(pullback(cotangents(V)), fd) <= bound + 1e-8


def test_float32_agrees_with_float64_exact(rng):
    spectrum = SEPARATED[0]
    a = with_spectrum(rng, spectrum)
    loss, cotangents = quadratic_loss(rng, 5)
    (w, V), pullback = sc.vjp(sc.eigh, a)
    exact = pullback(cotangents(V))
    (w32, V32), pullback32 = sc.vjp(sc.eigh, a.astype(np.float32), backward="softgap")
    soft32 = pullback32(cotangents(V32))
    assert soft32.dtype == np.float32
    assert rel_err(soft32, exact) <= DELTA**2 / (2 * rho_min(spectrum) ** 2) + 1e-5


def test_batched(rng):
    a = np.stack([with_spectrum(rng, s) for s in SEPARATED] + [np.eye(5)])
    cot = (None, rng.standard_normal(a.shape))
    batched = sc.vjp(sc.eigh, a, backward="softgap")[1](cot)
    one = [sc.vjp(sc.eigh, a[k], backward="softgap")[1]((None, cot[1][k])) for k in range(len(a))]
    np.testing.assert_allclose(batched, np.stack(one), rtol=1e-12, atol=1e-12)


def test_array_api_strict(rng):
    xps = pytest.importorskip("array_api_strict")
    loss, cotangents = quadratic_loss(rng, 5)
    for a in [with_spectrum(rng, SEPARATED[0]), degenerate_inputs(rng)["triple"][:5, :5]]:
        (w, V), pullback = sc.vjp(sc.eigh, a, backward="softgap")
        ref = pullback(cotangents(V))
        (ws, Vs), pullback_s = sc.vjp(sc.eigh, xps.asarray(a), backward="softgap")
        gw, gV = cotangents(np.asarray(Vs))
        gA = pullback_s((xps.asarray(gw), xps.asarray(gV)))
        assert isinstance(gA, type(xps.asarray(a)))
        np.testing.assert_allclose(np.asarray(gA), ref, rtol=1e-9, atol=1e-9 * np.max(np.abs(ref)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_autograd(rng, dtype):
    torch = pytest.importorskip("torch")
    loss, cotangents = quadratic_loss(rng, 5)
    for a in [with_spectrum(rng, SEPARATED[0]), degenerate_inputs(rng)["triple"][:5, :5], np.eye(5)]:
        (w, V), pullback = sc.vjp(sc.eigh, a, backward="softgap")
        ref = pullback(cotangents(V))
        A = torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True)
        wt, Vt = sc.eigh(A, backward="softgap")
        gw, gV = (torch.as_tensor(c, dtype=A.dtype) for c in cotangents(Vt.detach().double().numpy()))
        ((wt * gw).sum() + (Vt * gV).sum()).backward()
        assert A.grad.dtype == A.dtype and torch.isfinite(A.grad).all()
        tol = 1e-9 if dtype == "float64" else 2e-3
        np.testing.assert_allclose(A.grad.double().numpy(), ref, rtol=tol, atol=tol * max(1.0, np.max(np.abs(ref))))


def test_jax_jit_grad(rng):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    a = with_spectrum(rng, SEPARATED[0])
    b = rng.standard_normal((5, 5))
    b = (b + b.T) / 2

    def loss(A):
        w, V = sc.eigh(A, backward="softgap")
        return jnp.sum(jnp.einsum("ik,ij,jk->k", V, b, V) * jnp.arange(1.0, 6.0)) + jnp.sum(w)

    grad = jax.jit(jax.grad(loss))
    g = np.asarray(grad(jnp.asarray(a, dtype=jnp.float32)), dtype=np.float64)
    (w, V), pullback = sc.vjp(sc.eigh, a)
    ref = pullback((np.ones(5), 2 * (b @ V) * np.arange(1.0, 6.0)))
    assert rel_err(g, ref) <= 1e-4
    assert np.all(np.isfinite(np.asarray(grad(jnp.eye(5)))))
