"""JAX adapter: a ``jax.Array`` goes through a ``jax.custom_jvp`` whose rule is the core op's
forward and the configured method's JVP; JAX transposes that JVP for reverse mode, so
``jax.grad``, ``jvp``, ``jacfwd``, ``jacrev``, ``linearize``, ``jit`` and ``vmap`` (nested too)
work. The JVP is the exact transpose of the method's VJP, so gradients agree with ``sc.vjp`` to
rounding; under jit both designs compile to the same number of matrix products (measured with
``benchmarks/adapter_overhead.py --jax-designs jvp vjp``). An approximate configuration's
tangent is written as the transpose of its pullback (:func:`_transposed_pullback`), so that
reverse mode, transposing it back, runs the method's own backward. A configuration with a VJP-only
method goes through ``jax.custom_vjp`` instead (reverse mode only; forward mode raises
:class:`spectralcore.ForwardModeError` naming the method). Second derivatives: JAX
differentiates the rule itself, which is the op's second derivative for exact methods; for an
approximate one it raises :class:`spectralcore.SecondOrderError`. Method options are static
(the configuration is a hashable non-differentiable argument). Value checks are skipped while
tracing. jax is imported only when a jax array arrives.

Matrix products run at full float32 precision unless the user chose one (``numerics``): JAX's
default on NVIDIA GPUs rounds float32 products to TF32 (10-bit mantissa), and the Newton–Schulz
square root through ``sc.vjp`` then measured 1.0e-4 to 2.3e-4 relative error on an H200 (6 × 6
covariances, where torch and CuPy on the same GPU stay within 1e-4). A precision set with
``jax.default_matmul_precision`` (context or config) is honoured as it is.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any

from spectralcore.dispatch import run_backward, run_daleckii_krein, run_forward, run_jvp
from spectralcore.hooks import hookimpl
from spectralcore.method import EighResult, no_jvp
from spectralcore.ops.base import (
    Op,
    configured_methods,
    exactly_differentiable,
    forward_mode_available,
    second_order_error,
    third_order_error,
)
from spectralcore.spectral import with_second_derivative


@functools.cache
def _register_pytree() -> None:
    """EighResult is a pytree (w, V, accepted) for every JAX transformation."""
    import jax

    jax.tree_util.register_pytree_node(
        EighResult, lambda r: ((r[0], r[1], r.accepted), None), lambda _, children: EighResult(*children)
    )


def _numerics() -> Any:
    """Trace-time context of every forward and backward: HIGHEST matmul precision unless the
    user set one (see the module doc)."""
    import jax

    if jax.config.jax_default_matmul_precision is not None:
        return contextlib.nullcontext()
    return jax.default_matmul_precision("highest")


def _dense(cot: Any) -> Any:
    """A cotangent JAX knows to be zero arrives as SymbolicZero: pass None (zero), so that an
    unused output never multiplies an infinite kernel entry (0 · inf = NaN at ties)."""
    from jax.custom_derivatives import SymbolicZero

    return None if isinstance(cot, SymbolicZero) else cot


@functools.cache
def _custom_vjp() -> Any:
    """Reverse mode only, for configurations with a VJP-only method."""
    import jax
    from array_api_compat import array_namespace

    @functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
    def spectral(op: Op, config: Any, A: Any, eig: Any) -> Any:
        with _numerics():
            return run_forward(op, array_namespace(A), A, config, eig)[0]

    def forward(op: Op, config: Any, A: Any, eig: Any) -> Any:
        A, eig = jax.tree.map(lambda primal: primal.value, (A, eig))
        with _numerics():
            out, residuals = run_forward(op, array_namespace(A), A, config, eig)
        return out, (A, residuals)

    def backward(op: Op, config: Any, saved: Any, cot: Any) -> Any:
        A, residuals = saved
        if isinstance(cot, EighResult):
            shapes, cot = (tuple(cot[0].shape), tuple(cot[1].shape)), (_dense(cot[0]), _dense(cot[1]))
        else:
            shapes, cot = tuple(A.shape), _dense(cot)
        with _numerics():
            gA = run_backward(op, array_namespace(A), A, config, residuals, shapes, cot)
        return gA, None  # eig: no derivative flows into it (the op's rule is with respect to A)

    spectral.defvjp(forward, backward, symbolic_zeros=True)
    return spectral


@functools.cache
def _custom_jvp() -> Any:
    """Forward mode by the configured method's JVP; JAX transposes it for reverse mode (the
    JVP is the exact transpose of the method's VJP, so the numbers agree to rounding)."""
    import jax
    import numpy as np
    from array_api_compat import array_namespace

    @functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1))
    def spectral(op: Op, config: Any, A: Any, eig: Any) -> Any:
        with _numerics():
            return run_forward(op, array_namespace(A), A, config, eig)[0]

    @spectral.defjvp
    def rule(op: Op, config: Any, primals: Any, tangents: Any) -> Any:
        (A, eig), (dA, _) = primals, tangents  # eig's tangent is unused: the op's rule is with respect to A
        if eig is not None or not exactly_differentiable(config):
            A, eig = _differentiable_once(op, config)(A, eig)
        xp = array_namespace(A)
        rule_ = op.daleckii_krein(config) if eig is None else None
        with _numerics():
            out, residuals = run_forward(op, xp, A, config, eig)
            if rule_ is None and not exactly_differentiable(config):
                tangent = _transposed_pullback(op, xp, A, config, out, residuals, dA)
            elif rule_ is None:
                tangent = run_jvp(op, xp, A, config, residuals, dA)
            else:  # a primitive, so that second derivatives are the rule's own (exact at ties)
                w, V = op.eigenpairs(xp, residuals)
                rule_ = with_second_derivative(rule_, _forward_derivative)
                tangent = _daleckii_krein()[0].bind(A, w, V, dA, op=op, rule=rule_)
        if isinstance(out, EighResult):
            accepted = None if out.accepted is None else np.zeros(out.accepted.shape, jax.dtypes.float0)
            return out, EighResult(tangent[0], tangent[1], accepted)
        return out, tangent

    return spectral


