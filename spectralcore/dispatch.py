"""From a public call to an op run: validation, working dtype, adapter choice, explicit VJP."""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, cast

from ._array import namespace
from .method import EighResult, Method
from .ops.base import Op, SecondOrderError, configured_methods, exactly_differentiable, second_order_error
from .registry import REGISTRY
from .spectral import (
    ScalarFunction,
    daleckii_krein_rule,
    daleckii_krein_second,
    second_divided_differences,
)
from .validation import (
    RESIDUAL_WARNING,
    AccuracyWarning,
    SpectralError,
    as_eigendecomposition,
    check_cotangent,
    check_decomposes,
    check_definite,
    check_eigendecomposition,
    check_matrix,
    check_spectrum,
    working_dtype,
)


def _cast(xp: Any, out: Any, dtype: Any) -> Any:
    if isinstance(out, EighResult):
        return EighResult(xp.astype(out[0], dtype), xp.astype(out[1], dtype), out.accepted)
    return xp.astype(out, dtype)


def _to(xp: Any, x: Any, dtype: Any) -> Any:
    """``x`` in ``dtype``, converted only if it is in another (``xp.astype`` copies even then: a
    full pass over the batch that a cotangent or tangent going into a method does not need)."""
    return x if x.dtype == dtype else xp.astype(x, dtype)


def _result(xp: Any, out: Any, dtype: Any, given: Any) -> Any:
    """A derivative ``out`` in ``dtype``: a copy only where its dtype differs or it is the very
    array ``given`` to the method (an identity-like rule), so the caller never gets its own
    cotangent or tangent back as the result."""
    return xp.astype(out, dtype) if out.dtype != dtype or any(out is g for g in given) else out


DomainCheck = Callable[[Any, Any], None]  # (xp, A's eigenvalues) -> None, or SpectralError


def run_forward(
    op: Op, xp: Any, A: Any, config: Any, eig: tuple[Any, Any] | None = None, check: DomainCheck | None = None
) -> tuple[Any, Any]:
    """op.forward in the working dtype (float16/bfloat16 computed in float32), output in A's dtype;
    ``eig``, A's eigendecomposition given by the caller (``eig=``), goes to ops that reuse one;
    ``check``, A's domain check, runs on the eigenvalues the forward kept (``Op.keeps_eigenvalues``)."""
    dtype, work = A.dtype, working_dtype(xp, A.dtype)
    if work != dtype:
        A = xp.astype(A, work)
        eig = None if eig is None else (xp.astype(eig[0], work), xp.astype(eig[1], work))
    out, residuals = op.forward(xp, A, config) if eig is None else op.forward_from(xp, A, config, eig)
    if check is not None:
        check(xp, op.eigenpairs(xp, residuals)[0])
    return (out if work == dtype else _cast(xp, out, dtype)), residuals


def run_backward(op: Op, xp: Any, A: Any, config: Any, residuals: Any, shapes: Any, cotangent: Any) -> Any:
    """Validate the cotangent against the output ``shapes`` (``op.cotangent_shapes``), run
    op.backward in the working dtype, return gA in A's dtype."""
    work = working_dtype(xp, A.dtype)
    if isinstance(shapes[0], tuple):
        cotangent = (None,) * len(shapes) if cotangent is None else cotangent  # None: every output's is zero
        if not isinstance(cotangent, (tuple, list)) or len(cotangent) != len(shapes):
            raise SpectralError(
                f"cotangent of {op.name} must be a tuple of {len(shapes)} arrays (or None), "
                f"got {type(cotangent).__name__}"
            )
        cotangent = tuple(
            check_cotangent(xp, A, g, shape, name=f"{op.name}[{i}]")
            for i, (g, shape) in enumerate(zip(cotangent, shapes))
        )
        cotangent = tuple(None if g is None else _to(xp, g, work) for g in cotangent)
        given = cotangent
    else:
        cotangent = check_cotangent(xp, A, cotangent, shapes, name=op.name)
        cotangent = None if cotangent is None else _to(xp, cotangent, work)
        given = (cotangent,)
    return _result(xp, op.backward(xp, config, residuals, cotangent), A.dtype, given)


