"""Coupled Newton–Schulz iteration (iSQRT-COV; ICCV 2021 eq. 8): the ``newton-schulz``
sqrtm forward and its explicit backward.

With c ≥ λmax: Y₀ = A/c, Z₀ = I, T_k = (3I − Z_k Y_k)/2, Y_{k+1} = Y_k T_k,
Z_{k+1} = T_k Z_k; then A^{1/2} ≈ √c Y_K and A^{-1/2} ≈ Z_K/√c (both from one run).
3 matrix products per iteration; converges where the eigenvalues of A/c lie in (0, 2),
quadratically once near 1 and slowly for small ones. Default K = 5 (iSQRT-COV).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import SqrtmBackward, SqrtmForward, hookimpl
from spectralcore._array import eye_like, scale_matrix, sym
from spectralcore.normalize import DEFAULT, check_normalize, normalizer


@dataclasses.dataclass(frozen=True)
class NewtonSchulzOptions:
    iterations: int = 5
    normalize: str = DEFAULT

    def __post_init__(self) -> None:
        self._require(isinstance(self.iterations, int) and self.iterations >= 0, "iterations", "an int >= 0")
        check_normalize(self)

    def iterates(self, xp: Any, A: Any) -> tuple[list[tuple[Any, Any]], Any]:
        """[(Y_0, Z_0), …, (Y_K, Z_K)] and c."""
        c = normalizer(xp, A, self.normalize)
        Y, Z = A / scale_matrix(c), eye_like(xp, A)
        out = [(Y, Z)]
        for _ in range(self.iterations):
            T = (3 * eye_like(xp, A) - Z @ Y) / 2
            Y, Z = Y @ T, T @ Z
            out.append((Y, Z))
        return out, c


@dataclasses.dataclass(frozen=True)
class NewtonSchulz(NewtonSchulzOptions, SqrtmForward):
    name = "newton-schulz"
    claims = frozenset({"traceable"})
    reference = "ICCV 2021 eq. 8 (iSQRT-COV)"
    accuracy = 3e-6

    def sqrtm(self, xp: Any, A: Any) -> tuple[Any, None]:
        steps, c = self.iterates(xp, A)
        return steps[-1][0] * scale_matrix(xp.sqrt(c)), None

    def invsqrtm(self, xp: Any, A: Any) -> tuple[Any, None]:
        steps, c = self.iterates(xp, A)
        return steps[-1][1] / scale_matrix(xp.sqrt(c)), None


@dataclasses.dataclass(frozen=True)
class NewtonSchulzBackward(NewtonSchulzOptions, SqrtmBackward):
    """Reverse mode through the K coupled steps, re-run from A (nothing stored):

        gT = Y_kᵀ gY' + gZ' Z_kᵀ,  gY = gY' T_kᵀ − ½ Z_kᵀ gT,  gZ = T_kᵀ gZ' − ½ gT Y_kᵀ,

    and gA = gY₀/c. The scale c is held constant (at convergence √c Y_K(A/c) does not
    depend on c, so that path carries only the truncation error). 4 + 10K-ish products.
    """

    name = "newton-schulz"
    claims = frozenset({"traceable"})
    reference = "iSQRT-COV (Li et al. 2018) backward; ICLR 2022 Table 2"
    accuracy = 5e-5

    def _backprop(self, xp: Any, A: Any, gY: Any, gZ: Any) -> Any:
        steps, c = self.iterates(xp, A)
        eye = eye_like(xp, A)
        for Y, Z in reversed(steps[:-1]):
            T = (3 * eye - Z @ Y) / 2
            gT = Y.mT @ gY + gZ @ Z.mT
            gY, gZ = gY @ T.mT - Z.mT @ gT / 2, T.mT @ gZ - gT @ Y.mT / 2
        return sym(gY / scale_matrix(c))

    def vjp(self, xp: Any, A: Any, S: Any, gS: Any, eig: Any) -> Any:
        root = scale_matrix(xp.sqrt(normalizer(xp, A, self.normalize)))
        return self._backprop(xp, A, gS * root, xp.zeros_like(gS))

    def vjp_inverse(self, xp: Any, A: Any, W: Any, gW: Any, eig: Any) -> Any:
        root = scale_matrix(xp.sqrt(normalizer(xp, A, self.normalize)))
        return self._backprop(xp, A, xp.zeros_like(gW), gW / root)


@hookimpl
def spectralcore_sqrtm_forward() -> list[type]:
    return [NewtonSchulz]


@hookimpl
def spectralcore_sqrtm_backward() -> list[type]:
    return [NewtonSchulzBackward]
