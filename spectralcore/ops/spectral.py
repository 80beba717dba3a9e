"""``sc.matrix_function``, ``sc.matrix_power``, ``sc.logm`` and ``sc.expm``: V f(Λ) Vᵀ with the
Daleckii–Krein backward."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any, cast

from .._array import namespace, reciprocal, rounding_clip
from ..dispatch import public_op
from ..method import EighBackward, EighForward, Method
from ..spectral import (
    ScalarFunction,
    apply_function,
    daleckii_krein_rule,
    eigen_cotangents,
    eigen_tangent,
    half_exp_gamma,
    half_inverse_root_gamma,
    half_log_gamma,
    half_power_gamma,
    half_reciprocal_gamma,
    half_root_gamma,
    half_square_gamma,
)
from ..validation import SpectralError
from .base import MethodSlot, Op, resolve_methods

# p: Γ/2 of λ^p where it has a form cheaper than half_power_gamma's (or, for the integers, any)
CLOSED_POWER_GAMMA = {
    0.5: half_root_gamma,
    -0.5: half_inverse_root_gamma,
    2.0: half_square_gamma,
    -1.0: half_reciprocal_gamma,
}


@dataclasses.dataclass(frozen=True)
class Power:
    """f(λ) = λ^p and f′(λ) = p λ^{p−1} (hashable, so configs stay static under jit). For a
    non-integer p, eigenvalues within rounding below 0 count as 0 (``rounding_clip``), as for
    the square roots: a rank-deficient covariance that ``check=True`` accepts gets a number."""

    p: float

    def _base(self, w: Any) -> Any:
        return w if float(self.p).is_integer() else rounding_clip(namespace(w), w)

    def f(self, w: Any) -> Any:
        return self._base(w) ** self.p

    def df(self, w: Any) -> Any:
        return self.p * self._base(w) ** (self.p - 1)

    def d2f(self, w: Any) -> Any:
        return self.p * (self.p - 1) * self._base(w) ** (self.p - 2)

    def half_gamma(self, xp: Any, w: Any, fw: Any = None) -> Any:
        """Γ/2 in closed form: for p = ±½, 2 and −1 (:func:`~spectralcore.spectral.half_root_gamma`),
        every non-integer p (:func:`~spectralcore.spectral.half_power_gamma`); None for the other
        integers (their eigenvalues may be negative), which take divided differences."""
        closed = CLOSED_POWER_GAMMA.get(self.p)
        if closed is not None:
            return closed(xp, w, fw)
        return None if float(self.p).is_integer() else half_power_gamma(xp, w, self.p, fw)


@dataclasses.dataclass(frozen=True)
class Log:
    """f(λ) = log λ, f′(λ) = 1/λ in the namespace of λ."""

    def f(self, w: Any) -> Any:
        return namespace(w).log(w)

    def df(self, w: Any) -> Any:
        return reciprocal(w)

    def d2f(self, w: Any) -> Any:
        return -1 / (w * w)

    def half_gamma(self, xp: Any, w: Any, fw: Any = None) -> Any:
        """Γ/2 in closed form (:func:`~spectralcore.spectral.half_log_gamma`)."""
        return half_log_gamma(xp, w, fw)


@dataclasses.dataclass(frozen=True)
class Exp:
    """f(λ) = f′(λ) = f″(λ) = exp λ in the namespace of λ."""

    def f(self, w: Any) -> Any:
        return namespace(w).exp(w)

    df = d2f = f

    def half_gamma(self, xp: Any, w: Any, fw: Any = None) -> Any:
        """Γ/2 in closed form (:func:`~spectralcore.spectral.half_exp_gamma`)."""
        return half_exp_gamma(xp, w, fw)


@dataclasses.dataclass(frozen=True)
class Elementwise:
    """f, f′ and f″ (None: not given) of a spectral function, as :class:`ScalarFunction` needs."""

    f: Callable[[Any], Any]
    df: Callable[[Any], Any]
    d2f: Callable[[Any], Any] | None = None


@dataclasses.dataclass(frozen=True)
class SpectralConfig:
    fn: ScalarFunction  # f, f′ and f″ (None: the adapters differentiate f′), maybe Γ/2 in closed form
    forward: EighForward
    backward: EighBackward | None  # None: the exact Daleckii–Krein rule
    check: bool = True
    domain: str | None = None  # "psd", "pd" or None (any symmetric A), checked under check=True


def _configure(
    call: str,
    fn: ScalarFunction,
    forward: str | Method,
    backward: str | Method,
    check: bool,
    options: dict[str, Any],
    domain: str | None = None,
    eig: Any = None,
) -> SpectralConfig:
    for name, given in (("f", fn.f), ("df", fn.df), ("d2f", fn.d2f)):
        if not callable(given) and not (name == "d2f" and given is None):
            raise SpectralError(
                f"{call}: `{name}` must be a callable acting elementwise on arrays of A's "
                f"namespace{DERIVATIVE.get(name, '')}, got {given!r}"
            )
    if eig is not None and forward != "eigh":
        raise SpectralError(f"{call}: `eig` replaces the forward; pass `eig` or `forward`, not both (got {forward!r})")
    slots = [MethodSlot("forward", ("eigh-forward",), forward)]
    if backward != "exact":
        slots.append(MethodSlot("backward", ("eigh-backward",), backward))
    methods = resolve_methods(call, slots, options)
    forward_, backward_ = cast(EighForward, methods["forward"]), cast("EighBackward | None", methods.get("backward"))
    return SpectralConfig(fn, forward_, backward_, check, domain)


DERIVATIVE = {"df": " (the derivative of f)", "d2f": " (the second derivative of f) or None"}


class SpectralFunctionOp(Op):
    def __init__(self, name: str) -> None:
        self.name = name

    def domain(self, config: SpectralConfig) -> str | None:
        """Set by the public function: A^p for a non-integer p needs A positive semidefinite
        (p > 0) or definite (p < 0), log A definite; any other f is defined wherever f is, which
        the caller knows (NaN outside)."""
        return config.domain

    def daleckii_krein(self, config: SpectralConfig) -> ScalarFunction | None:
        """f, f′, f″ (and Γ/2 where closed) when the backward is the exact Daleckii–Krein rule
        (not an eigh backward)."""
        return config.fn if config.backward is None else None

    def keeps_eigenvalues(self, config: SpectralConfig) -> bool:
        return config.forward.is_exact()

    def eigenpairs(self, xp: Any, residuals: Any) -> tuple[Any, Any]:
        return residuals[1], residuals[2]

    def forward(self, xp: Any, A: Any, config: SpectralConfig) -> tuple[Any, Any]:
        return self.forward_from(xp, A, config, config.forward(xp, A))

    def forward_from(self, xp: Any, A: Any, config: SpectralConfig, eig: tuple[Any, Any]) -> tuple[Any, Any]:
        """V f(Λ) Vᵀ from (Λ, V) = eig; the backward treats it as A's, so gradients reach A only
        through this op's own rule."""
        w, V = eig
        fw = config.fn.f(w)
        return apply_function(V, fw), (A, w, V, fw)

    def backward(self, xp: Any, config: SpectralConfig, residuals: Any, gF: Any) -> Any:
        A, w, V, fw = residuals
        if gF is None:
            return xp.zeros_like(A)
        if config.backward is None:
            return daleckii_krein_rule(xp, config.fn, w, V, gF, fw)
        gw, gV = eigen_cotangents(xp, V, gF, fw, config.fn.df(w))
        return config.backward.vjp(xp, A, w, V, gw, gV)

    def jvp(self, xp: Any, config: SpectralConfig, residuals: Any, dA: Any) -> Any:
        A, w, V, fw = residuals
        if config.backward is None:
            return daleckii_krein_rule(xp, config.fn, w, V, dA, fw)
        dw, dV = config.backward.jvp(xp, A, w, V, dA)
        return eigen_tangent(V, dw, dV, fw, config.fn.df(w))

    def cotangent_shapes(self, A: Any, out: Any) -> tuple[int, ...]:
        return tuple(out.shape)


