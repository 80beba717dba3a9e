"""Global covariance pooling (MPN-COV / iSQRT-COV; ICCV 2021 eqs. 1–3, 7–9): the per-sample
channel covariance of a feature map, normalised by its matrix square root or a matrix power.

For one sample with features X (C × L, L = prod(spatial) positions):

    P = X Ī Xᵀ,  Ī = (I − 11ᵀ/L)/L   (ICCV 2021 eq. 1),   Q = (P + rI)^p,

with the ridge r = ε trace(P)/C relative to each sample's own covariance (``relative=True``,
default: Q(cx) = c^{2p} Q(x), whatever the units of the features; see
:func:`spectralcore.layers._groups.ridge`) or r = ε (``relative=False``, the absolute ridge), and
p = 1/2 by default (ICCV 2021 eq. 3, the matrix square root) and any other p through
``sc.matrix_power`` (the matrix power normalisation of MPN-COV). ``forward``/``backward``
choose the method: for p = 1/2 any sqrtm method (``"newton-schulz"`` for both is
iSQRT-COV, eq. 7; ``"mpa"``/``"lyapunov"`` is ICLR 2022; ``forward="eigh"`` with an eigh
backward name such as ``"pade"`` or ``"taylor"`` is the SVD-Padé / SVD-Taylor of ICCV
2021); for other p an eigh forward and ``backward="exact"`` (Daleckii–Krein) or any eigh
backward. The iterative methods pre-normalise P and post-compensate themselves (the
core's ``normalize=`` option), so Q is the true root either way. ``triu=True`` returns
the upper triangle (diagonal included) as a vector of C(C+1)/2 entries per sample, the
usual input of the classifier.
"""

from __future__ import annotations

import math
from typing import Any

from .._array import Array, namespace
from .._array import device as device_of
from ..ops.spectral import matrix_power
from ..ops.sqrtm import sqrtm
from ..validation import SpectralError
from ._groups import add_ridge, check_eps, moments


def covariance(x: Array) -> Array:
    """Per-sample channel covariance P = X Ī Xᵀ (N, C, C) of features x (N, C, *spatial)."""
    xp = namespace(x)
    if x.ndim < 3:
        raise SpectralError(
            f"`x` must have shape (N, C, *spatial) with at least one spatial axis, got {tuple(x.shape)}"
        )
    X = xp.reshape(x, (x.shape[0], x.shape[1], math.prod(x.shape[2:])))
    return moments(xp, X)[2]


def upper_triangle(P: Array) -> Array:
    """The upper triangle of (..., C, C), diagonal included, row by row: (..., C(C+1)/2)."""
    xp = namespace(P)
    C = P.shape[-1]
    index = xp.asarray([i * C + j for i in range(C) for j in range(i, C)], device=device_of(P))
    return xp.take(xp.reshape(P, tuple(P.shape[:-2]) + (C * C,)), index, axis=-1)


def covariance_pooling(
    x: Array,
    *,
    power: float = 0.5,
    eps: float = 1e-5,
    relative: bool = True,
    triu: bool = False,
    forward: Any = "eigh",
    backward: Any = "exact",
    check: bool = True,
    **options: Any,
) -> Array:
    """Q = (P + rI)^power of each sample's covariance P, r = ε trace(P)/C or ε (module doc); x (N, C, *spatial) gives
    (N, C, C), or (N, C(C+1)/2) with ``triu=True``.

    >>> import numpy as np
    >>> from spectralcore.layers import covariance_pooling
    >>> x = np.random.default_rng(0).standard_normal((2, 3, 5, 5))
    >>> Q = covariance_pooling(x, eps=0.0)
    >>> bool(np.allclose(Q @ Q, covariance_pooling(x, power=1.0, eps=0.0)))
    True
    """
    xp = namespace(x)
    check_eps(eps)
    P = add_ridge(xp, covariance(x), eps, relative)
    if power == 0.5:
        Q = sqrtm(P, forward=forward, backward=backward, check=check, **options)
    elif power == 1:
        Q = P
    else:
        Q = matrix_power(P, power, forward=forward, backward=backward, check=check, **options)
    return upper_triangle(Q) if triu else Q