def run_jvp(op: Op, xp: Any, A: Any, config: Any, residuals: Any, tangent: Any) -> Any:
    """Validate the tangent dA (A's shape; None is zero), run op.jvp in the working dtype, return
    the output tangent(s) in A's dtype."""
    work = working_dtype(xp, A.dtype)
    tangent = check_cotangent(xp, A, tangent, tuple(A.shape), name=f"d{op.name}", role="tangent")
    tangent = xp.zeros_like(A, dtype=work) if tangent is None else _to(xp, tangent, work)
    out = op.jvp(xp, config, residuals, tangent)
    if isinstance(out, tuple):
        return tuple(_result(xp, t, A.dtype, (tangent,)) for t in out)
    return _result(xp, out, A.dtype, (tangent,))


def run_daleckii_krein(xp: Any, fn: ScalarFunction, A: Any, w: Any, V: Any, X: Any, H: Any = None) -> Any:
    """The Daleckii–Krein rule of F = f(A) from A's eigenpairs (w, V): DF(A)[X] (the VJP for a
    cotangent X, the JVP for a tangent X), or with H the second derivative D²F(A)[X, H], in the
    working dtype of A, returned in A's dtype (:mod:`spectralcore.spectral`)."""
    work = working_dtype(xp, A.dtype)
    w, V, X = (xp.astype(x, work) for x in (w, V, X))
    if H is None:
        out = daleckii_krein_rule(xp, fn, w, V, X)
    else:
        if fn.d2f is None:
            raise SpectralError(
                "a second derivative of matrix_function needs f's second derivative: pass d2f= "
                "(the torch and JAX adapters take it from df by forward-mode differentiation)"
            )
        T = second_divided_differences(xp, w, fn.f, fn.df, fn.d2f)
        out = daleckii_krein_second(xp, V, T, X, xp.astype(H, work))
    return xp.astype(out, A.dtype)


def apply(op: Op, A: Any, config: Any, eig: Any = None) -> Any:
    """Validate A (and ``eig``), pick the adapter that claims A's type, and run the op through it.

    An adapter has ``apply(op, xp, A, config, eig)`` and ``inspectable(A)``: A's values as an
    array that may be read (detached from autodiff), or None while A is being traced (jit,
    torch.compile), when the value checks are skipped. It may have ``numerics()``: the context
    its computations run in (JAX: the matmul precision), which ``vjp`` enters too. ``eig``
    (None, or A's eigendecomposition (w, V) for an op that reuses one) enters the op's forward as
    an input through which no derivative flows: the op's own rule differentiates with respect to A.

    An adapter whose forward runs on A's values (not traced) may declare ``checks_in_forward =
    True`` and take ``check=``: A's domain check, which its :func:`run_forward` then runs on the
    eigenvalues of an exact eigendecomposition forward instead of a Cholesky factorisation of A
    before it (:func:`_check`).
    """
    xp = namespace(A)
    adapter = _adapter(A)
    values, eig, check = _check(xp, A, adapter, config, op, eig)
    out = adapter.apply(op, xp, A, config, eig) if check is None else adapter.apply(op, xp, A, config, eig, check=check)
    _check_result(xp, op, config, adapter, values, out, stacklevel=4)  # the user's call to sc.sqrtm(...)
    return out


def _adapter(A: Any) -> Any:
    adapter = REGISTRY.adapter(A)
    if adapter is None:
        raise SpectralError(f"no adapter claims arrays of type {type(A).__module__}.{type(A).__qualname__}")
    return adapter


def _described(op: Op, config: Any) -> str:
    """The op and its forward method, for an error message: "sqrtm (forward 'mpa')"."""
    forward = getattr(config, "forward", None)
    return f"{op.name} (forward '{forward.name}')" if isinstance(forward, Method) else op.name


def _check(
    xp: Any, A: Any, adapter: Any, config: Any, op: Op, eig: Any
) -> tuple[Any, tuple[Any, Any] | None, DomainCheck | None]:
    """A's shape and dtype (always), its values (``check=True``, not while traced), ``eig`` against
    A, and each configured method's options against the matrix size. Returns A's readable values
    (None when they were not checked), ``eig`` as a pair (w, V) or None, and the domain check left
    to the forward (None when done here or not needed): an exact eigendecomposition forward,
    through an adapter that ``checks_in_forward``, checks A's domain on its own eigenvalues."""
    if not isinstance(config.check, bool):
        raise SpectralError(f"`check` must be True or False, got {config.check!r}")
    values = adapter.inspectable(A) if config.check else None
    check_matrix(xp, A if values is None else values, check_values=values is not None)
    if eig is not None:
        w, V = eig = as_eigendecomposition(eig)
        check_eigendecomposition(xp, A, w, V)
        readable = None if values is None else (adapter.inspectable(w), adapter.inspectable(V))
        if readable is not None and all(x is not None for x in readable):
            check_decomposes(xp, values, *readable)
    domain, check = op.domain(config), None
    if values is not None and domain is not None:
        what = _described(op, config)
        if eig is None and getattr(adapter, "checks_in_forward", False) and op.keeps_eigenvalues(config):
            check = functools.partial(_check_spectrum, adapter.inspectable, domain=domain, what=what)
        else:
            check_definite(xp, values, domain, what=what)
    for method in configured_methods(config):
        method.check_size(A.shape[-1])
    return values, eig, check


