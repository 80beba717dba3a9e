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
from spectralcore.products import add_scaled
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
        return _geometric(xp, x, self.degree + 1, xp.ones_like(x))

    def scaled_geometric(self, xp: Any, x: Any, scale: Any) -> Any:
        """scale · Σ_{k=0..K} x^k by halving (:func:`_geometric`), about 2 log₂ K passes instead of
        Horner's 2K, the scale taken in at the first step (the same number to rounding: every
        term is positive)."""
        return _geometric(xp, x, self.degree + 1, scale)


def _geometric(xp: Any, x: Any, terms: int, scale: Any) -> Any:
    """scale · S_terms, S_m = Σ_{k<m} x^k, for terms >= 1: S_2m = S_m + x^m S_m and
    S_2m+1 = S_m + x^m S_m+1 with S_m+1 = S_m + x^m (one fused kernel each on torch,
    ``add_scaled``), from S_1 = 1 and S_2 = 1 + x, each times scale (which broadcasts against x)."""
    if terms == 1:
        return xp.broadcast_to(scale, x.shape)
    if terms == 2:
        return add_scaled(xp, scale, x, scale)
    half = _geometric(xp, x, terms // 2, scale)
    power = x if terms // 2 == 1 else x ** (terms // 2)
    return add_scaled(xp, half, power, half if terms % 2 == 0 else add_scaled(xp, half, power, scale))


@hookimpl
def spectralcore_eigh_backward() -> list[type]:
    return [Taylor]
