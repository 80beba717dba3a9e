"""``sc.sqrtm`` and ``sc.invsqrtm``: A^{1/2} and A^{-1/2} of symmetric positive (semi)definite A."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from .._array import eye_like, frobenius_norm, rounding_floor
from ..dispatch import public_op
from ..linalg import eigendecomposition
from ..method import EighBackward, Method, SqrtmBackward, SqrtmForward
from ..spectral import eigen_cotangents, eigen_tangent
from .base import MethodSlot, Op, resolve_methods
from .spectral import Power


@dataclasses.dataclass(frozen=True)
class EigenvectorPath(SqrtmBackward):
    """Any eigh backward used for the square root: S = V Λ^{1/2} Vᵀ differentiated through (w, V).

    gV = (gS + gSᵀ) V Λ^{1/2}, gw = diag(Vᵀ gS V) / (2√max(λ, λ₀)), then the eigh backward's
    rule (the SVD-Taylor / SVD-Padé / SVD-PI square roots of TPAMI 2021 and ICCV 2021).

    The floor λ₀ = n ε max(max|λ|, tiny) (``rounding_floor``) is the eigensolver's backward error: an eigenvalue
    below it cannot be told from zero, where d√λ/dλ is infinite. Above it the result is
    unchanged; below it |gw_i| ≤ ‖gS‖₂ / (2√λ₀), so a bounded eigh backward stays bounded on
    singular and rank-deficient input (tiny, the smallest normal number, keeps the zero matrix
    finite, if huge).
    """

    name = "eigenvector-path"
    inner: EighBackward

    def check_size(self, size: int) -> None:
        self.inner.check_size(size)

    def is_exact(self) -> bool:
        return self.inner.is_exact()

    def has_jvp(self) -> bool:
        return self.inner.has_jvp()

    def _roots(self, xp: Any, A: Any, saved: Any) -> tuple[Any, Any, Any, Any]:
        """(w, V, √λ, the floored 1/(2√λ))."""
        w, V = eigendecomposition(xp, A, saved)
        root = xp.sqrt(xp.clip(w, 0, None))
        return w, V, root, (4 * xp.maximum(w, rounding_floor(xp, w)[..., None])) ** -0.5

    def vjp(self, xp: Any, A: Any, S: Any, gS: Any, saved: Any) -> Any:
        w, V, root, droot = self._roots(xp, A, saved)
        gw, gV = eigen_cotangents(xp, V, gS, root, droot)
        return self.inner.vjp(xp, A, w, V, gw, gV)

    def jvp(self, xp: Any, A: Any, S: Any, dA: Any, saved: Any) -> Any:
        w, V, root, droot = self._roots(xp, A, saved)
        dw, dV = self.inner.jvp(xp, A, w, V, dA)
        return eigen_tangent(V, dw, dV, root, droot)


@dataclasses.dataclass(frozen=True)
class SqrtmConfig:
    forward: SqrtmForward
    backward: SqrtmBackward
    check: bool = True


def _configure(
    call: str, forward: str | Method, backward: str | Method, check: bool, options: dict[str, Any]
) -> SqrtmConfig:
    methods = resolve_methods(
        call,
        [
            MethodSlot("forward", ("sqrtm-forward",), forward),
            MethodSlot("backward", ("sqrtm-backward", "eigh-backward"), backward),
        ],
        options,
    )
    forward = cast(SqrtmForward, methods["forward"])  # each slot's kinds fix the class
    back = methods["backward"]
    backward = EigenvectorPath(inner=back) if isinstance(back, EighBackward) else cast(SqrtmBackward, back)
    backward.check_forward(forward)
    return SqrtmConfig(forward, backward, check)


class SqrtmOp(Op):
    name = "sqrtm"
    residual_formula = "‖S S − A‖_F / ‖A‖_F"

    def domain(self, config: Any) -> str | None:
        return "psd"

    def residual(self, xp: Any, A: Any, out: Any, config: SqrtmConfig) -> float | None:
        return _relative(xp, out @ out - A, A)

    power = 0.5

    def keeps_eigenvalues(self, config: SqrtmConfig) -> bool:
        return config.forward.is_exact()

    def daleckii_krein(self, config: SqrtmConfig) -> Power | None:
        """A^{±1/2} when an exact forward is followed by the eigenbasis (Daleckii–Krein) backward."""
        exact = config.backward.daleckii_krein and config.forward.is_exact()
        return Power(self.power) if exact else None

    def eigenpairs(self, xp: Any, residuals: Any) -> tuple[Any, Any]:
        A, _, saved = residuals
        w, V = eigendecomposition(xp, A, saved)
        return w, V

    def forward(self, xp: Any, A: Any, config: SqrtmConfig) -> tuple[Any, Any]:
        S, saved = config.forward.sqrtm(xp, A)
        return S, (A, S, saved)

    def backward(self, xp: Any, config: SqrtmConfig, residuals: Any, gS: Any) -> Any:
        A, S, saved = residuals
        return xp.zeros_like(A) if gS is None else config.backward.vjp(xp, A, S, gS, saved)

    def jvp(self, xp: Any, config: SqrtmConfig, residuals: Any, dA: Any) -> Any:
        A, S, saved = residuals
        return config.backward.jvp(xp, A, S, dA, saved)

    def cotangent_shapes(self, A: Any, out: Any) -> tuple[int, ...]:
        return tuple(out.shape)


class InvSqrtmOp(SqrtmOp):
    name = "invsqrtm"
    residual_formula = "‖W A W − I‖_F / ‖I‖_F"
    power = -0.5

    def domain(self, config: Any) -> str | None:
        return "pd"

    def residual(self, xp: Any, A: Any, out: Any, config: SqrtmConfig) -> float | None:
        eye = eye_like(xp, A)
        return _relative(xp, out @ A @ out - eye, eye)

    def forward(self, xp: Any, A: Any, config: SqrtmConfig) -> tuple[Any, Any]:
        W, saved = config.forward.invsqrtm(xp, A)
        return W, (A, W, saved)

    def backward(self, xp: Any, config: SqrtmConfig, residuals: Any, gW: Any) -> Any:
        A, W, saved = residuals
        return xp.zeros_like(A) if gW is None else config.backward.vjp_inverse(xp, A, W, gW, saved)

    def jvp(self, xp: Any, config: SqrtmConfig, residuals: Any, dA: Any) -> Any:
        A, W, saved = residuals
        return config.backward.jvp_inverse(xp, A, W, dA, saved)


def _relative(xp: Any, difference: Any, reference: Any) -> float:
    """max over the batch of ‖difference‖_F / ‖reference‖_F (a host read)."""
    ratio = frobenius_norm(xp, difference) / frobenius_norm(xp, reference)
    return float(xp.max(ratio))


SQRTM = SqrtmOp()
INVSQRTM = InvSqrtmOp()

_DOC = """Matrix {what} of symmetric positive {definite} ``A`` (..., n, n).

    ``forward``: ``"eigh"`` (V Λ^{{{power}}} Vᵀ), ``"mpa"`` (matrix Padé, ICLR 2022 eq. 13),
    ``"mtp"`` (matrix Taylor, eq. 10) or ``"newton-schulz"`` (coupled iteration). ``backward``:
    ``"lyapunov"`` (ICLR 2022 Alg. 2), ``"exact"`` (S X + X S = gS solved in the eigenbasis),
    ``"newton-schulz"`` (the iteration's own backward) or any eigh backward name, used through
    the eigenvector path (``"taylor"``, ``"pade"``, ...). Options go to the named methods
    that declare them (``degree=``, ``iterations=``, ``normalize=``). ``check=True`` verifies
    that A is finite, symmetric and positive {definite} (eigenvalues {bound}; an error names the
    lowest), and warns once (``AccuracyWarning``) when an approximate forward's residual exceeds
    1e-3; ``check=False`` skips all of it, and A outside the domain then gives NaN or nonsense.
    """


@public_op(SQRTM)
def sqrtm(
    A: Any, *, forward: str | Method = "eigh", backward: str | Method = "exact", check: bool = True, **options: Any
) -> Any:
    return _configure("sqrtm", forward, backward, check, options)


@public_op(INVSQRTM)
def invsqrtm(
    A: Any, *, forward: str | Method = "eigh", backward: str | Method = "exact", check: bool = True, **options: Any
) -> Any:
    return _configure("invsqrtm", forward, backward, check, options)


sqrtm.__doc__ = _DOC.format(what="square root S = A^{1/2}", definite="semidefinite", power="1/2", bound="≥ −√ε max|λ|")
invsqrtm.__doc__ = _DOC.format(
    what="inverse square root W = A^{-1/2}",
    definite="definite",
    power="-1/2",
    bound="> n ε max|λ|, below which A is singular to working precision",
)
