"""PyTorch adapter: a ``torch.Tensor`` goes through a ``torch.autograd.Function`` whose forward
and backward are the core op's forward and backward.

Batched, any device, dtype preserved (float16/bfloat16 computed in float32); autocast is
disabled inside (the methods choose their own precision). The backward is
first-order only: a backward with ``create_graph=True`` raises, rather than returning a
second derivative that would silently miss this op's part. torch is imported only when
a tensor arrives, so registering this plugin costs nothing to a NumPy-only user.
"""

from __future__ import annotations

import importlib
import sys
from contextlib import nullcontext
from typing import Any

from spectralcore.dispatch import run_backward, run_forward
from spectralcore.hooks import hookimpl
from spectralcore.method import EighResult
from spectralcore.ops.base import Op
from spectralcore.trace_constants import add_marker


def _flatten(tree: Any, leaves: list) -> Any:
    """Replace every tensor in a tree of tuples (NamedTuples and EighResult kept) and Nones
    by its index in ``leaves``; the spec records each tuple's class."""
    if tree is None:
        return None
    if isinstance(tree, EighResult):
        children = (tree[0], tree[1], tree.accepted)
    elif isinstance(tree, tuple):
        children = tuple(tree)
    else:
        leaves.append(tree)
        return len(leaves) - 1
    return (type(tree),) + tuple(_flatten(t, leaves) for t in children)


def _unflatten(spec: Any, leaves: tuple) -> Any:
    if spec is None:
        return None
    if isinstance(spec, int):
        return leaves[spec]
    cls, children = spec[0], [_unflatten(s, leaves) for s in spec[1:]]
    return tuple(children) if cls is tuple else cls(*children)


_FUNCTION: type | None = None


def _function_class() -> type:
    """The autograd.Function (and the CuPy eigh custom op), defined on first use (module
    globals, which torch.compile reads as constants once they exist)."""
    global _FUNCTION, _CUPY_EIGH
    if _FUNCTION is None:
        _FUNCTION, _CUPY_EIGH = _define_function(), _define_cupy_eigh()
    return _FUNCTION


def _define_function() -> type:
    import torch

    add_marker(torch.compiler.assume_constant_result)  # torch.compile runs them instead of tracing NumPy

    class SpectralFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, A: Any, op: Op, config: Any, xp: Any) -> Any:
            with torch.autocast(A.device.type, enabled=False):  # detached: DLPack (solver="cupy") refuses grad tensors
                out, residuals = run_forward(op, xp, A.detach(), config)
            leaves: list = []
            ctx.spec = _flatten(residuals, leaves)
            ctx.save_for_backward(A, *leaves)
            ctx.op, ctx.config, ctx.xp = op, config, xp
            ctx.shapes = op.cotangent_shapes(A, out)
            ctx.set_materialize_grads(False)
            if isinstance(out, EighResult):
                if out.accepted is not None:
                    ctx.mark_non_differentiable(out.accepted)
                    return out[0], out[1], out.accepted
                return out[0], out[1]
            return out

        @staticmethod
        def backward(ctx: Any, *grads: Any) -> Any:
            if torch.is_grad_enabled():
                raise RuntimeError(f"spectralcore.{ctx.op.name}: second derivatives are not supported "
                                   "(backward was called with create_graph=True)")
            A, *leaves = ctx.saved_tensors
            A = A.detach()
            residuals = _unflatten(ctx.spec, tuple(leaves))
            cotangent = grads[:2] if isinstance(ctx.shapes[0], tuple) else grads[0]
            with torch.autocast(A.device.type, enabled=False):
                gA = run_backward(ctx.op, ctx.xp, A, ctx.config, residuals, ctx.shapes, cotangent)
            return gA, None, None, None

    return SpectralFunction


_CUPY_EIGH: Any = None


def _define_cupy_eigh() -> Any:
    """``torch.ops.spectralcore.cupy_eigh``: CuPy's batched eigh on torch's current stream, as a
    custom op (torch.compile records it as one opaque node with the shapes of its fake)."""
    import torch

    @torch.library.custom_op("spectralcore::cupy_eigh", mutates_args=(), schema="(Tensor A) -> (Tensor, Tensor)")
    def cupy_eigh(A: Any) -> tuple[Any, Any]:
        solver = importlib.import_module("spectralcore.adapters.cupy_solver")
        if A.is_cuda:
            stream = solver.on_stream(torch.cuda.current_stream(A.device).cuda_stream, A.device.index)
        else:  # only a stand-in solver (tests) reaches here with a CPU tensor
            stream = nullcontext()
        with stream:
            w, V = solver.eigh(A)
            return torch.from_dlpack(w), torch.from_dlpack(V)

    @cupy_eigh.register_fake
    def _(A: Any) -> tuple[Any, Any]:
        return A.new_empty(A.shape[:-1]), A.new_empty(A.shape)

    return cupy_eigh


class TorchAdapter:
    """Runs ops through :func:`_function_class`'s autograd.Function."""

    def apply(self, op: Op, xp: Any, A: Any, config: Any) -> Any:
        out = _function_class().apply(A, op, config, xp)
        if isinstance(out, tuple):
            return EighResult(*out)
        return out

    def cupy_eigh(self, A: Any) -> tuple[Any, Any]:
        _function_class()  # defines the custom op with the Function
        return _CUPY_EIGH(A)

    def inspectable(self, A: Any) -> Any:
        """None while torch.compile traces or a CUDA graph is being captured (reading the
        values would synchronise with the device, which capture forbids)."""
        import torch

        if torch.compiler.is_compiling() or (A.is_cuda and torch.cuda.is_current_stream_capturing()):
            return None
        return A.detach()


ADAPTER = TorchAdapter()


@hookimpl
def spectralcore_array_adapter(array: Any) -> TorchAdapter | None:
    torch = sys.modules.get("torch")
    return ADAPTER if torch is not None and isinstance(array, torch.Tensor) else None


if "torch" in sys.modules:  # torch came first: define the Function now, outside any traced call
    _function_class()
