"""JAX measurement helpers for ``spectralcore report`` and ``benchmarks/``: the two baselines
(jnp.linalg.eigh autograd, plain Newton–Schulz) and one jitted forward + backward step of a
method (``jax.jit(jax.grad(loss))``), mirroring :mod:`spectralcore.adapters.torch_timing`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

import spectralcore as sc
from spectralcore.adapters.jax import ADAPTER


def on_device(a: Any, device: str) -> jax.Array:
    """``a`` committed to JAX's first ``device`` ("cpu" or "cuda"; RuntimeError if JAX has none)."""
    return jax.device_put(a, jax.devices("gpu" if device == "cuda" else "cpu")[0])


def eigh_autograd(A: jax.Array) -> jax.Array:
    """Baseline: A^{1/2} = V Λ^{1/2} Vᵀ differentiated by jnp.linalg.eigh's own autodiff."""
    w, V = jnp.linalg.eigh(A)
    return (V * jnp.sqrt(jnp.maximum(w, 0))[..., None, :]) @ jnp.swapaxes(V, -1, -2)


def plain_newton_schulz(A: jax.Array, iterations: int = 5, fixed_scale: bool = False) -> jax.Array:
    """Baseline: the coupled Newton–Schulz iteration (Frobenius-normalised) under autodiff;
    ``fixed_scale`` stops the gradient through c = ‖A‖_F, as spectralcore's backward holds it."""
    c = jnp.linalg.norm(A, axis=(-2, -1))[..., None, None]
    c = jax.lax.stop_gradient(c) if fixed_scale else c
    eye = jnp.eye(A.shape[-1], dtype=A.dtype)
    Y, Z = A / c, jnp.broadcast_to(eye, A.shape)
    for _ in range(iterations):
        T = (3 * eye - Z @ Y) / 2
        Y, Z = Y @ T, T @ Z
    return Y * jnp.sqrt(c)


BASELINES = {
    "jnp.linalg.eigh autograd (baseline)": eigh_autograd,
    "plain Newton–Schulz autodiff (baseline)": lambda A: plain_newton_schulz(A, fixed_scale=True),
}


def methods(sqrtm_methods: dict[str, dict], eigh_backwards: tuple[str, ...]) -> dict[str, Callable]:
    """The baselines, then ``sc.sqrtm`` with each option set and ``sc.eigh`` with each backward."""
    out: dict[str, Callable[..., Any]] = dict(BASELINES)
    out |= {name: (lambda A, kw=kw: sc.sqrtm(A, **kw)) for name, kw in sqrtm_methods.items()}
    out |= {f"eigh, {b} backward": (lambda A, b=b: sc.eigh(A, backward=b)) for b in eigh_backwards}
    return out


def loss(out: Any, G: jax.Array) -> jax.Array:
    """⟨G, out⟩, or Σw + ⟨G, V⟩ for an eigendecomposition (gradient through both outputs)."""
    if isinstance(out, tuple):
        return jnp.sum(out[0]) + jnp.sum(out[1] * G)
    return jnp.sum(out * G)


def at_our_precision(fn: Callable) -> Callable:
    """``fn`` traced at the matmul precision spectralcore computes in (HIGHEST unless the user
    set one): a baseline's ratio then compares algorithms, not TF32 against float32 on a GPU."""

    def traced(*args: Any) -> Any:
        with ADAPTER.numerics():
            return fn(*args)

    return traced


def step(fn: Callable, A: jax.Array, G: jax.Array) -> Callable[[], jax.Array]:
    """One jitted forward + backward of ``fn`` (G an argument, not a baked-in constant), at
    spectralcore's precision; the first call compiles. Returns gA, computed (block_until_ready)."""
    grad = jax.jit(at_our_precision(jax.grad(lambda X, G: loss(fn(X), G))))
    return lambda: grad(A, G).block_until_ready()
