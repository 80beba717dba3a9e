"""The method protocols: what a forward or backward method of each kind must implement.

A method is a frozen dataclass; its fields are its options (with defaults), so
``Taylor(degree=9, eps=1e-2)`` is a configured method and ``sc.methods()`` can list the
options of every registered one. Subclasses set three class attributes:

* ``name``   — the string users pass (``backward="taylor"``),
* ``claims`` — the guarantees it makes, checked by the conformance suite:
  ``"exact"`` (agrees with the analytic result, and may be differentiated twice),
  ``"bounded"`` (finite gradients at repeated and zero eigenvalues, bounded in units of A:
  ‖gA‖ s^{1−p} / ‖cotangent‖ ≤ 1e12 with s = max|λ| of each matrix and p the op's degree,
  f(cA) = c^p f(A) — eigh's eigenvectors 0, with its eigenvalue cotangent taken as gw/s,
  sqrtm ½, invsqrtm −½), ``"traceable"`` (fixed compute graph: no Python branching on array
  values, no host synchronisation). Every method, whatever it claims, must be equivariant
  under A → cA and A → QAQᵀ (its thresholds relative to each matrix's own scale),
* ``reference`` — the paper and equation it implements,
* ``accuracy`` — the float64 relative error against the exact result that it claims on the
  conformance suite's well-separated input (n = 5, spectrum 1 … 4, so condition number 4),
  in every op that uses it (methods claiming ``"exact"`` declare 1e-8), or
* ``accuracy_opt_out`` — a reason, for a method that claims no accuracy at all (a
  truncation, say): the suite then skips its agreement check and lists the method with the
  reason. One of the two is required (:class:`UnclaimedAccuracy` at registration). Its
  gradient's direction and scale are checked whatever it declares.

Kinds (the registry key is ``(kind, name)``): :class:`EighForward`, :class:`EighBackward`
(with the one-function base :class:`KernelBackward`), :class:`SqrtmForward`,
:class:`SqrtmBackward`.
"""

from __future__ import annotations

import abc
import dataclasses
import numbers
import sys
import types
import typing
from typing import Any, ClassVar

from ._array import Array, off_diagonal, sym
from .products import add_scaled, symmetric_product
from .validation import SpectralError


class EighResult(tuple[Any, Any]):
    """``(eigenvalues, eigenvectors)``, ascending like ``xp.linalg.eigh``; unpacks as a pair.

    ``accepted`` is set by forwards that may reject eigenpairs (power iteration with
    breaking conditions): an integer array of shape (...) counting the accepted pairs,
    which are the last ``accepted`` columns; rejected pairs are returned as zeros.
    """

    accepted: Array | None

    def __new__(cls, eigenvalues: Array, eigenvectors: Array, accepted: Array | None = None) -> EighResult:
        self = super().__new__(cls, (eigenvalues, eigenvectors))
        self.accepted = accepted
        return self

    @property
    def eigenvalues(self) -> Array:
        return self[0]

    @property
    def eigenvectors(self) -> Array:
        return self[1]


_OPTION_DEFAULTS: dict[type, dict[str, Any]] = {}
_OPTION_TYPES: dict[type, dict[str, tuple[tuple[type, ...], str]]] = {}
_RUNTIME: dict[type, tuple[type, str]] = {
    float: (numbers.Real, "a real number"),
    int: (numbers.Integral, "an int"),
    type(None): (type(None), "None"),
}


