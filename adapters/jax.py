"""JAX adapter: a ``jax.Array`` goes through a ``jax.custom_vjp`` whose forward and backward
are the core op's, so ``jax.grad``, ``jit`` and ``vmap`` (nested too) work. Method options are
static (the configuration is a hashable non-differentiable argument). Value checks are
skipped while tracing. jax is imported only when a jax array arrives.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from spectralcore.dispatch import run_backward, run_forward
from spectralcore.hooks import hookimpl
from spectralcore.method import EighResult
from spectralcore.ops.base import Op


@functools.cache
def _register_pytree() -> None:
    """EighResult is a pytree (w, V, accepted) for every JAX transformation."""
    import jax

    jax.tree_util.register_pytree_node(
        EighResult, lambda r: ((r[0], r[1], r.accepted), None), lambda _, children: EighResult(*children))


@functools.cache
def _custom_vjp() -> Any:
    import jax
    from array_api_compat import array_namespace
    from jax.custom_derivatives import SymbolicZero

    def dense(cot: Any) -> Any:
        """A cotangent JAX knows to be zero arrives as SymbolicZero: pass None (zero), so that
        an unused output never multiplies an infinite kernel entry (0 · inf = NaN at ties)."""
        return None if isinstance(cot, SymbolicZero) else cot

    @functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
    def spectral(op: Op, config: Any, A: Any) -> Any:
        return run_forward(op, array_namespace(A), A, config)[0]

    def forward(op: Op, config: Any, A: Any) -> Any:
        A = A.value
        out, residuals = run_forward(op, array_namespace(A), A, config)
        return out, (A, residuals)

    def backward(op: Op, config: Any, saved: Any, cot: Any) -> Any:
        A, residuals = saved
        if isinstance(cot, EighResult):
            shapes, cot = (tuple(cot[0].shape), tuple(cot[1].shape)), (dense(cot[0]), dense(cot[1]))
        else:
            shapes, cot = tuple(A.shape), dense(cot)
        gA = run_backward(op, array_namespace(A), A, config, residuals, shapes, cot)
        return (gA,)

    spectral.defvjp(forward, backward, symbolic_zeros=True)
    return spectral


class JaxAdapter:
    def apply(self, op: Op, xp: Any, A: Any, config: Any) -> Any:
        return _custom_vjp()(op, config, A)

    def inspectable(self, A: Any) -> Any:
        import jax

        return None if isinstance(A, jax.core.Tracer) else A


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