def _check_spectrum(inspectable: Callable[[Any], Any], xp: Any, w: Any, domain: str, what: str) -> None:
    """check_spectrum on the values of A's eigenvalues w (read, detached from autodiff)."""
    check_spectrum(xp, inspectable(w), domain, what=what)


_WARNED: set[str] = set()  # "sqrtm (forward 'mpa')": warned once per process, then not checked again


def _check_result(xp: Any, op: Op, config: Any, adapter: Any, values: Any, out: Any, stacklevel: int) -> None:
    """Under check=True (values read), warn once per op and forward when an approximate forward's
    result misses RESIDUAL_WARNING by the op's own residual (one or two matrix products)."""
    forward = getattr(config, "forward", None)
    if values is None or not op.residual_formula or "exact" in getattr(forward, "claims", ()):
        return  # no values read, nothing to check, or an exact forward
    what = _described(op, config)
    if what in _WARNED:
        return
    residual = op.residual(xp, values, adapter.inspectable(out), config)
    if residual is not None and not residual <= RESIDUAL_WARNING:
        _WARNED.add(what)
        warnings.warn(
            f"{what}: relative residual {residual:.2g} > {RESIDUAL_WARNING:g} "
            f"({op.residual_formula}); for ill-conditioned or singular A raise the forward's degree or "
            "iterations (newton-schulz converges fastest), add a ridge (A + eps I) or use forward='eigh'; "
            "check=False skips this check",
            AccuracyWarning,
            stacklevel=stacklevel,
        )


P = ParamSpec("P")
R = TypeVar("R", covariant=True)


class PublicOp(Protocol, Generic[P, R]):
    """The type of a public op function (``sc.eigh``, ``sc.sqrtm``, ...): called with the
    signature of its configuring body, which it keeps as ``.configure``; ``.op`` is its op."""

    op: Op
    configure: Callable[P, Any]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...


def public_op(op: Op) -> Callable[[Callable[P, R]], PublicOp[P, R]]:
    """Turn a configuring function into the public function of ``op``.

    The decorated body parses the user's arguments into the op's configuration (a frozen
    dataclass with a ``check`` field); the public function runs the op through
    :func:`apply`, with the ``eig=`` argument (arrays, so not part of the hashable
    configuration) beside it. ``sc.vjp`` reuses the same body through ``.configure``. The body's
    return annotation is the public function's (what ``apply`` returns), not the configuration's.
    """

    def decorate(configure: Callable[P, R]) -> PublicOp[P, R]:
        @functools.wraps(configure)
        def public(A: Any, *args: Any, **kwargs: Any) -> Any:
            return apply(op, A, configure(A, *args, **kwargs), kwargs.get("eig"))

        typed = cast("PublicOp[P, R]", public)
        typed.op = op
        typed.configure = configure
        return typed

    return decorate


def _explicit(name: str, fn: PublicOp[..., Any], A: Any, args: Any, kwargs: Any) -> tuple[Op, Any, Any, Any, Any, Any]:
    """The forward of an explicit-derivative call (``vjp``, ``linearize``): (op, config, xp,
    numerics context, out, residuals), with the same checks as the public function."""
    op = getattr(fn, "op", None)
    if op is None:
        raise SpectralError(
            f"{name} expects a spectralcore op (sc.eigh, sc.sqrtm, sc.invsqrtm, sc.matrix_power, "
            f"sc.matrix_function, sc.logm, sc.expm), got {fn!r}"
        )
    config = fn.configure(A, *args, **kwargs)
    xp = namespace(A)
    adapter = _adapter(A)
    values, eig, check = _check(xp, A, adapter, config, op, kwargs.get("eig"))
    numerics = getattr(adapter, "numerics", contextlib.nullcontext)
    with numerics():
        out, residuals = run_forward(op, xp, A, config, eig, check)
    _check_result(xp, op, config, adapter, values, out, stacklevel=4)  # the user's call to sc.vjp(...)
    return op, config, xp, numerics, out, residuals


