"""How the adapters carry a method's residuals (issue 23): torch eager saves them as intermediates,
not extra outputs, and frees them after backward; JAX's reverse mode runs the method's VJP (the
same program as the custom_vjp design, no products with a transposed factor), forward mode its
JVP, under jit, vmap and their compositions."""

from __future__ import annotations

import numpy as np
import pytest

import spectralcore as sc

NS = dict(forward="newton-schulz", backward="newton-schulz", check=False)
LYA = dict(forward="mpa", backward="lyapunov", check=False)


def spd(batch: int = 3, n: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, n, 3 * n))
    return X @ X.transpose(0, 2, 1) / (3 * n) + 0.1 * np.eye(n)


def test_torch_eager_saves_residuals_as_intermediates_and_frees_them():
    torch = pytest.importorskip("torch")
    A = torch.asarray(spd()).requires_grad_()
    S = sc.sqrtm(A, **NS)
    node = S.grad_fn
    assert len(node.next_functions) >= 1
    G = torch.randn_like(S)
    (gA,) = torch.autograd.grad(S, A, G, retain_graph=True)
    _, pullback = sc.vjp(sc.sqrtm, A.detach(), **NS)
    torch.testing.assert_close(gA, pullback(G))
    torch.autograd.grad(S, A, G)  # retained once: a second backward works
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        torch.autograd.grad(S, A, G)


def test_torch_forward_ad_and_func_transforms_see_the_residuals():
    torch = pytest.importorskip("torch")
    import torch.autograd.forward_ad as fwAD

    A = torch.asarray(spd())
    dA = torch.asarray(spd(seed=1))
    _, expected = sc.jvp(sc.sqrtm, A, dA, **NS)
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(sc.sqrtm(fwAD.make_dual(A, dA), **NS)).tangent
    torch.testing.assert_close(tangent, expected)
    torch.testing.assert_close(torch.func.jvp(lambda X: sc.sqrtm(X, **NS), (A,), (dA,))[1], expected)
    G = torch.asarray(spd(seed=2))
    _, pullback = sc.vjp(sc.sqrtm, A, **NS)
    torch.testing.assert_close(torch.func.grad(lambda X: (sc.sqrtm(X, **NS) * G).sum())(A), pullback(G))
    batched = torch.func.vmap(torch.func.grad(lambda X, G: (sc.sqrtm(X, **NS) * G).sum()))(A, G)
    torch.testing.assert_close(batched, pullback(G))


@pytest.mark.parametrize("kw", [NS, LYA, dict(backward="taylor", check=False)], ids=["ns", "mpa-lya", "taylor"])
def test_jax_reverse_mode_is_the_methods_vjp(kw):
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):  # a context: the global switch would change the other tests' dtypes
        check_reverse_mode(jax, kw)


def check_reverse_mode(jax, kw):
    import jax.numpy as jnp

    fn = sc.eigh if "forward" not in kw else sc.sqrtm
    A, G, dA = (jnp.asarray(spd(seed=s)) for s in (0, 1, 2))

    def loss(X, G):
        out = fn(X, **kw)
        return jnp.sum(out[1] * G) if isinstance(out, tuple) else jnp.sum(out * G)

    _, pullback = sc.vjp(fn, A, **kw)
    expected = pullback((None, G) if fn is sc.eigh else G)
    for grad in (jax.grad(loss), jax.jit(jax.grad(loss))):
        np.testing.assert_allclose(grad(A, G), expected, rtol=1e-10, atol=1e-12)
    vmapped = jax.vmap(jax.grad(loss))(A, G)  # the batch as the mapped axis: batching then transposing
    np.testing.assert_allclose(vmapped, expected, rtol=1e-10, atol=1e-12)
    of_vmap = jax.grad(lambda X, G: jnp.sum(jax.vmap(loss)(X, G)))(A, G)  # transposing a batched JVP
    np.testing.assert_allclose(of_vmap, expected, rtol=1e-10, atol=1e-12)
    _, pushforward = sc.linearize(fn, A, **kw)
    tangent = jax.jvp(lambda X: fn(X, **kw), (A,), (dA,))[1]
    expected_tangent = pushforward(dA)
    for got, want in zip(jax.tree.leaves(tangent), jax.tree.leaves(expected_tangent)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    with pytest.raises(sc.SecondOrderError):
        jax.hessian(lambda X: loss(X, G))(A)