MATRIX_FUNCTION = SpectralFunctionOp("matrix_function")
MATRIX_POWER = SpectralFunctionOp("matrix_power")
LOGM = SpectralFunctionOp("logm")
EXPM = SpectralFunctionOp("expm")


@public_op(MATRIX_FUNCTION)
def matrix_function(
    A: Any,
    f: Callable[[Any], Any],
    df: Callable[[Any], Any],
    *,
    d2f: Callable[[Any], Any] | None = None,
    forward: str | Method = "eigh",
    backward: str | Method = "exact",
    check: bool = True,
    eig: Any = None,
    **options: Any,
) -> Any:
    """F = V f(Λ) Vᵀ for symmetric ``A`` and an elementwise ``f`` with derivative ``df``.

    ``backward="exact"`` is the Daleckii–Krein rule gA = V (Γ ∘ (Vᵀ gF V)) Vᵀ,
    Γ_ij = (f(λi) − f(λj))/(λi − λj), Γ_ii = f′(λi), evaluated without cancellation near
    ties; it is exact at repeated eigenvalues, where differentiating through eigh is not.
    Any eigh backward name routes through the eigenvector path instead.
    ``f`` and ``df`` act on arrays of A's namespace (``xp.log`` and ``lambda x: 1 / x``
    give the LogEig layer). ``d2f``, f″, is for second derivatives (Hessians), which are then
    exact at ties too (second divided differences f[λi, λj, λk]); without it the torch and JAX
    adapters take f″ by forward-mode differentiation of ``df``, and :func:`spectralcore.hvp`
    asks for it.

    ``eig=sc.eigh(A)`` reuses one eigendecomposition for several functions of A (it replaces
    the forward): the result and its gradient are those of the call without it, which treats
    ``eig`` as fixed, so no derivative flows into it; ``check=True`` verifies that it
    decomposes A. The same holds for :func:`matrix_power`, :func:`logm` and :func:`expm`.
    """
    return _configure("matrix_function", Elementwise(f, df, d2f), forward, backward, check, options, eig=eig)


