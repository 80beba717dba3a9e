"""JAX layers: pure ``init``/``apply`` pairs with explicit state (optax-style; no flax).

A layer constructor fixes the static configuration (sizes, method names and options) and
returns a :class:`Layer` of two pure functions::

    zca = zca_whitening(16, groups=4, backward="taylor", via="eigh")
    params, state = zca.init()                                  # params: {"weight", "bias"}; state: ZCAState
    y, state = zca.apply(params, state, x, train=True)          # new state returned, nothing mutated
    y, _ = zca.apply(params, state, x, train=False)             # running statistics

``apply`` works under ``jax.jit`` (``train`` static: ``jax.jit(zca.apply, static_argnames="train")``),
``jax.vmap`` (e.g. over independent batches, ``in_axes=(None, None, 0)``) and ``jax.grad``
(differentiate ``lambda p: loss(zca.apply(p, state, x)[0])``; the returned state carries
no gradient: it is passed through ``jax.lax.stop_gradient``). Params and state are pytrees
(a dict and a NamedTuple).

The stateless layers are the backend-neutral functions themselves, re-exported here:
:func:`covariance_pooling`, :func:`wct`, :func:`whiten`, :func:`colour` (fix their keyword
options with ``functools.partial`` before ``jax.jit``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from spectralcore import layers as F
from spectralcore.layers import PCAState, ZCAState, colour, covariance_pooling, wct, whiten
from spectralcore.ops.eigh import eigh


class Layer(NamedTuple):
    """``init(dtype=None) -> (params, state)`` and
    ``apply(params, state, x, train=True) -> (y, new_state)``, both pure."""

    init: Callable[..., tuple[dict[str, Any], Any]]
    apply: Callable[..., tuple[Any, Any]]


def _affine_params(num_features: int, affine: bool, dtype: Any) -> dict[str, Any]:
    if not affine:
        return {}
    return {"weight": jnp.ones((num_features,), dtype=dtype), "bias": jnp.zeros((num_features,), dtype=dtype)}


def _default_dtype(dtype: Any) -> Any:
    return jnp.zeros(()).dtype if dtype is None else dtype  # float32, or float64 under jax_enable_x64


def zca_whitening(
    num_features: int,
    *,
    groups: int | None = None,
    group_size: int | None = None,
    eps: float = 1e-5,
    relative: bool = True,
    momentum: float = 0.1,
    affine: bool = True,
    eval_from: str = "covariance",
    via: str = "invsqrtm",
    forward: Any = "eigh",
    backward: Any = "exact",
    check: bool = True,
    **options: Any,
) -> Layer:
    """ZCA whitening / decorrelated batch norm (:func:`spectralcore.layers.zca_whitening`;
    TPAMI 2021 Alg. 2) as a pure layer: the ridge is ``eps`` trace(cov)/d of each batch covariance
    (``relative=False``: ``eps``). The method is validated here, not at the first call."""
    G, _ = F.group_shape(num_features, groups, group_size)
    F.check_method(via, forward, backward, options)
    method = dict(via=via, forward=forward, backward=backward, check=check, **options)

    def init(dtype: Any = None) -> tuple[dict[str, Any], ZCAState]:
        dtype = _default_dtype(dtype)
        return _affine_params(num_features, affine, dtype), F.zca_state(num_features, groups=G, xp=jnp, dtype=dtype)

    def apply(params: dict[str, Any], state: ZCAState, x: Any, train: bool = True) -> tuple[Any, ZCAState]:
        y, new_state = F.zca_whitening(
            x,
            state,
            train=train,
            weight=params.get("weight"),
            bias=params.get("bias"),
            eps=eps,
            relative=relative,
            momentum=momentum,
            eval_from=eval_from,
            **method,
        )
        return y, jax.lax.stop_gradient(new_state) if train else state

    return Layer(init, apply)


decorrelated_batch_norm = zca_whitening


def pca_denoising(
    num_features: int,
    *,
    k: int | None = None,
    preserve: float | None = 0.99,
    groups: int | None = None,
    group_size: int | None = None,
    eps: float = 1e-5,
    relative: bool = True,
    momentum: float = 0.1,
    affine: bool = True,
    forward: Any = "power-iteration",
    backward: Any = "power-iteration",
    check: bool = True,
    **options: Any,
) -> Layer:
    """PCA denoising (:func:`spectralcore.layers.pca_denoising`; NeurIPS 2019 §3.2) as a pure layer
    (ridge ``eps`` times the mean variance; ``relative=False``: ``eps``)."""
    G, _ = F.group_shape(num_features, groups, group_size)
    eigh.configure(None, forward=forward, backward=backward, **options)
    method = dict(forward=forward, backward=backward, check=check, **options)

    def init(dtype: Any = None) -> tuple[dict[str, Any], PCAState]:
        dtype = _default_dtype(dtype)
        return _affine_params(num_features, affine, dtype), F.pca_state(num_features, groups=G, xp=jnp, dtype=dtype)

    def apply(params: dict[str, Any], state: PCAState, x: Any, train: bool = True) -> tuple[Any, PCAState]:
        y, new_state = F.pca_denoising(
            x,
            state,
            train=train,
            k=k,
            preserve=preserve,
            weight=params.get("weight"),
            bias=params.get("bias"),
            eps=eps,
            relative=relative,
            momentum=momentum,
            **method,
        )
        return y, jax.lax.stop_gradient(new_state) if train else state

    return Layer(init, apply)


__all__ = [
    "Layer",
    "PCAState",
    "ZCAState",
    "colour",
    "covariance_pooling",
    "decorrelated_batch_norm",
    "pca_denoising",
    "wct",
    "whiten",
    "zca_whitening",
]
