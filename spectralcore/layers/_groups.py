"""Batch statistics per channel group, shared by the normalisation layers (ZCA, PCA denoising).

Inputs follow the batch-norm layout (N, C, *spatial). The C channels are split into G
groups of d = C/G consecutive channels; every group is a d × M data matrix with
M = N · prod(spatial) samples (TPAMI 2021 §5.1.2: "the c output channels … are
partitioned into G groups so that each one contains only d = c/G features").
Written against the Array API namespace of the input only.
"""

from __future__ import annotations

import math
from typing import Any

from .._array import Array, eye_like, namespace, sym
from .._array import device as device_of
from ..validation import SpectralError


def group_shape(num_features: int, groups: int | None = None, group_size: int | None = None) -> tuple[int, int]:
    """(G, d) for ``num_features`` channels split by a number of ``groups`` or a ``group_size``
    (one of them; neither means one group of all channels)."""
    if not isinstance(num_features, int) or num_features < 1:
        raise SpectralError(f"`num_features` must be an int >= 1, got {num_features!r}")
    if groups is not None and group_size is not None:
        raise SpectralError(
            f"pass `groups` or `group_size`, not both (got groups={groups!r}, group_size={group_size!r})"
        )
    if group_size is not None:
        if not isinstance(group_size, int) or group_size < 1 or num_features % group_size:
            raise SpectralError(
                f"`group_size` must be an int >= 1 dividing num_features={num_features}, got {group_size!r}"
            )
        return num_features // group_size, group_size
    groups = 1 if groups is None else groups
    if not isinstance(groups, int) or groups < 1 or num_features % groups:
        raise SpectralError(f"`groups` must be an int >= 1 dividing num_features={num_features}, got {groups!r}")
    return groups, num_features // groups


def state_layout(
    num_features: int, groups: int | None, group_size: int | None, like: Array | None, xp: Any, dtype: Any, device: Any
) -> tuple[int, int, Any, Any, Any, Array]:
    """(G, d, xp, dtype, device, I) for a layer's initial state: the namespace, dtype and device
    come from ``like`` when given, else from the arguments (default: NumPy, its default float);
    I is the (G, d, d) stack of identities."""
    G, d = group_shape(num_features, groups, group_size)
    if like is not None:
        xp = namespace(like) if xp is None else xp
        dtype = like.dtype if dtype is None else dtype
        device = device_of(like) if device is None else device
    if xp is None:
        import array_api_compat.numpy as xp
    eye = xp.zeros((G, d, d), dtype=dtype, device=device) + xp.eye(d, dtype=dtype, device=device)
    return G, d, xp, dtype, device, eye


def to_groups(xp: Any, x: Array, groups: int, d: int) -> Array:
    """(N, C, *spatial) → (G, d, N · prod(spatial)), C = G d."""
    if x.ndim < 2 or x.shape[1] != groups * d:
        raise SpectralError(
            f"`x` must have shape (N, {groups * d}, ...) (batch, channels, spatial...), got {tuple(x.shape)}"
        )
    n, rest = x.shape[0], math.prod(x.shape[2:])
    x = xp.reshape(x, (n, groups, d, rest))
    return xp.reshape(xp.permute_dims(x, (1, 2, 0, 3)), (groups, d, n * rest))


def from_groups(xp: Any, y: Array, shape: tuple[int, ...]) -> Array:
    """The inverse of :func:`to_groups`: (G, d, N · prod(spatial)) → ``shape``."""
    groups, d = y.shape[0], y.shape[1]
    n, rest = shape[0], math.prod(shape[2:])
    y = xp.permute_dims(xp.reshape(y, (groups, d, n, rest)), (2, 0, 1, 3))
    return xp.reshape(y, tuple(shape))


def moments(xp: Any, X: Array) -> tuple[Array, Array, Array]:
    """Mean μ (..., d), centred X̃ = X − μ1ᵀ and covariance X̃X̃ᵀ/M (..., d, d) of X (..., d, M).

    The biased (1/M) estimator: the one under which the whitened batch has identity covariance.
    One sample (M = 1) has no covariance (it is 0 after centring): an error, not a silent 0.
    """
    if X.shape[-1] < 2:
        raise SpectralError(f"a covariance needs at least 2 samples (batch × spatial positions), got {X.shape[-1]}")
    mean = xp.mean(X, axis=-1)
    centred = X - mean[..., None]
    cov = sym(centred @ centred.mT / X.shape[-1])
    return mean, centred, cov


def ridge(xp: Any, variances: Array, eps: float, relative: bool) -> Array:
    """The ridge of a covariance A with diagonal ``variances`` (..., n), shape (...):
    ε trace(A)/n = ε mean(variances) when ``relative`` (default of every layer), else ε (the
    papers' absolute ridge, in the units of A).

    trace(A)/n is the mean eigenvalue (the mean variance of a covariance): each matrix's own
    scale, read off its diagonal before any decomposition (the ridge goes into the matrix that is
    decomposed; λmax would need one), equivariant (cA → c trace/n) and invariant under rotations,
    so a whitened or pooled output does not depend on the units of the data. A zero covariance
    (a group of constant channels) has no scale: its unit is 1 (the absolute ridge ε, as
    :func:`spectralcore.normalize.normalizer` takes c = 1 for a zero matrix), which keeps it finite.
    """
    absolute = xp.full(variances.shape[:-1], eps, dtype=variances.dtype, device=device_of(variances))
    if not relative:
        return absolute
    scale = xp.mean(variances, axis=-1)
    return xp.where(scale >= xp.finfo(variances.dtype).smallest_normal, eps * scale, absolute)


def add_ridge(xp: Any, A: Array, eps: float, relative: bool) -> Array:
    """A + r I with r the :func:`ridge` of each matrix of A (..., n, n)."""
    return A + ridge(xp, xp.linalg.diagonal(A), eps, relative)[..., None, None] * eye_like(xp, A)


def running(old: Array, new: Array, momentum: float) -> Array:
    """(1 − m) old + m new (TPAMI 2021 Alg. 2 line 10; PyTorch batch-norm convention, m = 0.1)."""
    return (1 - momentum) * old + momentum * new


def affine(xp: Any, y: Array, weight: Array | None, bias: Array | None) -> Array:
    """γ y + β with per-channel γ, β of shape (C,) broadcast over (N, C, *spatial)."""
    shape = (y.shape[1],) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * xp.reshape(weight, shape)
    if bias is not None:
        y = y + xp.reshape(bias, shape)
    return y


def check_momentum(momentum: float) -> None:
    if not 0 <= momentum <= 1:
        raise SpectralError(f"`momentum` must be in [0, 1], got {momentum!r}")


def check_eps(eps: float, name: str = "eps") -> None:
    if not eps >= 0:
        raise SpectralError(f"`{name}` must be >= 0, got {eps!r}")