def _transposed_pullback(op: Op, xp: Any, A: Any, config: Any, out: Any, residuals: Any, dA: Any) -> Any:
    """The tangent of an approximate configuration as the transpose of its pullback,
    dF = (gA ↦ backward(gA))ᵀ dA, equal to the method's JVP (its exact transpose) to rounding.
    Reverse mode transposes this back, so ``jax.grad`` runs the method's own backward: JAX's
    transpose of the Lyapunov JVP compiled to 1.5–1.6× the HLO of the explicit VJP, and
    mpa + lyapunov ran 1.3–1.7× plain JAX under jit on CPU (now 0.91–0.99×). Exact
    configurations keep the JVP, whose own derivative is the op's second derivative."""
    import jax

    pullback = functools.partial(run_backward, op, xp, A, config, residuals, op.cotangent_shapes(A, out))
    # the outputs themselves, not their ShapeDtypeStructs: under shard_map their type carries the
    # manual axes they vary over, which the tangent must carry too
    return jax.linear_transpose(pullback, tuple(out[:2]) if isinstance(out, EighResult) else out)(dA)[0]


def _forward_derivative(df: Any) -> Any:
    """w ↦ df′(w) for an elementwise df, by forward-mode differentiation (``jax.jvp``)."""
    import jax

    return lambda w: jax.jvp(df, (w,), (jax.numpy.ones_like(w),))[1]