def vjp(fn: PublicOp[..., Any], A: Any, *args: Any, **kwargs: Any) -> tuple[Any, Callable[[Any], Any]]:
    """``out, pullback = vjp(sc.eigh, A, backward="taylor")``; ``pullback(cotangent)`` is gA.

    Works on any Array-API array (NumPy, CuPy, array-api-strict, torch, jax) without the
    framework's autodiff. The cotangent has the output's structure: ``(gw, gV)`` for eigh
    (either may be None, meaning zero), one array otherwise.
    """
    op, config, xp, numerics, out, residuals = _explicit("vjp", fn, A, args, kwargs)
    shapes = op.cotangent_shapes(A, out)

    def pullback(cotangent: Any) -> Any:
        with numerics():
            return run_backward(op, xp, A, config, residuals, shapes, cotangent)

    return out, pullback


def linearize(fn: PublicOp[..., Any], A: Any, *args: Any, **kwargs: Any) -> tuple[Any, Callable[[Any], Any]]:
    """``out, pushforward = linearize(sc.sqrtm, A, backward="lyapunov")``; ``pushforward(dA)`` is
    the output's tangent: ``(dw, dV)`` for eigh, one array otherwise.

    Forward mode with the configured backward method's JVP, the transpose of its VJP:
    ⟨pushforward(dA), G⟩ = ⟨dA, pullback(G)⟩. A method that defines no JVP raises
    :class:`ForwardModeError` naming it. Works on any Array-API array, like :func:`vjp`.
    """
    op, config, xp, numerics, out, residuals = _explicit("linearize", fn, A, args, kwargs)

    def pushforward(tangent: Any) -> Any:
        with numerics():
            return run_jvp(op, xp, A, config, residuals, tangent)

    return out, pushforward


def jvp(fn: PublicOp[..., Any], A: Any, tangent: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """``out, dout = jvp(sc.sqrtm, A, dA, forward="mpa")``: :func:`linearize` applied once."""
    out, pushforward = linearize(fn, A, *args, **kwargs)
    return out, pushforward(tangent)


def hvp(fn: PublicOp[..., Any], A: Any, cotangent: Any, tangent: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """``gA, dgA = hvp(sc.sqrtm, A, G, dA)``: the pullback gA = VJP(G) and its derivative along dA
    for the fixed cotangent G, i.e. the Hessian-vector product of L(A) = ⟨G, F(A)⟩. (For a loss
    whose cotangent G(A) moves with A, add the pullback of dG.) On any Array-API array, without the
    framework's autodiff, like :func:`vjp`.

    For configurations whose derivative is a Daleckii–Krein rule (``matrix_power``, ``logm``,
    ``expm``, ``matrix_function`` with ``d2f``, ``sqrtm``/``invsqrtm`` with the eigh forward and the
    exact backward): dgA = D²F(A)[G, dA] = V M Vᵀ, M_ab = Σ_c f[λa,λb,λc] (G̃_ac dÃ_cb + dÃ_ac G̃_cb),
    exact at repeated eigenvalues. Other configurations raise :class:`SecondOrderError`.
    """
    op, config, xp, numerics, out, residuals = _explicit("hvp", fn, A, args, kwargs)
    rule = op.daleckii_krein(config) if kwargs.get("eig") is None else None
    if rule is None:
        if kwargs.get("eig") is not None or not exactly_differentiable(config):
            raise second_order_error(op, config)
        raise SecondOrderError(
            f"spectralcore.hvp: {_described(op, config)} is exact, but its derivative is not a Daleckii-Krein "
            "rule, whose second derivative hvp computes; take it with torch or JAX, or use a configuration that "
            "hvp's documentation lists"
        )
    G = check_cotangent(xp, A, cotangent, op.cotangent_shapes(A, out), name=op.name)
    dA = check_cotangent(xp, A, tangent, tuple(A.shape), name=f"d{op.name}", role="tangent")
    w, V = op.eigenpairs(xp, residuals)
    with numerics():
        if G is None:
            return xp.zeros_like(A), xp.zeros_like(A)
        gA = run_daleckii_krein(xp, rule, A, w, V, G)
        return gA, (xp.zeros_like(A) if dA is None else run_daleckii_krein(xp, rule, A, w, V, G, dA))
