"""Whitening and colouring transform (TPAMI 2021 §5.3.1, eqs. 30–33) for style and colour transfer.

Content features X_A (C × M_A) and style features X_B (C × M_B), channels first:

    S_w = (Σ_A + r_A I)^{-1/2}   (eq. 30),      X_w = S_w (X_A − μ_A)   (eq. 31),
    S_c = (Σ_B + r_B I)^{1/2}    (eq. 32),      X_A* = S_c X_w + μ_B    (eq. 33),

so X_A* has the mean and covariance of X_B (up to the ridges). Each ridge is relative to its own
covariance, r = ε trace(Σ)/C (``relative=True``, default: the transfer does not depend on the
units of either input; :func:`spectralcore.layers._groups.ridge`), or r = ε (``relative=False``).
On RGB pixels (C = 3) this transfers colours; on encoder features, style. ``alpha`` blends with
the content, α X_A* + (1 − α) X_A. Both roots go through ``sc.invsqrtm``/``sc.sqrtm`` with the
given method, so the transform is differentiable on torch and JAX (a style loss can train
through it).
"""

from __future__ import annotations

from typing import Any

from .._array import Array, namespace
from ..ops.sqrtm import invsqrtm, sqrtm
from ..validation import SpectralError
from ._groups import add_ridge, check_eps, moments


def _features(x: Array, name: str) -> Array:
    if x.ndim < 2:
        raise SpectralError(f"`{name}` must have shape (..., C, M) (channels, samples), got {tuple(x.shape)}")
    return x


def whiten(
    x: Array,
    *,
    eps: float = 1e-5,
    relative: bool = True,
    forward: Any = "eigh",
    backward: Any = "exact",
    check: bool = True,
    **options: Any,
) -> Array:
    """X_w = (Σ + rI)^{-1/2} (X − μ1ᵀ) of features x (..., C, M), r = ε trace(Σ)/C or ε (eqs. 30–31)."""
    xp = namespace(x)
    check_eps(eps)
    _, centred, cov = moments(xp, _features(x, "x"))
    W = invsqrtm(add_ridge(xp, cov, eps, relative), forward=forward, backward=backward, check=check, **options)
    return W @ centred


def colour(
    xw: Array,
    style: Array,
    *,
    eps: float = 1e-5,
    relative: bool = True,
    forward: Any = "eigh",
    backward: Any = "exact",
    check: bool = True,
    **options: Any,
) -> Array:
    """(Σ_B + rI)^{1/2} X_w + μ_B 1ᵀ: colour whitened features with the statistics of ``style``
    (..., C, M_B) (eqs. 32–33)."""
    xp = namespace(xw, style)
    check_eps(eps)
    mean, _, cov = moments(xp, _features(style, "style"))
    S = sqrtm(add_ridge(xp, cov, eps, relative), forward=forward, backward=backward, check=check, **options)
    return S @ xw + mean[..., None]


def wct(
    content: Array,
    style: Array,
    *,
    alpha: float = 1.0,
    eps: float = 1e-5,
    relative: bool = True,
    forward: Any = "eigh",
    backward: Any = "exact",
    check: bool = True,
    **options: Any,
) -> Array:
    """Whitening and colouring transform of ``content`` (..., C, M_A) to the mean and covariance
    of ``style`` (..., C, M_B), blended as α X_A* + (1 − α) X_A (module doc).

    >>> import numpy as np
    >>> from spectralcore.layers import wct
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.standard_normal((3, 500)), rng.standard_normal((3, 3)) @ rng.standard_normal((3, 400))
    >>> out = wct(a, b, eps=0.0)
    >>> bool(np.allclose(np.cov(out, bias=True), np.cov(b, bias=True)))
    True
    """
    if not 0 <= alpha <= 1:
        raise SpectralError(f"`alpha` must be in [0, 1], got {alpha!r}")
    content, style = _features(content, "content"), _features(style, "style")
    if content.shape[-2] != style.shape[-2]:
        raise SpectralError(
            f"`content` and `style` must have the same number of channels (axis -2), got "
            f"{content.shape[-2]} and {style.shape[-2]}"
        )
    method = dict(eps=eps, relative=relative, forward=forward, backward=backward, check=check, **options)
    out = colour(whiten(content, **method), style, **method)
    return out if alpha == 1 else alpha * out + (1 - alpha) * content