@functools.cache
def _daleckii_krein() -> tuple[Any, Any]:
    """Two primitives: ``first`` (A, w, V, X) ↦ DF(A)[X], the Daleckii–Krein rule of F = f(A) that
    is the JVP (and, self-adjoint, the VJP) of a configuration :meth:`Op.daleckii_krein` names, and
    ``second`` (A, w, V, X, H) ↦ D²F(A)[X, H]. They are primitives, not jnp code, so that JAX
    neither transposes nor differentiates the rule's formulas through eigh (which at ties gives a
    wrong or non-finite Hessian): ``first``'s derivative along dA is ``second``, both are
    self-adjoint in their linear arguments, so each transposes to itself; (w, V) are A's and take
    no derivative; a third derivative raises. Batching moves the mapped axis to the front (the
    rules broadcast over leading axes); jit lowers the jnp implementation."""
    import jax
    from array_api_compat import array_namespace
    from jax.extend.core import Primitive
    from jax.interpreters import ad, batching, mlir

    first, second = Primitive("spectralcore_daleckii_krein"), Primitive("spectralcore_daleckii_krein_second")

    def implementation(A: Any, w: Any, V: Any, *linear: Any, op: Op, rule: Any) -> Any:
        with _numerics():
            return run_daleckii_krein(array_namespace(A), rule, A, w, V, *linear)

    def first_jvp(primals: Any, tangents: Any, **params: Any) -> Any:
        A, w, V, X = primals
        dA, _, _, dX = tangents
        out = first.bind(A, w, V, X, **params)
        parts = [] if type(dA) is ad.Zero else [second.bind(A, w, V, X, dA, **params)]
        parts += [] if type(dX) is ad.Zero else [first.bind(A, w, V, dX, **params)]
        return out, sum(parts[1:], parts[0]) if parts else ad.Zero.from_primal_value(out)

    def first_transpose(ct: Any, A: Any, w: Any, V: Any, X: Any, **params: Any) -> Any:
        return None, None, None, first.bind(A, w, V, ad.instantiate_zeros(ct), **params)

    def second_transpose(ct: Any, A: Any, w: Any, V: Any, X: Any, H: Any, **params: Any) -> Any:
        ct = ad.instantiate_zeros(ct)  # ⟨K, D²F[X, H]⟩ = ⟨D²F[K, H], X⟩ = ⟨D²F[X, K], H⟩
        if ad.is_undefined_primal(X):
            return None, None, None, second.bind(A, w, V, ct, H, **params), None
        return None, None, None, None, second.bind(A, w, V, X, ct, **params)

    def third(primals: Any, tangents: Any, *, op: Op, rule: Any) -> Any:
        raise third_order_error(op)

    def batched(primitive: Any) -> Any:
        def rule(args: Any, dims: Any, **params: Any) -> Any:
            size = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
            return primitive.bind(*(batching.bdim_at_front(a, d, size) for a, d in zip(args, dims)), **params), 0

        return rule

    for primitive, jvp, transpose in ((first, first_jvp, first_transpose), (second, third, second_transpose)):
        primitive.def_impl(implementation)
        primitive.def_abstract_eval(lambda A, *_, **__: jax.core.ShapedArray(A.shape, A.dtype))
        mlir.register_lowering(primitive, mlir.lower_fun(implementation, multiple_results=False))
        ad.primitive_jvps[primitive] = jvp
        ad.primitive_transposes[primitive] = transpose
        batching.primitive_batchers[primitive] = batched(primitive)
    return first, second


@functools.cache
def _differentiable_once(op: Op, config: Any) -> Any:
    """Identity on (A, eig) inside the JVP rule of an approximate configuration or of a call with
    ``eig=``; differentiating the rule itself (a second derivative: hessian, jacfwd of grad) raises
    instead of returning the derivative of an approximation, or one that misses how the given
    eigendecomposition moves with A, as if it were the op's."""
    import jax

    @jax.custom_jvp
    def once(A: Any, eig: Any) -> Any:
        return A, eig

    @once.defjvp
    def refuse(primals: Any, tangents: Any) -> Any:
        raise second_order_error(op, config)

    return once


class JaxAdapter:
    def apply(self, op: Op, xp: Any, A: Any, config: Any, eig: tuple[Any, Any] | None = None) -> Any:
        if forward_mode_available(config):
            return _custom_jvp()(op, config, A, eig)
        try:
            return _custom_vjp()(op, config, A, eig)
        except TypeError as error:  # JAX refuses jvp of a custom_vjp function: name the method
            if "forward-mode" not in str(error):
                raise
            missing = [m for m in configured_methods(config) if not m.has_jvp()]
            raise no_jvp(getattr(missing[0], "inner", missing[0])) from error

    def inspectable(self, A: Any) -> Any:
        import jax

        return None if isinstance(A, jax.core.Tracer) else A

    def numerics(self) -> Any:
        return _numerics()


ADAPTER = JaxAdapter()


@hookimpl
def spectralcore_array_adapter(array: Any) -> JaxAdapter | None:
    jax = sys.modules.get("jax")
    if jax is None or not isinstance(array, jax.Array):
        return None
    _register_pytree()
    return ADAPTER


if "jax" in sys.modules:  # jax came first: EighResult is a pytree from the start
    _register_pytree()
