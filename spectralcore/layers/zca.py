"""ZCA whitening / decorrelated batch normalisation (TPAMI 2021 Alg. 2; NeurIPS 2019 Alg. 1).

Per group of d channels, with the batch as a d × M data matrix X (M samples):

    μ = X̄,  X̃ = X − μ1ᵀ,  M = X̃X̃ᵀ/M,  S = (M + rI)^{-1/2} = V Λ^{-1/2} Vᵀ,  Y = S X̃,

so YYᵀ/M = M (M + rI)^{-1} ≈ I (exactly I as r → 0 on a full-rank batch), followed by the
affine map γY + β. The ridge r = ε trace(M)/d is relative to the batch covariance's own scale
(``relative=True``, default; :func:`spectralcore.layers._groups.ridge`), so the whitening does not
depend on the units of x: with the papers' absolute r = ε (``relative=False``), ε = 1e-5 leaves
‖YYᵀ/M − I‖/√d at 0.8 for features of size 1e-3 (docs/layers.md, "Whiteness against scale").

In training the running mean, covariance and whitening matrix are updated with momentum m,
Eμ ← (1 − m)Eμ + mμ (Alg. 2 line 10). In evaluation the batch is whitened with the running
statistics, by default as TPAMI 2021 Alg. 2 does: Y = (E_M + rI)^{-1/2} (X − Eμ1ᵀ), r relative to
E_M (``eval_from="covariance"``: the paper argues the running covariance is the more stable
average; in ``examples/zca_digits.py`` the running whitening matrix cost the full-spectrum eigh
methods 12–21 points of mean test accuracy — it averages the r^{-1/2} gains of null-space
directions that move during training). ``eval_from="whitening"`` uses the running whitening
matrix, Y = E_S (X − Eμ1ᵀ) (NeurIPS 2019 Alg. 1), with no decomposition at test time.

The whitening matrix is computed by one of the core ops, so any registered method works:

* ``via="invsqrtm"`` (default): ``sc.invsqrtm(M + rI, forward=…, backward=…, **options)``.
  ``forward="eigh", backward="exact"`` is exact and finite at repeated eigenvalues
  (Daleckii–Krein); ``forward="mpa", backward="lyapunov"`` is ICLR 2022 §4.2;
  ``forward="newton-schulz"`` is iSQRT-style; an eigh backward name (``"taylor"``,
  ``"pade"``, ``"clip"``, ``"power-iteration"``) goes through the eigenvector path.
* ``via="eigh"``: TPAMI 2021 Alg. 2 as printed: w, V = ``sc.eigh(M + rI, …)``,
  λ ← max(λ, r), S = V Λ^{-1/2} Vᵀ. ``backward="exact"`` is plain eigh autograd (the
  baseline that fails at close eigenvalues), ``"taylor"`` is SVD-Taylor,
  ``"power-iteration"`` SVD-PI; ``forward="power-iteration"`` adds NeurIPS 2019 Alg. 1's
  breaking conditions, so rejected (small-energy) directions are projected out
  (S = Ṽ Λ̃^{-1/2} Ṽᵀ over the accepted eigenvectors only).

Method options go to the op by keyword (``degree=9``); an option named like a layer argument
(the ``eps`` and ``relative`` of ``taylor``) is set by passing the method as an instance,
``backward=sc.methods.Taylor(degree=9, eps=1e-2)``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .._array import Array, eye_like, namespace
from ..ops.eigh import eigh
from ..ops.sqrtm import invsqrtm
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

VIAS = ("invsqrtm", "eigh")
EVAL_FROM = ("whitening", "covariance")


class ZCAState(NamedTuple):
    """Running statistics of :func:`zca_whitening`, per group: ``mean`` (G, d), ``covariance``
    (G, d, d) (the batch covariance, without ε) and ``whitening`` (G, d, d)."""

    mean: Array
    covariance: Array
    whitening: Array


def zca_state(
    num_features: int,
    *,
    groups: int | None = None,
    group_size: int | None = None,
    like: Array | None = None,
    xp: Any = None,
    dtype: Any = None,
    device: Any = None,
) -> ZCAState:
    """The initial state: mean 0, covariance I, whitening matrix I (TPAMI 2021 Alg. 2 line 3).

    The namespace, dtype and device come from ``like`` (an array) when given, else from
    ``xp``/``dtype``/``device`` (default: NumPy through array-api-compat, its default float).
    """
    G, d, xp, dtype, device, eye = state_layout(num_features, groups, group_size, like, xp, dtype, device)
    mean = xp.zeros((G, d), dtype=dtype, device=device)
    return ZCAState(mean, eye, eye)


def check_method(via: str, forward: Any, backward: Any, options: dict[str, Any]) -> None:
    """Raise now (not at the first batch) if the method configuration is invalid."""
    if via not in VIAS:
        raise SpectralError(f"`via` must be one of {VIAS}, got {via!r}")
    op = invsqrtm if via == "invsqrtm" else eigh
    op.configure(None, forward=forward, backward=backward, **options)


def whitening_matrix(
    A: Array,
    *,
    eps: float,
    relative: bool = True,
    via: str = "invsqrtm",
    forward: Any = "eigh",
    backward: Any = "exact",
    check: bool = True,
    **options: Any,
) -> Array:
    """S = (A + rI)^{-1/2} for symmetric positive semidefinite A (..., d, d), by ``via``, with
    r = ε trace(A)/d (``relative``) or ε (module doc)."""
    xp = namespace(A)
    r = ridge(xp, xp.linalg.diagonal(A), eps, relative)[..., None]
    A = A + r[..., None] * eye_like(xp, A)
    if via == "invsqrtm":
        return invsqrtm(A, forward=forward, backward=backward, check=check, **options)
    if via != "eigh":
        raise SpectralError(f"`via` must be one of {VIAS}, got {via!r}")
    w, V = eigh(A, forward=forward, backward=backward, check=check, **options)
    w = xp.maximum(w, r) if eps > 0 else w  # TPAMI 2021 Alg. 2 line 5: λi ← max(λi, ε), ε → r
    positive = w > 0  # rejected pairs (zero vectors) and, with ε = 0, a null space: left out
    root = xp.where(positive, 1 / xp.sqrt(xp.where(positive, w, xp.ones_like(w))), xp.zeros_like(w))
    return (V * root[..., None, :]) @ V.mT


def zca_whitening(
    x: Array,
    state: ZCAState,
    *,
    train: bool = True,
    weight: Array | None = None,
    bias: Array | None = None,
    eps: float = 1e-5,
    relative: bool = True,
    momentum: float = 0.1,
    eval_from: str = "covariance",
    via: str = "invsqrtm",
    forward: Any = "eigh",
    backward: Any = "exact",
    check: bool = True,
    **options: Any,
) -> tuple[Array, ZCAState]:
    """ZCA-whiten ``x`` (N, C, *spatial) per channel group; return ``(y, new_state)``.

    The groups (G, d) are read from ``state`` (made by :func:`zca_state`). ``train=True``
    whitens with the batch statistics and returns the updated running statistics;
    ``train=False`` whitens with the running ones (``eval_from``: ``"covariance"`` computes
    the whitening matrix from the running covariance with the same method, ``"whitening"``
    uses the running whitening matrix)
    and returns ``state`` unchanged. ``weight``/``bias`` (C,) are the affine γ, β. The ridge is
    ``eps`` trace(cov)/d of each covariance (``relative=False``: ``eps`` itself, the papers' setting).
    ``via``, ``forward``, ``backward`` and ``options`` choose the method (module doc);
    ``check=False`` skips the core's value checks.

    >>> import numpy as np
    >>> from spectralcore.layers import zca_state, zca_whitening
    >>> x = np.random.default_rng(0).standard_normal((256, 4)) @ np.diag([1.0, 2.0, 3.0, 4.0])
    >>> y, state = zca_whitening(x, zca_state(4), eps=0.0)
    >>> bool(np.allclose(y.T @ y / 256, np.eye(4)))
    True
    """
    xp = namespace(x)
    check_eps(eps)
    check_momentum(momentum)
    if eval_from not in EVAL_FROM:
        raise SpectralError(f"`eval_from` must be one of {EVAL_FROM}, got {eval_from!r}")
    method = dict(relative=relative, via=via, forward=forward, backward=backward, check=check, **options)
    G, d = state.mean.shape
    mean_run, cov_run, white_run = (xp.astype(s, x.dtype) for s in state)
    X = to_groups(xp, x, G, d)
    if train:
        mean, centred, cov = moments(xp, X)
        S = whitening_matrix(cov, eps=eps, **method)
        new_state = ZCAState(
            running(mean_run, mean, momentum), running(cov_run, cov, momentum), running(white_run, S, momentum)
        )
    else:
        centred = X - mean_run[..., None]
        S = white_run if eval_from == "whitening" else whitening_matrix(cov_run, eps=eps, **method)
        new_state = state
    y = from_groups(xp, S @ centred, tuple(x.shape))
    return affine(xp, y, weight, bias), new_state
