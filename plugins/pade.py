"""eigh backward ``pade`` (SVD-Padé, ICCV 2021 eq. 21): 1/(1 − x) ≈ P_M(x)/Q_N(x).

The [M/N] Padé approximant is fitted to the degree M + N Taylor series of 1/(1 − x)
(coefficients computed exactly, :func:`spectralcore.series.pade`). That series *is* the
rational function 1/(1 − x), so for every N ≥ 1 the approximant equals it exactly:
P = 1, Q = 1 − x. Evaluated in floating point, K̃_ij = 1/(λb (1 − λs/λb)), i.e. the exact
gradient: x = 0.999 gives 1000.0000000000009 (float64) and x = 1 (a tie) divides by
zero. So this method does NOT bound the gradient at or near repeated eigenvalues (the
ICCV 2021 Table 10 bound of 4.5e15 concerns eigenvalues floored at EPS, not ties); it
only raises small eigenvalues to at least ε·s (default ε: the dtype's smallest normal number,
as the paper's EPS), s = max|λ| of each matrix (``relative=True``, default: the floor scales
with A) or s = 1 (``relative=False``: the paper's absolute EPS). The floor only touches
eigenvalues at rounding level of zero, so both give the same K̃ to rounding on PSD input.
N = 0 gives the Taylor polynomial of degree M. Defaults M = N = 50 (the paper's degree 100).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import hookimpl
from spectralcore._array import threshold_unit
from spectralcore.ratio import RatioBackward
from spectralcore.series import pade_floats


def horner(coefficients: tuple[float, ...], x: Any) -> Any:
    """Σ_k c_k x^k evaluated by Horner's rule (the first step c_{K−1} + c_K x in one pass when
    c_K = ±1)."""
    *rest, last = coefficients
    if not rest:
        return last + 0 * x
    total = rest[-1] + x if last == 1 else rest[-1] - x if last == -1 else rest[-1] + x * last
    for c in reversed(rest[:-1]):
        total = c + x * total
    return total


@dataclasses.dataclass(frozen=True)
class Pade(RatioBackward):
    name = "pade"
    claims = frozenset({"exact", "traceable"})
    reference = "ICCV 2021 eq. 21"
    accuracy = 1e-8  # exact: rounding, measured ≤ 3e-11 (the suite's difference check)

    m: int = 50
    n: int = 50
    eps: float | None = None
    relative: bool = True

    def validate(self) -> None:
        self.require(self.m >= 0, "m", "an int >= 0")
        self.require(self.n >= 0, "n", "an int >= 0")
        self.require(self.eps is None or self.eps >= 0, "eps", "None or >= 0")

    @property
    def coefficients(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(p, q) of the [m/n] approximant of 1/(1 − x), lowest degree first, q[0] = 1."""
        return pade_floats((-1, 1), self.m, self.n)

    def floor(self, xp: Any, w: Any) -> Any:
        eps = float(xp.finfo(w.dtype).smallest_normal) if self.eps is None else self.eps
        return eps * threshold_unit(xp, w, self.relative)

    def geometric(self, xp: Any, x: Any) -> Any:
        return self.scaled_geometric(xp, x, 1.0)

    def scaled_geometric(self, xp: Any, x: Any, scale: Any) -> Any:
        """scale · P(x)/Q(x), one division: scale/Q(x) for every [m/n] with n >= 1 (P = 1)."""
        p, q = self.coefficients
        return (scale if p == (1.0,) else scale * horner(p, x)) / horner(q, x)


@hookimpl
def spectralcore_eigh_backward() -> list[type]:
    return [Pade]
