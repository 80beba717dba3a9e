"""sqrtm backward ``lyapunov``: S X + X S = gS solved by the matrix sign function (ICLR 2022 Alg. 2).

sign([[B, C], [0, −B]]) = [[I, 2X], [0, −I]] when B X + X B = C. Newton–Schulz on that
block matrix, with B₀ = S/c and C₀ = gS/c (c ≥ ‖S‖₂):

    B_{k+1} = ½ B_k (3I − B_k²),   C_{k+1} = ½ (−B_k² C_k + B_k C_k B_k + C_k (3I − B_k²)),

and X = ½ C_K. With M_k = (3I − B_k²)/2 that is B_{k+1} = 1.5 B_k − ½ B_k B_k² and
C_{k+1} = 1.5 C_k − ½ C_k B_k² + ½ B_k (C_k B_k − B_k C_k): 6 matrix products per iteration (5 in
the last, which needs no B), no inverse, no identity, and 6 kernels on torch (the scalings and
sums fused into the products: :mod:`spectralcore.products`). The steps are linear in C and commute
with transposition, so C₀ = gS/c needs no symmetrisation and X = ½ sym(C_K) = ¼ (C_K + C_Kᵀ),
the ¼ folded into the last step's products. After an ``mpa``,
``mtp`` or ``newton-schulz`` forward with the same normalisation, c of S is √c of A, taken from
the forward (:func:`spectralcore.normalize.root_inverse`): no products for it; after ``mpa`` and
``mtp`` B₀ is their saved root of A/c (:func:`spectralcore.normalize.normalized_root`).
Converges for eigenvalues of B₀ in (0, √3), slowly for small ones — hence the normalisation matters: on a 64 × 64
sample covariance of 256 samples (condition number 7.8), 8 iterations give a relative
gradient error of 9e-3 with the papers' Frobenius normalisation and 5e-15 with
``normalize="spectral"`` (the default); Frobenius needs 12 iterations for the same.
Default 8 iterations (ICLR 2022 §4.2). No threshold: c is S's own scale, so
gA(tA) = t^{−1/2} gA(A) (:mod:`spectralcore.normalize`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import SqrtmBackward, hookimpl
from spectralcore.normalize import DEFAULT, check_normalize, normalized_root
from spectralcore.products import gemm


@dataclasses.dataclass(frozen=True)
class Lyapunov(SqrtmBackward):
    name = "lyapunov"
    claims = frozenset({"traceable"})
    reference = "ICLR 2022 Alg. 2"
    accuracy = 1e-10

    iterations: int = 8
    normalize: str = DEFAULT

    def validate(self) -> None:
        self.require(self.iterations >= 0, "iterations", "an int >= 0")
        check_normalize(self)

    def products(self) -> int:
        """6 per iteration less the last B update: 47 by default, after an ``mpa``, ``mtp`` or
        ``newton-schulz`` forward of the same normalisation (whose scale of A it reuses); 4 more
        for S's own scale after any other forward, 3 more for the inverse root."""
        return max(6 * self.iterations - 1, 0)

    def vjp(self, xp: Any, A: Any, S: Any, gS: Any, saved: Any) -> Any:
        B, inverse = normalized_root(xp, saved, self.normalize, S)
        C = gS * inverse
        if self.iterations == 0:
            return (C + C.mT) / 4
        for k in range(self.iterations):
            # ¼ of the last step: X = ½ sym(C_K) = ¼ (C_K + C_Kᵀ), its scaling in the products'
            last = 0.25 if k + 1 == self.iterations else 1.0
            B2 = B @ B
            commutator = gemm(xp, C, B, B @ C, beta=-1.0)  # C B − B C
            CM = gemm(xp, C, B2, C, -0.5 * last, 1.5 * last)  # C (3I − B²)/2
            C = gemm(xp, B, commutator, CM, alpha=0.5 * last)
            B = gemm(xp, B, B2, B, -0.5, 1.5) if last == 1.0 else B  # B (3I − B²)/2; the last is not needed
        return C + C.mT

    def jvp(self, xp: Any, A: Any, S: Any, dA: Any, saved: Any) -> Any:
        """dS from S dS + dS S = dA: the same equation, so the same iteration (each step's map
        C ↦ C M + ½ (B C B − B² C) is self-adjoint and the steps commute: polynomials in S)."""
        return self.vjp(xp, A, S, dA, saved)


@hookimpl
def spectralcore_sqrtm_backward() -> list[type]:
    return [Lyapunov]
