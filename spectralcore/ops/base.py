"""An op is a (forward, backward) pair over one namespace; its public function configures it.

``Op.forward(xp, A, config) -> (out, residuals)`` and ``Op.backward(xp, config, residuals,
cotangent) -> gA`` are all an adapter needs to make the op differentiable in a framework.
``resolve_methods`` turns the user's ``forward=``/``backward=`` strings and keyword
options into configured method instances.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

from ..method import Method
from ..registry import REGISTRY
from ..spectral import ScalarFunction
from ..validation import SpectralError


class Op(abc.ABC):
    """A differentiable spectral operation on symmetric (..., n, n) matrices."""

    name: str = ""

    residual_formula: str = ""

    def domain(self, config: Any) -> str | None:
        """Where the op is defined: "psd" (positive semidefinite), "pd" (positive definite) or
        None (any symmetric matrix); checked on the values under ``check=True``."""
        return None

    def keeps_eigenvalues(self, config: Any) -> bool:
        """Whether this configuration's forward computes A's exact eigendecomposition, which
        :meth:`eigenpairs` reads from the residuals: A's domain may then be checked on its
        eigenvalues after the forward (:func:`spectralcore.validation.check_spectrum`)."""
        return False

    def residual(self, xp: Any, A: Any, out: Any, config: Any) -> float | None:
        """How far a result computed by an approximate method is from exact (``residual_formula``,
        relative), checked under ``check=True``; None when there is nothing to check."""
        return None

    def daleckii_krein(self, config: Any) -> ScalarFunction | None:
        """The scalar function f when this configuration's derivative is the Daleckii–Krein rule of
        F = f(A) (an exact spectral function from an exact eigendecomposition), else None. The
        adapters then take second derivatives from f's second divided differences
        (:func:`spectralcore.spectral.daleckii_krein_second`), exact at ties, instead of
        differentiating the first derivative's formulas through the eigendecomposition."""
        return None

    def eigenpairs(self, xp: Any, residuals: Any) -> tuple[Any, Any]:
        """(w, V) of A from the residuals of a configuration :meth:`daleckii_krein` names or
        :meth:`keeps_eigenvalues` accepts."""
        raise SpectralError(f"{self.name} keeps no eigendecomposition")

    @abc.abstractmethod
    def forward(self, xp: Any, A: Any, config: Any) -> tuple[Any, Any]:
        """Return (output, residuals for the backward)."""

    def forward_from(self, xp: Any, A: Any, config: Any, eig: tuple[Any, Any]) -> tuple[Any, Any]:
        """:meth:`forward` from A's eigendecomposition ``eig`` = (w, V), computed once by the caller
        for several ops (``eig=``); only ops whose public function takes ``eig`` define it."""
        raise SpectralError(f"{self.name} does not take an eigendecomposition (`eig`)")

    @abc.abstractmethod
    def backward(self, xp: Any, config: Any, residuals: Any, cotangent: Any) -> Any:
        """Return gA for the output cotangent (already validated, in the working dtype)."""

    @abc.abstractmethod
    def jvp(self, xp: Any, config: Any, residuals: Any, tangent: Any) -> Any:
        """Return the output tangent for the tangent dA of A (validated, in the working dtype): the
        transpose of :meth:`backward`, so ⟨jvp(dA), cotangent⟩ = ⟨dA, backward(cotangent)⟩."""

    @abc.abstractmethod
    def cotangent_shapes(self, A: Any, out: Any) -> Any:
        """The shape(s) a cotangent must have: a tuple, or one tuple per output."""


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(config: Any) -> tuple[str, ...]:
    """The field names of a configuration's dataclass, cached per class (``dataclasses.fields``
    builds a tuple of Field objects on each call; an op call asks two or three times)."""
    names = _FIELDS.get(type(config))
    if names is None:
        names = _FIELDS[type(config)] = tuple(f.name for f in dataclasses.fields(config))
    return names


def configured_methods(config: Any) -> list[Method]:
    """The methods of a configuration (an op's frozen dataclass), in field order."""
    return [m for m in (getattr(config, name) for name in _field_names(config)) if isinstance(m, Method)]


def forward_mode_available(config: Any) -> bool:
    """Whether every configured method has a JVP (``Method.has_jvp``)."""
    return all(method.has_jvp() for method in configured_methods(config))