def _admitted(hint: Any) -> tuple[tuple[type, ...], str]:
    """The runtime types an option's annotation admits (float: any real, int: any integral,
    never bool unless named) and how an error names them; (object,) when it is not a plain type."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    admitted: list[type] = []
    names: list[str] = []
    for arg in args:
        if not isinstance(arg, type):
            return (object,), "anything"
        runtime, name = _RUNTIME.get(arg, (arg, arg.__name__))
        admitted.append(runtime)
        names.append(name)
    return tuple(admitted), " or ".join(names)


@dataclasses.dataclass(frozen=True)
class Method(abc.ABC):
    """Base of every method: options are dataclass fields, metadata are class attributes."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    claims: ClassVar[frozenset[str]] = frozenset({"traceable"})
    reference: ClassVar[str] = ""
    accuracy: ClassVar[float | None] = None
    accuracy_opt_out: ClassVar[str] = ""

    @classmethod
    def claimed_accuracy(cls) -> float | None:
        """The relative error this method claims on the suite's well-separated input (its
        ``accuracy``); None when it opts out (``accuracy_opt_out``, which wins over an inherited
        ``accuracy``). Raises :class:`UnclaimedAccuracy` if it declares neither."""
        own = vars(cls)
        if own.get("accuracy") is not None and own.get("accuracy_opt_out"):
            raise SpectralError(f"{cls.kind} method '{cls.name}' declares both `accuracy` and `accuracy_opt_out`")
        if cls.accuracy_opt_out:
            return None
        if cls.accuracy is None:
            raise UnclaimedAccuracy(cls)
        if not (isinstance(cls.accuracy, numbers.Real) and cls.accuracy > 0):
            raise SpectralError(
                f"{cls.kind} method '{cls.name}': `accuracy` must be a real number > 0, got {cls.accuracy!r}"
            )
        return cls.accuracy

    def is_exact(self) -> bool:
        """Whether this configured method computes the analytic result (claims ``"exact"``)."""
        return "exact" in self.claims

    def has_jvp(self) -> bool:
        """Whether forward mode is available with this method (a forward method has no derivative
        of its own: the backward method's VJP and JVP define the op's)."""
        return True

    def products(self) -> int | None:
        """The n × n matrix products of one call with these options, as ``spectralcore methods``
        states them (None: not stated): a forward's ``sqrtm``, a backward's ``vjp`` after a
        forward whose saved values it reuses, each method's docstring saying which and what
        changes otherwise. tests/test_kernel_budget.py checks the statements against torch."""
        return None

    @classmethod
    def option_defaults(cls) -> dict[str, Any]:
        """Every option and its default value, in declaration order (cached per class, so a
        traced call reads a dict instead of introspecting the dataclass)."""
        if cls not in _OPTION_DEFAULTS:
            _OPTION_DEFAULTS[cls] = {f.name: f.default for f in dataclasses.fields(cls)}
        return _OPTION_DEFAULTS[cls]

    @classmethod
    def option_types(cls) -> dict[str, tuple[tuple[type, ...], str]]:
        """Per option, the runtime types its annotation admits and their name (cached per class)."""
        if cls not in _OPTION_TYPES:
            hints = typing.get_type_hints(cls)
            _OPTION_TYPES[cls] = {f.name: _admitted(hints[f.name]) for f in dataclasses.fields(cls)}
        return _OPTION_TYPES[cls]

    def options(self) -> dict[str, Any]:
        """This instance's option values."""
        return {name: getattr(self, name) for name in self.option_defaults()}

    def __post_init__(self) -> None:
        """Check each option's type against its annotation (``degree=True``, ``eps="big"`` are
        errors naming the option), then the values: :meth:`validate`."""
        for option, (admitted, expected) in self.option_types().items():
            value = getattr(self, option)
            if (isinstance(value, bool) and bool not in admitted) or not isinstance(value, admitted):
                raise ValueError(
                    f"{self.kind} method '{self.name}': option `{option}` must be {expected}, "
                    f"got {value!r} ({type(value).__name__})"
                )
        self.validate()

    def validate(self) -> None:
        """Check the option values (their types are checked already); raise with :meth:`require`."""

    def check_size(self, size: int) -> None:
        """Check the options against the matrix size n, when a call is made (default: any n)."""

    def require(self, condition: bool, option: str, expected: str) -> None:
        """Raise a ValueError naming the method, the option, what was expected and what came:
        ``self.require(self.eps > 0, "eps", "> 0")`` in :meth:`validate` checks an option."""
        if not condition:
            raise ValueError(
                f"{self.kind} method '{self.name}': option `{option}` must be {expected}, got {getattr(self, option)!r}"
            )


