"""sqrtm forward ``mtp``: matrix Taylor polynomial (ICLR 2022 eq. 10).

With c ≥ λmax (see :mod:`spectralcore.normalize`) and Z = I − A/c,
A^{1/2} ≈ √c Σ_{k=0..K} a_k Z^k, a_k the coefficients of (1 − z)^{1/2}; the inverse
root uses (1 − z)^{-1/2} and 1/√c. K − 1 matrix products (Horner), one kernel each on torch
(:mod:`spectralcore.products`). The series converges slowly where A/c has eigenvalues near 0
(the error of degree K at λ/c = t is about (1 − t)^{K+1}), so it suits well-conditioned inputs.
Default K = 11 (ICLR 2022 §4.2). No threshold: c is A's own scale, so the method is equivariant
under A → tA (:mod:`spectralcore.normalize`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import SqrtmForward, hookimpl
from spectralcore._array import eye_like, scale_matrix
from spectralcore.normalize import DEFAULT, check_normalize, normalizer, root_scale
from spectralcore.products import combination, gemm_eye
from spectralcore.series import binomial_floats


def matrix_horner(xp: Any, Z: Any, coefficients: tuple[float, ...]) -> Any:
    """Σ_k c_k Z^k by Horner's rule, T ← Z T + c_k I: deg − 1 matrix products, one kernel each on
    torch (:func:`spectralcore.products.gemm_eye`)."""
    eye = eye_like(xp, Z)
    total = combination(xp, coefficients[-2:], [eye, Z])
    for c in reversed(coefficients[:-2]):
        total = gemm_eye(xp, Z, total, c, eye=eye)
    return total


@dataclasses.dataclass(frozen=True)
class MTP(SqrtmForward):
    name = "mtp"
    claims = frozenset({"traceable"})
    reference = "ICLR 2022 eq. 10"
    accuracy = 2e-2

    degree: int = 11
    normalize: str = DEFAULT

    def validate(self) -> None:
        self.require(self.degree >= 1, "degree", "an int >= 1")
        check_normalize(self)

    def _series(self, xp: Any, A: Any, alpha: tuple[int, int]) -> Any:
        c = normalizer(xp, A, self.normalize)
        Z = eye_like(xp, A) - A / scale_matrix(c)
        return matrix_horner(xp, Z, binomial_floats(alpha, self.degree)), root_scale(xp, A, c)

    def sqrtm(self, xp: Any, A: Any) -> tuple[Any, None]:
        P, root = self._series(xp, A, (1, 2))
        return P * root, None

    def invsqrtm(self, xp: Any, A: Any) -> tuple[Any, None]:
        P, root = self._series(xp, A, (-1, 2))
        return P / root, None


@hookimpl
def spectralcore_sqrtm_forward() -> list[type]:
    return [MTP]
