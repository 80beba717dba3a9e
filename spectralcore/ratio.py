"""Base for K̃ approximations through the eigenvalue ratio (TPAMI 2021 eq. 8, ICCV 2021 eq. 14):

    1/(λj − λi) = (1/λb) · 1/(1 − x),   x = λs/λb ∈ [0, 1],   λb = max, λs = min of the pair,

so a method approximates g(x) ≈ 1/(1 − x) on [0, 1] and K̃_ij = sign(j − i) · g(x)/λb.
Eigenvalues are raised to at least ε·s first (PSD input assumed), which keeps λb away from 0:
s is each matrix's spectral scale max|λ| (:func:`threshold_unit`), or 1 with ``relative=False``
(the papers' absolute ε). x does not depend on the units of A and λb scales with them, so with
the relative floor K̃(cA) = K̃(A)/c.

With eigenvalues ascending (as ``xp.linalg.eigh`` returns them, and the floor keeps them), the
pair j > i has λb = λj and λs = λi, so K̃ = U − Uᵀ with U the strictly upper triangle of
g(λi/λj)/λj: one outer quotient and a scaled g (:meth:`RatioBackward.scaled_geometric`), no
minimum, maximum or sign matrix. K̃ is antisymmetric (ties included) with K̃_ii = 0 exactly. x is
set to 0 on and below the diagonal first, where it is 1 or more: g(1) may be infinite, and a
polynomial g overflows at x ≫ 1.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from ._array import reciprocal, threshold_unit
from .method import KernelBackward


class RatioBackward(KernelBackward):
    """Subclasses declare ``eps`` and ``relative`` options and write :meth:`geometric`, g(x) ≈ 1/(1 − x)."""

    if TYPE_CHECKING:  # each subclass's options
        eps: Any  # a float (Padé's may be None: see its floor)
        relative: bool

    @abc.abstractmethod
    def geometric(self, xp: Any, x: Any) -> Any:
        """g(x) ≈ 1/(1 − x) for x = λs/λb in [0, 1]."""

    def scaled_geometric(self, xp: Any, x: Any, scale: Any) -> Any:
        """scale · g(x), scale broadcasting against x; a subclass may fold the product into g."""
        return scale * self.geometric(xp, x)

    def floor(self, xp: Any, w: Any) -> Any:
        """The value small eigenvalues are raised to, shape (...): ε·s (module doc)."""
        return self.eps * threshold_unit(xp, w, self.relative)

    def zero_diagonal(self) -> bool:
        """K̃_ii = 0 exactly when the floor is positive (module doc); ε = 0 may leave λ_i = 0,
        where 1/λ_i and its derivative are infinite."""
        return self.eps is None or self.eps > 0

    def kernel(self, xp: Any, w: Any) -> Any:
        lam = xp.maximum(w, self.floor(xp, w)[..., None])  # ascending, like w
        x = lam[..., :, None] / lam[..., None, :]  # λs/λb above the diagonal, in one rounding
        x = xp.triu(x, k=1)  # 0 on and below the diagonal, where x ≥ 1 (module doc)
        inverse = reciprocal(lam)[..., None, :]  # 1/λj = 1/λb above the diagonal
        upper = xp.triu(self.scaled_geometric(xp, x, inverse), k=1)
        return upper - upper.mT
