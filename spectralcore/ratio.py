"""Base for K̃ approximations through the eigenvalue ratio (TPAMI 2021 eq. 8, ICCV 2021 eq. 14):

    1/(λj − λi) = (1/λb) · 1/(1 − x),   x = λs/λb ∈ [0, 1],   λb = max, λs = min of the pair,

so a method approximates g(x) ≈ 1/(1 − x) on [0, 1] and K̃_ij = sign(j − i) · g(x)/λb.
Eigenvalues below ``eps`` are raised to ``eps`` first (PSD input assumed), which keeps λb
away from 0. The sign follows index order, so ties keep K̃ antisymmetric.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from ._array import device, off_diagonal, pair_sign
from .method import KernelBackward


class RatioBackward(KernelBackward):
    """Subclasses declare an ``eps`` option and write :meth:`geometric`, g(x) ≈ 1/(1 − x)."""

    if TYPE_CHECKING:
        eps: Any  # each subclass's option: a float (Padé's may be None; Padé has its own floor)

    @abc.abstractmethod
    def geometric(self, xp: Any, x: Any) -> Any:
        """g(x) ≈ 1/(1 − x) for x = λs/λb in [0, 1]."""

    def floor(self, xp: Any, w: Any) -> float:
        """The value small eigenvalues are raised to (the ``eps`` option)."""
        return self.eps

    def kernel(self, xp: Any, w: Any) -> Any:
        lam = xp.maximum(w, xp.asarray(self.floor(xp, w), dtype=w.dtype, device=device(w)))
        li, lj = lam[..., :, None], lam[..., None, :]
        big = xp.maximum(li, lj)
        x = xp.where(off_diagonal(xp, w), xp.minimum(li, lj) / big, xp.zeros_like(big))
        return pair_sign(xp, w) * self.geometric(xp, x) / big
