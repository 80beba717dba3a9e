"""Square root in the eigenbasis: the ``eigh`` sqrtm forward and the ``exact`` sqrtm backward.

Forward: S = V Λ^{1/2} Vᵀ, W = V Λ^{-1/2} Vᵀ (eigenvalues within rounding below 0 are taken as
0; further below, outside the domain, the result is NaN).
Backward: S X + X S = gS solved in the eigenbasis of S (Bartels–Stewart once the
eigenvectors are known): X = V ((Vᵀ gS V) / (√λi + √λj)) Vᵀ — the Daleckii–Krein rule
for f = √·, exact at repeated eigenvalues; unbounded only as λi + λj → 0.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import EighResult, SqrtmBackward, SqrtmForward, hookimpl
from spectralcore._array import rounding_clip
from spectralcore.linalg import SOLVERS, eigendecomposition, symmetric_eigh
from spectralcore.spectral import apply_function, daleckii_krein


def _roots(xp: Any, w: Any) -> Any:
    """√λ; eigenvalues within rounding below 0 count as 0, further below give NaN (``rounding_clip``)."""
    return xp.sqrt(rounding_clip(xp, w))


@dataclasses.dataclass(frozen=True)
class EighSqrtm(SqrtmForward):
    name = "eigh"
    claims = frozenset({"exact", "traceable"})
    reference = "A^{1/2} = V Λ^{1/2} Vᵀ"
    accuracy = 1e-8  # exact: rounding, measured ≤ 3e-11 (the suite's difference check)

    solver: str = "auto"  # as the eigh forward: "auto", "native" or "cupy"

    def validate(self) -> None:
        self.require(self.solver in SOLVERS, "solver", f"one of {SOLVERS}")

    def sqrtm(self, xp: Any, A: Any) -> tuple[Any, EighResult]:
        eig = symmetric_eigh(xp, A, self.solver)
        return apply_function(eig[1], _roots(xp, eig[0])), eig

    def invsqrtm(self, xp: Any, A: Any) -> tuple[Any, EighResult]:
        eig = symmetric_eigh(xp, A, self.solver)
        return apply_function(eig[1], 1 / _roots(xp, eig[0])), eig


@dataclasses.dataclass(frozen=True)
class ExactLyapunov(SqrtmBackward):
    name = "exact"
    claims = frozenset({"exact", "traceable"})
    reference = "ICLR 2022 eq. 15 (Bartels-Stewart in the eigenbasis)"
    accuracy = 1e-8  # exact: rounding, measured ≤ 3e-11 (the suite's difference check)
    daleckii_krein = True

    def vjp(self, xp: Any, A: Any, S: Any, gS: Any, saved: Any) -> Any:
        w, V = eigendecomposition(xp, A, saved)
        s = _roots(xp, w)
        return daleckii_krein(V, 1 / (s[..., :, None] + s[..., None, :]), gS)

    def jvp(self, xp: Any, A: Any, S: Any, dA: Any, saved: Any) -> Any:
        """dS = V ((Vᵀ dA V) / (√λi + √λj)) Vᵀ: the Daleckii–Krein map is its own transpose."""
        return self.vjp(xp, A, S, dA, saved)


@hookimpl
def spectralcore_sqrtm_forward() -> list[type]:
    return [EighSqrtm]


@hookimpl
def spectralcore_sqrtm_backward() -> list[type]:
    return [ExactLyapunov]
