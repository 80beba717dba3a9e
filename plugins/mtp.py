"""sqrtm forward ``mtp``: matrix Taylor polynomial (ICLR 2022 eq. 10).

With c ≥ λmax (see :mod:`spectralcore.normalize`) and Z = I − A/c,
A^{1/2} ≈ √c Σ_{k=0..K} a_k Z^k, a_k the coefficients of (1 − z)^{1/2}; the inverse
root uses (1 − z)^{-1/2} and 1/√c. The polynomial by Paterson–Stockmeyer
(:mod:`spectralcore.matrix_polynomial`): 5 matrix products for K = 11 (Horner's rule: 10), about
2√K in general. The series converges slowly where A/c has eigenvalues near 0
(the error of degree K at λ/c = t is about (1 − t)^{K+1}), so it suits well-conditioned inputs.
Default K = 11 (ICLR 2022 §4.2). No threshold: c is A's own scale, so the method is equivariant
under A → tA (:mod:`spectralcore.normalize`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import SqrtmForward, hookimpl
from spectralcore._array import eye_like
from spectralcore.matrix_polynomial import evaluate
from spectralcore.matrix_polynomial import products as polynomial_products
from spectralcore.normalize import DEFAULT, Scale, ScaledRoot, check_normalize, normalizer
from spectralcore.normalize import products as normalizer_products
from spectralcore.products import add_scaled
from spectralcore.series import binomial_floats


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

    def products(self) -> int:
        """4 (c) + the polynomial's (:func:`spectralcore.matrix_polynomial.products`): 9 by default."""
        return normalizer_products(self.normalize) + polynomial_products(self.degree)

    def _series(self, xp: Any, A: Any, alpha: tuple[int, int]) -> tuple[Any, Scale]:
        scale = normalizer(xp, A, self.normalize)
        eye = eye_like(xp, A)
        Z = add_scaled(xp, eye, A, scale.power(-1.0), -1.0)  # I − A/c
        return evaluate(xp, Z, binomial_floats(alpha, self.degree), eye), scale

    def sqrtm(self, xp: Any, A: Any) -> tuple[Any, ScaledRoot]:
        P, scale = self._series(xp, A, (1, 2))
        return P * scale.power(0.5), ScaledRoot(P, scale)

    def invsqrtm(self, xp: Any, A: Any) -> tuple[Any, Scale]:
        P, scale = self._series(xp, A, (-1, 2))
        return P / scale.power(0.5), scale


@hookimpl
def spectralcore_sqrtm_forward() -> list[type]:
    return [MTP]
