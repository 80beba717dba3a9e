"""Coupled Newton–Schulz iteration (iSQRT-COV; ICCV 2021 eq. 8): the ``newton-schulz``
sqrtm forward and its explicit backward.

With c ≥ λmax: Y₀ = A/c, Z₀ = I, T_k = (3I − Z_k Y_k)/2, Y_{k+1} = Y_k T_k,
Z_{k+1} = T_k Z_k; then A^{1/2} ≈ √c Y_K and A^{-1/2} ≈ Z_K/√c (both from one run).
3 matrix products per iteration, 1 in the first (Z₀ = I): 3K − 2, in as many kernels on torch
(the scaling and the identity fused into the products: :mod:`spectralcore.products`). Converges
where the eigenvalues of A/c lie in (0, 2), quadratically once near 1 and slowly for small ones.
Default K = 5 (iSQRT-COV). No threshold: c is A's own scale, so forward and backward are
equivariant under A → tA (:mod:`spectralcore.normalize`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, NamedTuple

from spectralcore import SqrtmBackward, SqrtmForward, hookimpl
from spectralcore._array import eye_like, scale_matrix, sym
from spectralcore.normalize import DEFAULT, check_normalize, normalizer, root_scale
from spectralcore.products import axpy, gemm, gemm_eye


class NewtonSchulzSteps(NamedTuple):
    """What the forward saves for the backward: (Y_k, Z_k, T_k) for k = 0..K−1, and c."""

    steps: tuple[tuple[Any, Any, Any], ...]
    c: Any


@dataclasses.dataclass(frozen=True)
class NewtonSchulzOptions:
    iterations: int = 5
    normalize: str = DEFAULT

    if TYPE_CHECKING:  # Method's, which every class with these options also derives from

        def require(self, condition: bool, option: str, expected: str) -> None: ...

    def validate(self) -> None:
        self.require(self.iterations >= 0, "iterations", "an int >= 0")
        check_normalize(self)

    def run(self, xp: Any, A: Any) -> tuple[Any, Any, NewtonSchulzSteps]:
        """(Y_K, Z_K, the saved steps)."""
        c = normalizer(xp, A, self.normalize)
        eye = eye_like(xp, A)
        Y, Z = A / scale_matrix(c), eye
        steps = []
        for k in range(self.iterations):
            T = axpy(xp, -0.5, Y, 1.5 * eye) if k == 0 else gemm_eye(xp, Z, Y, 1.5, -0.5, eye)  # (3I − Z Y)/2
            steps.append((Y, Z, T))
            Y, Z = Y @ T, (T if k == 0 else T @ Z)
        return Y, Z, NewtonSchulzSteps(tuple(steps), c)


@dataclasses.dataclass(frozen=True)
class NewtonSchulz(NewtonSchulzOptions, SqrtmForward):
    name = "newton-schulz"
    claims = frozenset({"traceable"})
    reference = "ICCV 2021 eq. 8 (iSQRT-COV)"
    accuracy = 3e-6

    def sqrtm(self, xp: Any, A: Any) -> tuple[Any, NewtonSchulzSteps]:
        Y, _, saved = self.run(xp, A)
        return Y * root_scale(xp, A, saved.c), saved

    def invsqrtm(self, xp: Any, A: Any) -> tuple[Any, NewtonSchulzSteps]:
        _, Z, saved = self.run(xp, A)
        return Z / root_scale(xp, A, saved.c), saved


@dataclasses.dataclass(frozen=True)
class NewtonSchulzBackward(NewtonSchulzOptions, SqrtmBackward):
    """Reverse mode through the K coupled steps:

        gT = Y_kᵀ gY' + gZ' Z_kᵀ,  gY = gY' T_kᵀ − ½ Z_kᵀ gT,  gZ = T_kᵀ gZ' − ½ gT Y_kᵀ,

    and gA = gY₀/c: 6 products per step in 6 kernels on torch (4 in 5 in the last one, whose other
    cotangent is zero). After
    the ``newton-schulz`` forward it reuses the steps that forward saved (so the two must share
    their options, else the configuration is rejected); after any other forward it runs the
    iteration itself. The scale c is held constant (at convergence √c Y_K(A/c) does not depend
    on c, so that path carries only the truncation error).
    """

    name = "newton-schulz"
    claims = frozenset({"traceable"})
    reference = "iSQRT-COV (Li et al. 2018) backward; ICLR 2022 Table 2"
    accuracy = 5e-5

    def check_forward(self, forward: SqrtmForward) -> None:
        if isinstance(forward, NewtonSchulz) and forward.options() != self.options():
            raise ValueError(
                f"sqrtm-backward method 'newton-schulz' differentiates the newton-schulz forward's "
                f"own iterates, so their options must agree: forward {forward.options()}, "
                f"backward {self.options()}"
            )

    def _steps(self, xp: Any, A: Any, saved: Any) -> NewtonSchulzSteps:
        return saved if isinstance(saved, NewtonSchulzSteps) else self.run(xp, A)[2]

    def _backprop(self, xp: Any, saved: NewtonSchulzSteps, gY: Any | None, gZ: Any | None) -> Any:
        """gY₀/c from the cotangents of Y_K and Z_K; None is a zero cotangent (its products skipped)."""
        for Y, Z, T in reversed(saved.steps):
            if gZ is None:
                gT = Y.mT @ gY
            elif gY is None:
                gT = gZ @ Z.mT
            else:
                gT = gemm(xp, Y.mT, gY, gZ @ Z.mT)
            gY, gZ = (
                less_half(xp, Z.mT, gT, None if gY is None else gY @ T.mT),
                less_half(xp, gT, Y.mT, None if gZ is None else T.mT @ gZ),
            )
        if gY is None:  # K = 0 and only Z₀ = I was differentiated
            return xp.zeros_like(gZ)
        return sym(gY / scale_matrix(saved.c))

    def _tangents(self, xp: Any, saved: NewtonSchulzSteps, dA: Any) -> tuple[Any, Any]:
        """(dY_K, dZ_K) by forward mode through the steps from dY₀ = sym(dA)/c, dZ₀ = 0:
        dT = −(dZ Y + Z dY)/2, dY′ = dY T + Y dT, dZ′ = dT Z + T dZ (the transpose of :meth:`_backprop`)."""
        dY, dZ = sym(dA) / scale_matrix(saved.c), xp.zeros_like(dA)
        for Y, Z, T in saved.steps:
            dT = gemm(xp, dZ, Y, Z @ dY, -0.5, -0.5)
            dY, dZ = gemm(xp, Y, dT, dY @ T), gemm(xp, dT, Z, T @ dZ)
        return dY, dZ

    def jvp(self, xp: Any, A: Any, S: Any, dA: Any, saved: Any) -> Any:
        saved = self._steps(xp, A, saved)
        return self._tangents(xp, saved, dA)[0] * scale_matrix(xp.sqrt(saved.c))

    def jvp_inverse(self, xp: Any, A: Any, W: Any, dA: Any, saved: Any) -> Any:
        saved = self._steps(xp, A, saved)
        return self._tangents(xp, saved, dA)[1] / scale_matrix(xp.sqrt(saved.c))

    def vjp(self, xp: Any, A: Any, S: Any, gS: Any, saved: Any) -> Any:
        saved = self._steps(xp, A, saved)
        return self._backprop(xp, saved, gS * scale_matrix(xp.sqrt(saved.c)), None)

    def vjp_inverse(self, xp: Any, A: Any, W: Any, gW: Any, saved: Any) -> Any:
        saved = self._steps(xp, A, saved)
        return self._backprop(xp, saved, None, gW / scale_matrix(xp.sqrt(saved.c)))


def less_half(xp: Any, A: Any, B: Any, C: Any | None) -> Any:
    """C − ½ A B, or −½ A B when C is None (a zero cotangent)."""
    return -0.5 * (A @ B) if C is None else gemm(xp, A, B, C, alpha=-0.5)


@hookimpl
def spectralcore_sqrtm_forward() -> list[type]:
    return [NewtonSchulz]


@hookimpl
def spectralcore_sqrtm_backward() -> list[type]:
    return [NewtonSchulzBackward]