class UnclaimedAccuracy(SpectralError):
    """A method declares neither ``accuracy`` nor ``accuracy_opt_out``: its claim is unknown."""

    def __init__(self, cls: type[Method]) -> None:
        imported = getattr(sys.modules.get(cls.__module__), "__file__", None) and cls.__module__ != "__main__"
        module = cls.__module__ if imported else "MODULE"
        super().__init__(
            f"{cls.kind} method '{cls.name}' ({cls.__qualname__}) declares neither `accuracy` nor "
            '`accuracy_opt_out`. Every method states one, those claiming "exact" too (they declare 1e-8): '
            "`accuracy = <float>`, the float64 relative error against the exact result that it promises on "
            'the conformance suite\'s well-separated input, or `accuracy_opt_out = "<reason>"` for a method '
            "that claims none. To find the value, run "
            f"`spectralcore conformance --plugin {module} --method {cls.name}`: it measures the error and "
            "suggests one."
        )


class EighForward(Method):
    """Computes the eigendecomposition of symmetric (..., n, n) matrices, eigenvalues ascending."""

    kind: ClassVar[str] = "eigh-forward"

    @abc.abstractmethod
    def __call__(self, xp: Any, A: Array) -> EighResult: ...


class ForwardModeError(NotImplementedError):
    """A method that defines only a VJP was asked for forward mode (a JVP)."""


class EighBackward(Method):
    """Computes gA from (A, w, V, gw, gV); gw or gV is None when that cotangent is zero.

    :meth:`jvp` is the same approximation in forward mode, (dw, dV) from dA: the transpose of
    the linear map gA = vjp(gw, gV), so ⟨dw, gw⟩ + ⟨dV, gV⟩ = ⟨dA, gA⟩ (checked by the
    conformance suite). A method without one works in reverse mode only.
    """

    kind: ClassVar[str] = "eigh-backward"

    @abc.abstractmethod
    def vjp(self, xp: Any, A: Array, w: Array, V: Array, gw: Array | None, gV: Array | None) -> Array: ...

    def jvp(self, xp: Any, A: Array, w: Array, V: Array, dA: Array) -> tuple[Array, Array]:
        """(dw, dV) for a tangent dA: the transpose of :meth:`vjp`."""
        raise no_jvp(self)

    def has_jvp(self) -> bool:
        """Whether this method defines a JVP (forward mode)."""
        return type(self).jvp is not EighBackward.jvp


class KernelBackward(EighBackward):
    """An eigh backward that only changes the matrix K̃ (TPAMI 2021 eq. 2):

        gA = sym( V (K̃ ∘ (Vᵀ gV) + diag(gw)) Vᵀ ),   K̃_ij ≈ 1/(λj − λi),  K̃_ii = 0,

    with eigenvalues ascending. A subclass writes one function, :meth:`kernel`; its diagonal
    is ignored (K̃_ii = 0 is imposed), so 1/(λj − λi) may be returned as it is. A kernel that
    is exactly 0 there by construction says so with :meth:`zero_diagonal`, and skips the mask.
    """

    @abc.abstractmethod
    def kernel(self, xp: Any, w: Array) -> Array:
        """K̃ of shape (..., n, n) from ascending eigenvalues w (..., n)."""
        ...

    def zero_diagonal(self) -> bool:
        """Whether :meth:`kernel` holds exactly 0 on its diagonal for every input, with a finite
        derivative there (default False: it may hold anything, 0, inf or NaN)."""
        return False

    def masked_kernel(self, xp: Any, w: Array) -> Array:
        """K̃ with its diagonal set to 0, whatever :meth:`kernel` holds there (0, inf, NaN)."""
        kernel = self.kernel(xp, w)
        return kernel if self.zero_diagonal() else xp.where(off_diagonal(xp, w), kernel, 0.0)

    def vjp(self, xp: Any, A: Array, w: Array, V: Array, gw: Array | None, gV: Array | None) -> Array:
        """gA = sym((V (K̃ ∘ VᵀgV) + V diag(gw)) Vᵀ): the class doc's equation, diag(gw) added
        after the first product (one fused kernel on torch, ``add_scaled``)."""
        if gV is None:
            return xp.zeros_like(A) if gw is None else symmetric_product(xp, V * gw[..., None, :], V.mT)
        left = V @ (self.masked_kernel(xp, w) * (V.mT @ gV))
        return symmetric_product(xp, left if gw is None else add_scaled(xp, left, V, gw[..., None, :]), V.mT)

    def jvp(self, xp: Any, A: Array, w: Array, V: Array, dA: Array) -> tuple[Array, Array]:
        """dw = diag(Vᵀ dA V), dV = V (K̃ ∘ (Vᵀ dA V)) for symmetric dA: the transpose of :meth:`vjp`."""
        rotated = V.mT @ sym(dA) @ V
        return xp.linalg.diagonal(rotated), V @ (self.masked_kernel(xp, w) * rotated)