class SecondOrderError(NotImplementedError):
    """A derivative computed by an approximate method was differentiated again."""


def second_order_error(op: Op, config: Any) -> SecondOrderError:
    """The error for a second derivative through ``op`` configured with an approximate method."""
    named = [getattr(m, "inner", m) for m in configured_methods(config) if not m.is_exact()]
    if not named:  # every method is exact: the derivative came from an eigendecomposition given with eig=
        return SecondOrderError(
            f"spectralcore.{op.name}: second derivatives are not supported through a result computed from a given "
            "eigendecomposition (eig=): its first derivative treats the eigendecomposition as fixed, so its own "
            f"derivative would miss how it moves with A; differentiate {op.name} without eig= to get them"
        )
    methods = ", ".join(f"{m.kind} '{m.name}'" for m in named)
    return SecondOrderError(
        f"spectralcore.{op.name}: second derivatives are not supported through {methods}: its first derivative "
        "is an approximation, whose own derivative is not the op's; they are for exact methods (the default "
        "eigh/sqrtm/invsqrtm, backward='exact', matrix_function/matrix_power)"
    )


def third_order_error(op: Op) -> SecondOrderError:
    """The error for a third derivative through a Daleckii–Krein rule's second derivative."""
    return SecondOrderError(
        f"spectralcore.{op.name}: derivatives of third order are not supported (the second derivative is "
        "the Daleckii-Krein rule's, from second divided differences; its own derivative is not implemented)"
    )


def exactly_differentiable(config: Any) -> bool:
    """Whether every configured method is exact (``Method.is_exact``), so that the op's derivative
    may itself be differentiated (second order); a Daleckii–Krein backward (None) is exact."""
    return all(method.is_exact() for method in configured_methods(config))


@dataclasses.dataclass(frozen=True)
class MethodSlot:
    """One method argument of a public function: its role, the kinds it accepts, the spec."""

    role: str
    kinds: tuple[str, ...]
    spec: str | Method


def _lookup(slot: MethodSlot) -> type[Method] | Method:
    if isinstance(slot.spec, Method):
        if slot.spec.kind not in slot.kinds:
            raise SpectralError(
                f"`{slot.role}` must be a {' or '.join(slot.kinds)} method, got "
                f"{type(slot.spec).__name__} (a {slot.spec.kind} method)"
            )
        return slot.spec
    if not isinstance(slot.spec, str):
        raise SpectralError(
            f"`{slot.role}` must be a method name (str) or a method instance, got {type(slot.spec).__name__}"
        )
    table = REGISTRY.table()
    for kind in slot.kinds:
        if (kind, slot.spec) in table:
            return table[(kind, slot.spec)].cls
    available = sorted({name for kind in slot.kinds for name in REGISTRY.names(kind)})
    raise SpectralError(
        f"unknown {slot.role} method {slot.spec!r} ({' or '.join(slot.kinds)}); available: {', '.join(available)}"
    )


def resolve_methods(call: str, slots: list[MethodSlot], options: dict[str, Any]) -> dict[str, Method]:
    """Configure each slot's method. Every keyword option goes to each method *named by a string*
    that declares it; an option no such method declares is an error listing the valid ones."""
    found = {slot.role: _lookup(slot) for slot in slots}
    methods: dict[str, Method] = {}
    used: set[str] = set()
    for role, cls_or_instance in found.items():
        if isinstance(cls_or_instance, Method):
            methods[role] = cls_or_instance
            continue
        declared = cls_or_instance.option_defaults()
        mine = {k: v for k, v in options.items() if k in declared}
        used.update(mine)  # not `|= mine.keys()`: torch 2.11's Dynamo cannot trace set |= dict_keys
        methods[role] = cls_or_instance(**mine)
    unknown = sorted(set(options) - used)
    if unknown:
        valid = "; ".join(
            f"{role} {type(m).name!r}: "
            + (
                ", ".join(f"{k}={v!r}" for k, v in type(m).option_defaults().items()) or "(none)"
                if isinstance(found[role], type)
                else "(passed as an instance)"
            )
            for role, m in methods.items()
        )
        raise SpectralError(f"unknown option(s) {', '.join(map(repr, unknown))} for {call}; valid options: {valid}")
    return methods
