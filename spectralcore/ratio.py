"""Base for K̃ approximations through the eigenvalue ratio (TPAMI 2021 eq. 8, ICCV 2021 eq. 14):

    1/(λj − λi) = (1/λb) · 1/(1 − x),   x = λs/λb ∈ [0, 1],   λb = max, λs = min of the pair,

so a method approximates g(x) ≈ 1/(1 − x) on [0, 1] and K̃_ij = sign(j − i) · g(x)/λb.
Eigenvalues are raised to at least ε·s first (PSD input assumed), which keeps λb away from 0:
s is each matrix's spectral scale max|λ| (:func:`threshold_unit`), or 1 with ``relative=False``
(the papers' absolute ε). x does not depend on the units of A and λb scales with them, so with
the relative floor K̃(cA) = K̃(A)/c. The sign follows index order, so ties keep K̃ antisymmetric.
On the diagonal K̃_ii = 0 · g(x_ii)/λ_i = 0 exactly once ε > 0 keeps λ_i > 0 and g(x_ii) is finite:
x_ii = 1 where g(1) is finite (``finite_at_one``), else it is set to 0 there.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar

from ._array import pair_sign, reciprocal, threshold_unit
from .method import KernelBackward


class RatioBackward(KernelBackward):
    """Subclasses declare ``eps`` and ``relative`` options and write :meth:`geometric`, g(x) ≈ 1/(1 − x)."""

    # True when g(1) is finite (a polynomial): then x needs no masking on the diagonal, where it is 1
    finite_at_one: ClassVar[bool] = False

    if TYPE_CHECKING:  # each subclass's options
        eps: Any  # a float (Padé's may be None: see its floor)
        relative: bool

    @abc.abstractmethod
    def geometric(self, xp: Any, x: Any) -> Any:
        """g(x) ≈ 1/(1 − x) for x = λs/λb in [0, 1]."""

    def floor(self, xp: Any, w: Any) -> Any:
        """The value small eigenvalues are raised to, shape (...): ε·s (module doc)."""
        return self.eps * threshold_unit(xp, w, self.relative)

    def zero_diagonal(self) -> bool:
        """K̃_ii = 0 exactly when ε > 0 (module doc); ε = 0 (or Padé's default) may leave λ_i = 0."""
        return self.eps is not None and self.eps > 0

    def kernel(self, xp: Any, w: Any) -> Any:
        lam = xp.maximum(w, self.floor(xp, w)[..., None])
        li, lj = lam[..., :, None], lam[..., None, :]
        big = xp.maximum(li, lj)
        inverse = reciprocal(big)  # 1/λb
        sign = pair_sign(xp, w)
        if self.finite_at_one:
            x = xp.minimum(li, lj) * inverse
        else:  # one rounding in x, which g(x) ≈ 1/(1 − x) amplifies near ties; x = 0 on the diagonal
            x = xp.where(sign != 0, xp.minimum(li, lj) / big, 0.0)  # (sign 0 there), where g(1) = 1/(1 − 1)
        return sign * self.geometric(xp, x) * inverse
