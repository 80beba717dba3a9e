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
def _custom_vjp() -> Any:
    import jax
    from array_api_compat import array_namespace

    jax.tree_util.register_pytree_node(
        EighResult, lambda r: ((r[0], r[1], r.accepted), None), lambda _, children: EighResult(*children))

    def cotangent_of(out_shapes: Any, cot: Any) -> Any:
        return tuple(cot)[:2] if isinstance(out_shapes[0], tuple) else cot

    @functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
    def spectral(op: Op, config: Any, A: Any) -> Any:
        return run_forward(op, array_namespace(A), A, config)[0]

    def forward(op: Op, config: Any, A: Any) -> Any:
        out, residuals = run_forward(op, array_namespace(A), A, config)
        return out, (A, residuals)

    def backward(op: Op, config: Any, saved: Any, cot: Any) -> Any:
        A, residuals = saved
        shapes = op.cotangent_shapes(A, cot)
        return (run_backward(op, array_namespace(A), A, config, residuals, shapes, cotangent_of(shapes, cot)),)

    spectral.defvjp(forward, backward)
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
    return ADAPTER if jax is not None and isinstance(array, jax.Array) else None