@public_op(MATRIX_POWER)
def matrix_power(
    A: Any,
    p: float,
    *,
    forward: str | Method = "eigh",
    backward: str | Method = "exact",
    check: bool = True,
    eig: Any = None,
    **options: Any,
) -> Any:
    """A^p = V Λ^p Vᵀ for symmetric ``A``. A non-integer p needs A positive semidefinite (p > 0)
    or definite (p < 0): an error under ``check=True``, NaN with ``check=False``. Backward as
    :func:`matrix_function`, with Γ in closed form for non-integer p, p = 2 and p = −1
    (:func:`~spectralcore.spectral.half_power_gamma`: a few ε at every gap)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not math.isfinite(p):
        raise SpectralError(f"matrix_power: `p` must be a finite real number, got {p!r}")
    domain = None if float(p).is_integer() else "psd" if p > 0 else "pd"
    return _configure("matrix_power", Power(float(p)), forward, backward, check, options, domain, eig)


@public_op(LOGM)
def logm(
    A: Any,
    *,
    forward: str | Method = "eigh",
    backward: str | Method = "exact",
    check: bool = True,
    eig: Any = None,
    **options: Any,
) -> Any:
    """log A = V log(Λ) Vᵀ for symmetric positive definite ``A`` (an error under ``check=True``
    otherwise; NaN with ``check=False``). Backward as :func:`matrix_function`: Daleckii–Krein,
    Γ_ij = (log λi − log λj)/(λi − λj) = log1p((M − m)/m)/(M − m), M ≥ m the pair, accurate to a
    few ε at every gap and exact at repeated eigenvalues."""
    return _configure("logm", Log(), forward, backward, check, options, "pd", eig)


@public_op(EXPM)
def expm(
    A: Any,
    *,
    forward: str | Method = "eigh",
    backward: str | Method = "exact",
    check: bool = True,
    eig: Any = None,
    **options: Any,
) -> Any:
    """exp A = V exp(Λ) Vᵀ for symmetric ``A``. Backward as :func:`matrix_function`:
    Daleckii–Krein, Γ_ij = (e^λi − e^λj)/(λi − λj) = e^M expm1(−h)/(−h), h = M − m, accurate to a
    few ε at every gap and exact at repeated eigenvalues."""
    return _configure("expm", Exp(), forward, backward, check, options, eig=eig)