class SqrtmForward(Method):
    """Computes A^{1/2} and A^{-1/2}; returns (result, saved). ``saved`` goes to the backward:
    A's eigendecomposition (an :class:`EighResult`) when the forward computed one, a
    method's own NamedTuple of arrays that its paired backward reuses, or None."""

    kind: ClassVar[str] = "sqrtm-forward"

    @abc.abstractmethod
    def sqrtm(self, xp: Any, A: Array) -> tuple[Array, Any]: ...

    @abc.abstractmethod
    def invsqrtm(self, xp: Any, A: Array) -> tuple[Array, Any]: ...


class SqrtmBackward(Method):
    """Computes gA for S = A^{1/2}: the solution X of the Lyapunov equation S X + X S = gS.

    ``saved`` is what the forward saved (see :class:`SqrtmForward`); a backward uses what it
    recognises and ignores the rest. The inverse root W = A^{-1/2} = S⁻¹ reuses it:
    dW = −W dS W, so gS = −W gW W and S = A W (one matrix product); methods with a better
    route override :meth:`vjp_inverse`. :meth:`check_forward` may reject a forward whose
    saved values would contradict this backward's options.
    """

    kind: ClassVar[str] = "sqrtm-backward"
    # True when vjp is the Daleckii–Krein rule of √ in A's eigenbasis (an exact forward's saved
    # eigendecomposition): second derivatives then use √'s second divided differences
    daleckii_krein: ClassVar[bool] = False

    @abc.abstractmethod
    def vjp(self, xp: Any, A: Array, S: Array, gS: Array, saved: Any) -> Array: ...

    def vjp_inverse(self, xp: Any, A: Array, W: Array, gW: Array, saved: Any) -> Array:
        return self.vjp(xp, A, A @ W, -(W @ gW @ W), saved)

    def jvp(self, xp: Any, A: Array, S: Array, dA: Array, saved: Any) -> Array:
        """dS for a tangent dA (S dS + dS S = dA, approximated as the backward does): the
        transpose of :meth:`vjp`. A method without one works in reverse mode only."""
        raise no_jvp(self)

    def jvp_inverse(self, xp: Any, A: Array, W: Array, dA: Array, saved: Any) -> Array:
        """dW = −W dS W with dS = :meth:`jvp` at S = A W: the transpose of :meth:`vjp_inverse`."""
        return -(W @ self.jvp(xp, A, A @ W, dA, saved) @ W)

    def has_jvp(self) -> bool:
        """Whether this method defines a JVP (forward mode)."""
        return type(self).jvp is not SqrtmBackward.jvp

    def check_forward(self, forward: SqrtmForward) -> None:
        """Raise a ValueError if this backward cannot follow ``forward`` (default: any may)."""


def no_jvp(method: Method) -> ForwardModeError:
    """The error for forward mode through a method that defines only a VJP."""
    return ForwardModeError(
        f"{method.kind} method '{method.name}' defines no jvp, so forward mode (jax.jvp, jax.jacfwd, "
        f"torch.func.jvp, torch.func.jacfwd, torch.autograd.forward_ad, sc.jvp, hessians) is not available with it; "
        f"use reverse mode, or give the method a jvp (the transpose of its vjp; KernelBackward subclasses have one)"
    )
