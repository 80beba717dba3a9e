"""eigh backward ``lorentzian``: Lorentzian broadening 1/x → x/(x² + ε s²), x = λj − λi.

From automatic differentiation of tensor networks in physics (Liao et al., PRX 2019), with the
broadening measured in each matrix's own units: s = max|λ| (``relative=True``, default), so
K̃(cA) = K̃(A)/c, or s = 1 (``relative=False``: the paper's absolute ε). Computed as
K̃ = (u/(u² + ε))/s with u = x/s, which neither overflows nor underflows for any s.
|K̃_ij|·s ≤ 1/(2√ε) everywhere (the bound in units of A), 0 at exact ties, and the relative
error against 1/x is ε s²/(x² + ε s²), so gaps well above √ε·s are reproduced. Default
ε = 1e-12 (bound 5e5).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import KernelBackward, hookimpl
from spectralcore._array import pair_gap, threshold_unit


@dataclasses.dataclass(frozen=True)
class Lorentzian(KernelBackward):
    name = "lorentzian"
    claims = frozenset({"bounded", "traceable"})
    reference = "Liao et al., Phys. Rev. X 9, 031041 (2019)"
    accuracy = 1e-8

    eps: float = 1e-12
    relative: bool = True

    def validate(self) -> None:
        self.require(self.eps > 0, "eps", "> 0")

    def zero_diagonal(self) -> bool:
        """K̃_ii = (0/(0 + ε))/s = 0 for ε > 0."""
        return True

    def kernel(self, xp: Any, w: Any) -> Any:
        s = threshold_unit(xp, w, self.relative)[..., None, None]
        u = pair_gap(w) / s
        return u / (u * u + self.eps) / s


@hookimpl
def spectralcore_eigh_backward() -> list[type]:
    return [Lorentzian]
