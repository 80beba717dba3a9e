"""sqrtm forward ``mpa``: matrix Padé approximant (ICLR 2022 eq. 13).

With c ≥ λmax and Z = I − A/c, the [m/n] Padé approximant P_m/Q_n of (1 − z)^{1/2}
(coefficients computed exactly, :func:`spectralcore.series.pade`) gives
A^{1/2} ≈ √c Q_n(Z)⁻¹ P_m(Z) by one linear solve, and A^{-1/2} ≈ P_m(Z)⁻¹ Q_n(Z)/√c
(P and Q commute). max(m, n) − 1 matrix products. Default [5/5] (ICLR 2022 §4.2).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

from spectralcore import SqrtmForward, hookimpl
from spectralcore._array import eye_like, scale_matrix
from spectralcore.normalize import DEFAULT, check_normalize, normalizer
from spectralcore.series import binomial_series, pade


@dataclasses.dataclass(frozen=True)
class MPA(SqrtmForward):
    name = "mpa"
    claims = frozenset({"traceable"})
    reference = "ICLR 2022 eq. 13"
    accuracy = 3e-5

    m: int = 5
    n: int = 5
    normalize: str = DEFAULT

    def __post_init__(self) -> None:
        self._require(isinstance(self.m, int) and self.m >= 0, "m", "an int >= 0")
        self._require(isinstance(self.n, int) and self.n >= 0, "n", "an int >= 0")
        check_normalize(self)

    def _numerator_denominator(self, xp: Any, A: Any) -> tuple[Any, Any, Any]:
        p, q = pade(binomial_series(Fraction(1, 2), self.m + self.n), self.m, self.n)
        c = normalizer(xp, A, self.normalize)
        eye = eye_like(xp, A)
        Z = eye - A / scale_matrix(c)
        P, Q, power = float(p[0]) * eye, float(q[0]) * eye, eye
        for k in range(1, max(len(p), len(q))):
            power = Z if k == 1 else power @ Z
            if k < len(p):
                P = P + float(p[k]) * power
            if k < len(q):
                Q = Q + float(q[k]) * power
        return P, Q, scale_matrix(xp.sqrt(c))

    def sqrtm(self, xp: Any, A: Any) -> tuple[Any, None]:
        P, Q, root = self._numerator_denominator(xp, A)
        return xp.linalg.solve(Q, P) * root, None

    def invsqrtm(self, xp: Any, A: Any) -> tuple[Any, None]:
        P, Q, root = self._numerator_denominator(xp, A)
        return xp.linalg.solve(P, Q) / root, None


@hookimpl
def spectralcore_sqrtm_forward() -> list[type]:
    return [MPA]
