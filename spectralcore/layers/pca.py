"""PCA denoising layer (NeurIPS 2019 §3.2): project standardised features onto their top
eigenvectors, found by power iteration with deflation, and back.

Per group of d channels, with the batch as a d × M data matrix X:

    Z = (X − μ1ᵀ) / √(σ² + r),   M = ZZᵀ/M,   Ṽ = the top-e eigenvectors of M,   Y = Ṽ Ṽᵀ Z,

then the affine map γY + β. The ridge r = ε mean(σ²) = ε trace(cov)/d is relative to the
group's own variance (``relative=True``, default: Y does not depend on the units of x; see
:func:`spectralcore.layers._groups.ridge`) or r = ε (``relative=False``, the absolute one).

e is ``k`` when given, and otherwise the smallest e whose eigenvalues hold a fraction
``preserve`` of the variance, γ_e = Σ_{i≤e} λi / Σ λi ≥ preserve (the paper's dynamic choice;
0.99 was its best setting). The default method is the paper's:
``forward="power-iteration"`` (NeurIPS 2019 Alg. 1 — its breaking conditions may keep
fewer vectors still) and ``backward="power-iteration"`` (eq. 4, K = 19 steps); any eigh
forward and backward name works, with its options. Training uses the batch statistics
and updates the running mean, variance and projector Ṽ Ṽᵀ with momentum (Alg. 1 lines
12–13, the running "subspace"); evaluation uses the running ones.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .._array import Array, namespace
from .._array import device as device_of
from ..ops.eigh import eigh
from ..validation import SpectralError
from ._groups import (
    affine,
    check_eps,
    check_momentum,
    from_groups,
    moments,
    ridge,
    running,
    state_layout,
    to_groups,
)


class PCAState(NamedTuple):
    """Running statistics of :func:`pca_denoising`, per group: ``mean`` (G, d), ``variance``
    (G, d) and ``projector`` (G, d, d)."""

    mean: Array
    variance: Array
    projector: Array


def pca_state(
    num_features: int,
    *,
    groups: int | None = None,
    group_size: int | None = None,
    like: Array | None = None,
    xp: Any = None,
    dtype: Any = None,
    device: Any = None,
) -> PCAState:
    """The initial state: mean 0, variance 1, projector I (namespace, dtype and device as
    :func:`spectralcore.layers.zca_state`)."""
    G, d, xp, dtype, device, eye = state_layout(num_features, groups, group_size, like, xp, dtype, device)
    return PCAState(xp.zeros((G, d), dtype=dtype, device=device), xp.ones((G, d), dtype=dtype, device=device), eye)


def kept_mask(xp: Any, w: Array, k: int | None, preserve: float | None) -> Array:
    """Which eigenpairs (eigenvalues ascending, shape (..., d)) the layer keeps: the top ``k``,
    and those needed to reach the fraction ``preserve`` of Σλ (a pair is kept while the
    variance of the larger ones before it is below ``preserve``). Float 0/1 mask, traceable."""
    d = w.shape[-1]
    idx = xp.arange(d, device=device_of(w))
    keep = xp.ones(w.shape, dtype=xp.bool, device=device_of(w))
    if k is not None:
        keep = keep & (idx >= d - k)
    if preserve is not None:
        larger = xp.astype(idx[:, None] > idx[None, :], w.dtype)  # larger[j, i]: λj comes before λi
        before = w @ larger  # Σ_{j>i} λj, (..., d)
        total = xp.sum(w, axis=-1)[..., None]
        total = xp.where(total > 0, total, xp.ones_like(total))
        keep = keep & (before / total < preserve)
    return xp.astype(keep, w.dtype)


def pca_denoising(
    x: Array,
    state: PCAState,
    *,
    train: bool = True,
    k: int | None = None,
    preserve: float | None = 0.99,
    weight: Array | None = None,
    bias: Array | None = None,
    eps: float = 1e-5,
    relative: bool = True,
    momentum: float = 0.1,
    forward: Any = "power-iteration",
    backward: Any = "power-iteration",
    check: bool = True,
    **options: Any,
) -> tuple[Array, PCAState]:
    """PCA-denoise ``x`` (N, C, *spatial) per channel group; return ``(y, new_state)``.

    ``k`` keeps at most that many top eigenvectors, ``preserve`` the fewest that hold that
    fraction of the variance (``None`` switches a criterion off). The ridge r (``eps`` times the
    mean variance, or ``eps`` with ``relative=False``) is added to the variance before dividing.
    ``forward``, ``backward`` and ``options`` go to ``sc.eigh`` (``iterations=`` reaches both
    power-iteration methods; pass instances to set them apart). Groups come from ``state`` (:func:`pca_state`).

    >>> import numpy as np
    >>> from spectralcore.layers import pca_state, pca_denoising
    >>> x = np.random.default_rng(0).standard_normal((128, 6))
    >>> y, state = pca_denoising(x, pca_state(6), k=2, preserve=None)
    >>> int(np.linalg.matrix_rank(y))
    2
    """
    xp = namespace(x)
    check_eps(eps)
    check_momentum(momentum)
    G, d = state.mean.shape
    if k is not None and (not isinstance(k, int) or not 1 <= k <= d):
        raise SpectralError(f"`k` must be an int in [1, {d}] (the group size) or None, got {k!r}")
    if preserve is not None and not 0 < preserve <= 1:
        raise SpectralError(f"`preserve` must be in (0, 1] or None, got {preserve!r}")
    mean_run, var_run, proj_run = (xp.astype(s, x.dtype) for s in state)
    X = to_groups(xp, x, G, d)
    if train:
        mean, centred, cov = moments(xp, X)
        var = xp.sum(centred * centred, axis=-1) / X.shape[-1]
        floored = var + ridge(xp, var, eps, relative)[..., None]
        Z = centred / xp.sqrt(floored)[..., None]
        corr = cov / xp.sqrt(floored[..., :, None] * floored[..., None, :])  # = ZZᵀ/M
        w, V = eigh(corr, forward=forward, backward=backward, check=check, **options)
        V = V * kept_mask(xp, w, k, preserve)[..., None, :]
        P = V @ V.mT
        new_state = PCAState(
            running(mean_run, mean, momentum), running(var_run, var, momentum), running(proj_run, P, momentum)
        )
    else:
        Z = (X - mean_run[..., None]) / xp.sqrt(var_run + ridge(xp, var_run, eps, relative)[..., None])[..., None]
        P = proj_run
        new_state = state
    y = from_groups(xp, P @ Z, tuple(x.shape))
    return affine(xp, y, weight, bias), new_state
