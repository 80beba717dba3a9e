"""Square root in the eigenbasis: the ``eigh`` sqrtm forward and the ``exact`` sqrtm backward.

Forward: S = V Λ^{1/2} Vᵀ, W = V Λ^{-1/2} Vᵀ (eigenvalues within rounding below 0 are taken as
0; further below, outside the domain, the result is NaN).
Backward: S X + X S = gS solved in the eigenbasis of S (Bartels–Stewart once the
eigenvectors are known): X = V ((Vᵀ gS V) / (√λi + √λj)) Vᵀ — the Daleckii–Krein rule
for f = √·, exact at repeated eigenvalues; unbounded only as λi + λj → 0. For W = A^{-1/2}
after the eigh forward it is the rule of f = λ^{-1/2} itself, Γ_ij = −1/(√λi √λj (√λi + √λj)),
which equals the generic route gS = −W gW W (three products fewer, the same number to rounding).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import EighResult, SqrtmBackward, SqrtmForward, hookimpl
from spectralcore._array import rounding_clip
from spectralcore.linalg import SOLVERS, eigendecomposition, symmetric_eigh
from spectralcore.spectral import apply_function, daleckii_krein_halved, half_inverse_root_gamma, half_root_gamma, roots


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
        return apply_function(eig[1], roots(xp, eig[0])), eig

    def invsqrtm(self, xp: Any, A: Any) -> tuple[Any, EighResult]:
        eig = symmetric_eigh(xp, A, self.solver)
        return apply_function(eig[1], rounding_clip(xp, eig[0]) ** -0.5), eig


@dataclasses.dataclass(frozen=True)
class ExactLyapunov(SqrtmBackward):
    name = "exact"
    claims = frozenset({"exact", "traceable"})
    reference = "ICLR 2022 eq. 15 (Bartels-Stewart in the eigenbasis)"
    accuracy = 1e-8  # exact: rounding, measured ≤ 3e-11 (the suite's difference check)
    daleckii_krein = True

    def vjp(self, xp: Any, A: Any, S: Any, gS: Any, saved: Any) -> Any:
        w, V = eigendecomposition(xp, A, saved)
        return daleckii_krein_halved(V, half_root_gamma(xp, w), gS)

    def jvp(self, xp: Any, A: Any, S: Any, dA: Any, saved: Any) -> Any:
        """dS = V ((Vᵀ dA V) / (√λi + √λj)) Vᵀ: the Daleckii–Krein map is its own transpose."""
        return self.vjp(xp, A, S, dA, saved)

    def vjp_inverse(self, xp: Any, A: Any, W: Any, gW: Any, saved: Any) -> Any:
        """After the eigh forward (``saved`` its eigendecomposition, of which W is the function):
        the Daleckii–Krein rule of λ^{-1/2} (module doc); after any other, the generic route."""
        if not isinstance(saved, EighResult):
            return super().vjp_inverse(xp, A, W, gW, saved)
        w, V = saved
        return daleckii_krein_halved(V, half_inverse_root_gamma(xp, w), gW)

    def jvp_inverse(self, xp: Any, A: Any, W: Any, dA: Any, saved: Any) -> Any:
        """The transpose of :meth:`vjp_inverse`, which is the same self-adjoint map."""
        if not isinstance(saved, EighResult):
            return super().jvp_inverse(xp, A, W, dA, saved)
        return self.vjp_inverse(xp, A, W, dA, saved)


@hookimpl
def spectralcore_sqrtm_forward() -> list[type]:
    return [EighSqrtm]


@hookimpl
def spectralcore_sqrtm_backward() -> list[type]:
    return [ExactLyapunov]
