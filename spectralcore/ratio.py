"""Base for K̃ approximations through the eigenvalue ratio (TPAMI 2021 eq. 8, ICCV 2021 eq. 14):

    1/(λj − λi) = (1/λb) · 1/(1 − x),   x = λs/λb ∈ [0, 1],   λb = max, λs = min of the pair,

so a method approximates g(x) ≈ 1/(1 − x) on [0, 1] and K̃_ij = sign(j − i) · g(x)/λb.
Eigenvalues are raised to at least ε·s first (PSD input assumed), which keeps λb away from 0:
s is each matrix's spectral scale max|λ| (:func:`threshold_unit`), or 1 with ``relative=False``
(the papers' absolute ε). x does not depend on the units of A and λb scales with them, so with
the relative floor K̃(cA) = K̃(A)/c. The sign follows index order, so ties keep K̃ antisymmetric.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from ._array import pair_sign, threshold_unit
from .method import KernelBackward


class RatioBackward(KernelBackward):
    """Subclasses declare ``eps`` and ``relative`` options and write :meth:`geometric`, g(x) ≈ 1/(1 − x)."""

    if TYPE_CHECKING:  # each subclass's options
        eps: Any  # a float (Padé's may be None: see its floor)
        relative: bool

    @abc.abstractmethod
    def geometric(self, xp: Any, x: Any) -> Any:
        """g(x) ≈ 1/(1 − x) for x = λs/λb in [0, 1]."""

    def floor(self, xp: Any, w: Any) -> Any:
        """The value small eigenvalues are raised to, shape (...): ε·s (module doc)."""
        return self.eps * threshold_unit(xp, w, self.relative)

    def kernel(self, xp: Any, w: Any) -> Any:
        lam = xp.maximum(w, self.floor(xp, w)[..., None])
        li, lj = lam[..., :, None], lam[..., None, :]
        big = xp.maximum(li, lj)
        sign = pair_sign(xp, w)
        # x = 0 on the diagonal (sign 0 there), where λs/λb = 1 would give g = 1/(1 − 1) for Padé
        x = xp.where(sign != 0, xp.minimum(li, lj) / big, 0.0)
        return sign * self.geometric(xp, x) / big
