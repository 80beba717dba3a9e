"""eigh backward ``lorentzian``: Lorentzian broadening 1/x → x/(x² + ε), x = λj − λi.

From automatic differentiation of tensor networks in physics (Liao et al., PRX 2019).
|K̃_ij| ≤ 1/(2√ε) everywhere, 0 at exact ties, and the relative error against 1/x is
ε/(x² + ε), so gaps well above √ε are reproduced. Default ε = 1e-12 (bound 5e5).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import KernelBackward, hookimpl
from spectralcore._array import pair_gap


@dataclasses.dataclass(frozen=True)
class Lorentzian(KernelBackward):
    name = "lorentzian"
    claims = frozenset({"bounded", "traceable"})
    reference = "Liao et al., Phys. Rev. X 9, 031041 (2019)"
    accuracy = 1e-8

    eps: float = 1e-12

    def validate(self) -> None:
        self.require(self.eps > 0, "eps", "> 0")

    def kernel(self, xp: Any, w: Any) -> Any:
        gap = pair_gap(w)
        return gap / (gap * gap + self.eps)


@hookimpl
def spectralcore_eigh_backward() -> list[type]:
    return [Lorentzian]
