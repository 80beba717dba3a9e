"""Coupled Newton–Schulz iteration (iSQRT-COV; ICCV 2021 eq. 8): the ``newton-schulz``
sqrtm forward and its explicit backward.

With c ≥ λmax: Y₀ = A/c, Z₀ = I, T_k = (3I − Z_k Y_k)/2, Y_{k+1} = Y_k T_k,
Z_{k+1} = T_k Z_k; then A^{1/2} ≈ √c Y_K and A^{-1/2} ≈ Z_K/√c. 3 matrix products per
iteration, 1 in the first (Z₀ = I) and 2 in the last (only the output asked for): 3K − 3,
in as many kernels on torch (the scaling and the identity fused into the products:
:mod:`spectralcore.products`), plus the 4 of c (:meth:`NewtonSchulzOptions.forward_products`).
Converges where the eigenvalues of A/c lie in
(0, 2), quadratically once near 1 and slowly for small ones.
Default K = 5 (iSQRT-COV). No threshold: c is A's own scale, so forward and backward are
equivariant under A → tA (:mod:`spectralcore.normalize`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from spectralcore import SqrtmBackward, SqrtmForward, hookimpl
from spectralcore._array import eye_like
from spectralcore.normalize import DEFAULT, Scale, check_normalize, normalizer
from spectralcore.normalize import products as normalizer_products
from spectralcore.products import add_scaled, gemm, scaled_product


class NewtonSchulzSteps(NamedTuple):
    """What the forward saves for the backward: (Y_k, Z_k, T_k) for k = 0..K−1 (Z₀ = I as None),
    and the scale."""

    steps: tuple[tuple[Any, Any, Any], ...]
    scale: Scale


@dataclasses.dataclass(frozen=True)
class NewtonSchulzOptions:
    iterations: int = 5
    normalize: str = DEFAULT

    if TYPE_CHECKING:  # Method's, which every class with these options also derives from

        def require(self, condition: bool, option: str, expected: str) -> None: ...

    def validate(self) -> None:
        self.require(self.iterations >= 0, "iterations", "an int >= 0")
        check_normalize(self)

    def forward_products(self) -> int:
        """4 (c) + 3 per step, less Z₀ = I's two in the first and the unused output's one in the
        last: 3K − 3 for K ≥ 2 (16 by default), 1 for K = 1 (0 for the inverse root)."""
        k = self.iterations
        return normalizer_products(self.normalize) + (3 * k - 3 if k >= 2 else k)

    def run(self, xp: Any, A: Any, inverse: bool) -> tuple[Any, NewtonSchulzSteps]:
        """(Y_K, the saved steps), or (Z_K, the saved steps) for the inverse root: the last
        step computes only the one asked for."""
        scale = normalizer(xp, A, self.normalize)
        three_halves = eye_like(xp, A, 1.5)  # 1.5 I
        Y, Z = A * scale.power(-1.0), None  # Z₀ = I: its products are skipped
        steps = []
        for k in range(self.iterations):
            # (3I − Z Y)/2, with Z₀ = I: (3I − A/c)/2
            if Z is None:
                T = add_scaled(xp, three_halves, A, scale.power(-1.0), -0.5)
            else:
                T = gemm(xp, Z, Y, three_halves, alpha=-0.5)
            steps.append((Y, Z, T))
            last = k + 1 == self.iterations
            Y = Y if last and inverse else Y @ T
            Z = Z if last and not inverse else (T if Z is None else T @ Z)
        if inverse and Z is None:  # K = 0
            Z = eye_like(xp, A)
        return (Z if inverse else Y), NewtonSchulzSteps(tuple(steps), scale)


@dataclasses.dataclass(frozen=True)
class NewtonSchulz(NewtonSchulzOptions, SqrtmForward):
    name = "newton-schulz"
    claims = frozenset({"traceable"})
    reference = "ICCV 2021 eq. 8 (iSQRT-COV)"
    accuracy = 3e-6

    def products(self) -> int:
        return self.forward_products()

    def sqrtm(self, xp: Any, A: Any) -> tuple[Any, NewtonSchulzSteps]:
        Y, saved = self.run(xp, A, inverse=False)
        return Y * saved.scale.power(0.5), saved

    def invsqrtm(self, xp: Any, A: Any) -> tuple[Any, NewtonSchulzSteps]:
        Z, saved = self.run(xp, A, inverse=True)
        return Z / saved.scale.power(0.5), saved


@dataclasses.dataclass(frozen=True)
class NewtonSchulzBackward(NewtonSchulzOptions, SqrtmBackward):
    """Reverse mode through the K coupled steps:

        gT = Y_kᵀ gY' + gZ' Z_kᵀ,  gY = gY' T_kᵀ − ½ Z_kᵀ gT,  gZ = T_kᵀ gZ' − ½ gT Y_kᵀ,

    and gA = sym(gY₀)/c: 6 products per step in 6 kernels on torch, 4 in the first (Z_K's
    cotangent is zero) and 2 in the last (Z₀ = I; :meth:`products`). The scalings by c and the
    √c of the output are one per-matrix factor applied to the result (the steps are linear in the
    cotangents). After
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

    def products(self) -> int:
        """6 per step, 4 in the first (Z_K's cotangent is zero) and 2 in the last (Z₀ = I): 6K − 6
        for K ≥ 2 (24 by default), 2 for K = 1, after
        the ``newton-schulz`` forward; after another forward the iteration's own
        (:meth:`NewtonSchulzOptions.forward_products`) come on top."""
        k = self.iterations
        return 6 * k - 6 if k >= 2 else 2 * k

    def _steps(self, xp: Any, A: Any, saved: Any) -> NewtonSchulzSteps:
        return saved if isinstance(saved, NewtonSchulzSteps) else self.run(xp, A, inverse=False)[1]

    def _backprop(self, xp: Any, saved: NewtonSchulzSteps, gY: Any | None, gZ: Any | None, factor: Any) -> Any:
        """sym(gY₀)·factor from the cotangents of Y_K and Z_K; None is a zero cotangent (its
        products skipped). The steps are linear in the cotangents, so the scalings by c go into
        ``factor`` (a per-matrix power of 1/c) instead of a pass over the cotangent."""
        if not saved.steps:  # K = 0: Y₀ = A/c, and Z₀ = I does not depend on A
            return xp.zeros_like(gZ) if gY is None else add_scaled(xp, gY * factor, gY.mT, factor) / 2
        for Y, Z, T in reversed(saved.steps[1:]):
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
        # the first step, Z₀ = I: gT = Y₀ᵀ gY + gZ, gY₀ = gY T₀ᵀ − ½ gT (Z₀ has no cotangent), halved
        # (the steps are linear) for the ½ of sym(gY₀) = ½ (gY₀ + gY₀ᵀ) at no cost
        Y, _, T = saved.steps[0]
        half: Any
        if gY is None:
            half = -0.25 * cast(Any, gZ)  # Z_K's cotangent, given when Y_K's is not
        else:
            gT = Y.mT @ gY if gZ is None else gemm(xp, Y.mT, gY, gZ)
            half = gemm(xp, gY, T.mT, gT, 0.5, -0.25)
        return add_scaled(xp, half * factor, half.mT, factor)

    def _tangents(self, xp: Any, saved: NewtonSchulzSteps, dA: Any) -> tuple[Any, Any]:
        """(dY_K, dZ_K) for dY₀ = dA + dAᵀ, dZ₀ = 0, by forward mode through the steps:
        dT = −(dZ Y + Z dY)/2, dY′ = dY T + Y dT, dZ′ = dT Z + T dZ (the transpose of :meth:`_backprop`);
        the callers scale them by ½ and the powers of 1/c."""
        dY, dZ = dA + dA.mT, xp.zeros_like(dA)
        for Y, Z, T in saved.steps:
            if Z is None:  # the first step: Z₀ = I and dZ₀ = 0
                dT = -0.5 * dY
                dY, dZ = gemm(xp, Y, dT, dY @ T), dT
                continue
            dT = gemm(xp, dZ, Y, Z @ dY, -0.5, -0.5)
            dY, dZ = gemm(xp, Y, dT, dY @ T), gemm(xp, dT, Z, T @ dZ)
        return dY, dZ

    # dY₀ = dA/c and Y_K ↦ √c Y_K, Z_K ↦ Z_K/√c: the root's factor is c^{-1/2}, the inverse's c^{-3/2}
    def jvp(self, xp: Any, A: Any, S: Any, dA: Any, saved: Any) -> Any:
        saved = self._steps(xp, A, saved)
        return self._tangents(xp, saved, dA)[0] * (saved.scale.power(-0.5) / 2)

    def jvp_inverse(self, xp: Any, A: Any, W: Any, dA: Any, saved: Any) -> Any:
        saved = self._steps(xp, A, saved)
        return self._tangents(xp, saved, dA)[1] * (saved.scale.power(-1.5) / 2)

    def vjp(self, xp: Any, A: Any, S: Any, gS: Any, saved: Any) -> Any:
        saved = self._steps(xp, A, saved)
        return self._backprop(xp, saved, gS, None, saved.scale.power(-0.5))

    def vjp_inverse(self, xp: Any, A: Any, W: Any, gW: Any, saved: Any) -> Any:
        saved = self._steps(xp, A, saved)
        return self._backprop(xp, saved, None, gW, saved.scale.power(-1.5))


def less_half(xp: Any, A: Any, B: Any, C: Any | None) -> Any:
    """C − ½ A B, or −½ A B when C is None (a zero cotangent)."""
    return scaled_product(xp, A, B, -0.5) if C is None else gemm(xp, A, B, C, alpha=-0.5)


@hookimpl
def spectralcore_sqrtm_forward() -> list[type]:
    return [NewtonSchulz]


@hookimpl
def spectralcore_sqrtm_backward() -> list[type]:
    return [NewtonSchulzBackward]
