"""eigh backward ``taylor`` (SVD-Taylor, TPAMI 2021 eq. 9).

1/(1 − x) ≈ 1 + x + … + x^K, so K̃_ij = sign(j − i) (1/λb) Σ_{k=0..K} (λs/λb)^k with
eigenvalues raised to at least ε·s, s = max|λ| of each matrix (``relative=True``, default; the
floor then scales with A, so gA(cA) = gA(A)/c) or s = 1 (``relative=False``: the paper's absolute
ε). Bounded in units of A: |K̃_ij|·s ≤ (K + 1)/ε, so ‖gA‖·s ≤ n (K + 1)/ε · ‖gV‖ (TPAMI 2021
eq. 15). Defaults K = 9, ε = 1e-2.
Proposition (TPAMI 2021 §3.3): for each eigenvector, degree K equals K + 1 power
iterations started at that eigenvector (``power-iteration`` backward, per deflation step).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import hookimpl
from spectralcore.ratio import RatioBackward


@dataclasses.dataclass(frozen=True)
class Taylor(RatioBackward):
    name = "taylor"
    claims = frozenset({"bounded", "traceable"})
    reference = "TPAMI 2021 eq. 9"
    accuracy = 3e-2

    degree: int = 9
    eps: float = 1e-2
    relative: bool = True

    def validate(self) -> None:
        self.require(self.degree >= 0, "degree", "an int >= 0")
        self.require(self.eps >= 0, "eps", ">= 0")

    def geometric(self, xp: Any, x: Any) -> Any:
        """Σ_{k=0..K} x^k by halving: S_2m = S_m (1 + x^m), S_m+1 = 1 + x S_m, about 2 log₂ K
        passes instead of Horner's 2K (the same number to rounding: every term is positive)."""
        return _geometric(xp, x, self.degree + 1)[0]


def _geometric(xp: Any, x: Any, terms: int, power: bool = False) -> tuple[Any, Any]:
    """(S_terms, x^terms if ``power`` else None), S_m = Σ_{k<m} x^k, for terms >= 1."""
    if terms == 1:
        return xp.ones_like(x), x
    if terms == 2:
        return 1 + x, (x * x if power else None)
    half, x_half = _geometric(xp, x, terms // 2, power=True)
    total = half + half * x_half  # S_2m = S_m + x^m S_m
    if terms % 2:
        return 1 + x * total, (x_half * x_half * x if power else None)
    return total, (x_half * x_half if power else None)


@hookimpl
def spectralcore_eigh_backward() -> list[type]:
    return [Taylor]
