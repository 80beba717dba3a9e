"""PyTorch adapter: a ``torch.Tensor`` goes through a ``torch.autograd.Function`` whose forward,
backward and jvp are the core op's forward, VJP and JVP, with ``setup_context`` and a generated
vmap rule, so torch.autograd, forward AD and every torch.func transform work.

Batched, any device, dtype preserved (float16/bfloat16 computed in float32); autocast is
disabled inside (the methods choose their own precision). Second derivatives are computed
where every configured method is exact and raise :class:`spectralcore.SecondOrderError`
otherwise, rather than returning one that would silently miss this op's part. torch is
imported only when a tensor arrives, so registering this plugin costs nothing to a NumPy-only
user.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from contextlib import nullcontext
from typing import Any, cast

from spectralcore._array import register_namespace
from spectralcore.dispatch import DomainCheck, run_backward, run_daleckii_krein, run_forward, run_jvp
from spectralcore.hooks import hookimpl
from spectralcore.method import EighResult
from spectralcore.ops.base import Op, exactly_differentiable, second_order_error, third_order_error
from spectralcore.spectral import ScalarFunction, with_second_derivative
from spectralcore.trace_constants import add_marker


def _flatten(tree: Any, known: dict[int, int], leaves: list) -> Any:
    """Replace every tensor in a tree of tuples (NamedTuples and EighResult kept) and Nones by
    its index: ``known`` maps the id of a tensor already in ``leaves`` (A, the outputs) to its
    index, any other tensor is appended. The spec records each tuple's class."""
    if tree is None:
        return None
    if isinstance(tree, EighResult):
        children = (tree[0], tree[1], tree.accepted)
    elif isinstance(tree, tuple):
        children = tuple(tree)
    else:
        if id(tree) not in known:
            known[id(tree)] = len(leaves)
            leaves.append(tree)
        return known[id(tree)]
    return (type(tree),) + tuple(_flatten(t, known, leaves) for t in children)


def _unflatten(spec: Any, leaves: tuple) -> Any:
    if spec is None:
        return None
    if isinstance(spec, int):
        return leaves[spec]
    cls, children = spec[0], [_unflatten(s, leaves) for s in spec[1:]]
    return tuple(children) if cls is tuple else cls(*children)


class _Call:
    """One op call: what the Function needs besides A and the ``eig`` tensors given with it (their
    number: 0 or 2). ``forward`` records the residuals' layout (``spec``), the number of real
    outputs, whether they form an EighResult and the number of tensors it returned.

    ``residual_outputs``: whether the residuals that are neither an input nor an output leave the
    forward as extra (non-differentiable) outputs, which torch.func transforms and torch.compile
    need to save them; in plain eager autograd they are handed to ``setup_context`` through
    ``stash`` and saved as intermediates instead (each extra output costs autograd's output
    bookkeeping: about 10–20 µs, times 16 for newton-schulz's saved iterates)."""

    def __init__(
        self, op: Op, config: Any, xp: Any, eig: int, residual_outputs: bool = True, check: DomainCheck | None = None
    ) -> None:
        self.op, self.config, self.xp, self.eig, self.check = op, config, xp, eig, check
        rule = op.daleckii_krein(config) if eig == 0 else None  # a given eig: no second derivative
        self.rule = None if rule is None else with_second_derivative(rule, _forward_derivative)
        self.exact = exactly_differentiable(config)
        self.residual_outputs = residual_outputs
        self.stash: tuple = ()
        self.spec: Any = None
        self.outputs = 0
        self.returned = 0
        self.eigh = False


def _forward_derivative(df: Any) -> Any:
    """w ↦ df′(w) for an elementwise df, by forward-mode differentiation (``torch.func.jvp``)."""
    import torch

    return lambda w: torch.func.jvp(df, (w,), (torch.ones_like(w),))[1]


def _outputs(out: Any) -> tuple:
    if isinstance(out, EighResult):
        return (out[0], out[1]) if out.accepted is None else (out[0], out[1], out.accepted)
    return (out,)


def _residuals(call: _Call, A: Any, leaves: list, recorded: bool) -> tuple[Any, Any]:
    """(A, residuals) for a derivative: recomputed from A with torch recording when the derivative
    may be differentiated again (an exact configuration; a given ``eig`` is then recomputed too, so
    the second derivative follows how it moves with A), else the saved ones on a detached A."""
    if recorded:
        return A, run_forward(call.op, call.xp, A, call.config)[1]
    detached = A.detach()
    return detached, _unflatten(call.spec, (detached, *leaves))


def _differentiable_again(A: Any) -> bool:
    """Whether the derivative being computed inside the Function may itself be differentiated:
    outside functorch, when grad mode is on (create_graph) and A requires grad; inside a
    torch.func transform, when A is also wrapped by a differentiating (non-batching) transform
    other than the current one, or requires grad beneath. torch.func.grad always runs the
    backward with grad mode on, so this is what spares its first derivative a recorded
    recomputation of the forward (it is conservative: grad of vmap still records)."""
    import torch

    functorch = torch._C._functorch
    level = functorch.maybe_current_level()
    if level is None:
        return torch.is_grad_enabled() and A.requires_grad
    while functorch.is_functorch_wrapped_tensor(A):
        if functorch.maybe_get_level(A) != level and not functorch.is_batchedtensor(A):
            return True
        A = functorch.get_unwrapped(A)
    return bool(A.requires_grad)


def _without_autocast(A: Any) -> Any:
    """torch.autocast disabled on A's device: the methods choose their own precision (torch is
    imported here because Dynamo cannot trace autocast reached through a closure's module). Where
    autocast is off already (outside torch.compile) nothing is entered: entering and leaving the
    context costs about 8 µs, twice a step."""
    import torch

    device = A.device.type
    if device in ("cpu", "cuda") and not torch.compiler.is_compiling() and not torch.is_autocast_enabled(device):
        return nullcontext()
    return torch.autocast(device, enabled=False)


def _forward_ad_active() -> bool:
    """Whether a torch.autograd.forward_ad dual level is entered (outside it no input is a dual
    tensor, so no Function's jvp runs and ``save_for_forward`` has nothing to serve)."""
    forward_ad = sys.modules.get("torch.autograd.forward_ad")
    return forward_ad is None or forward_ad._current_level >= 0


def _bound_signatures(*functions: Any) -> None:
    """Give each Function's ``forward`` its ``__signature__``: torch's ``Function.apply`` binds the
    arguments with ``inspect.signature(forward)`` on every call of a Function with a
    ``setup_context``, which then reads it instead of parsing the function again (~15 µs)."""
    for function in functions:
        forward = function.forward
        forward.__signature__ = inspect.signature(forward)


def _assume_constant_result(fn: Any) -> Any:
    """``torch.compiler.assume_constant_result`` without importing torch._dynamo (about 2 s)
    where nothing has yet: it only sets the attribute Dynamo reads when it traces ``fn``, which is
    what this sets then (tests/test_torch_adapter.py checks that the two set the same)."""
    if "torch._dynamo" in sys.modules:
        import torch

        return torch.compiler.assume_constant_result(fn)
    fn._dynamo_marked_constant = True
    return fn


_FUNCTIONS: tuple[type, type] | None = None


def _function_classes() -> tuple[Any, Any]:
    """The autograd.Functions without and with a JVP (and the CuPy eigh custom op), defined on
    first use (module globals, which torch.compile reads as constants once they exist)."""
    global _FUNCTIONS, _CUPY_EIGH
    if _FUNCTIONS is None:
        _FUNCTIONS, _CUPY_EIGH = _define_functions(), _define_cupy_eigh()
    return _FUNCTIONS


def _define_functions() -> tuple[type, type]:
    import torch
    import torch.utils._pytree as pytree

    pytree.register_pytree_node(  # torch.func.vmap and friends return an EighResult as one
        EighResult,
        lambda r: (_outputs(r), None),
        lambda children, _: EighResult(*children),
        serialized_type_name="spectralcore.EighResult",
    )

    add_marker(_assume_constant_result)  # torch.compile runs them instead of tracing NumPy
    # sc.sqrtm(A) & co. take A's namespace from this registration, not from array_api_compat's
    # lru_cache-wrapped type tests, which torch.compile would trace (warning once for each)
    register_namespace(torch.Tensor, importlib.import_module("array_api_compat.torch"))

    class NotTwiceDifferentiable(torch.autograd.Function):
        """Identity on a first derivative that an approximate method computed; differentiating it
        again (a Hessian, create_graph=True, jacfwd of jacrev) raises instead of returning a
        second derivative that would silently miss the op's part."""

        generate_vmap_rule = True

        @staticmethod
        def forward(derivative: Any, call: _Call, *inputs: Any) -> Any:
            return derivative.clone()

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            ctx.call = inputs[1]

        @staticmethod
        def backward(ctx: Any, *grads: Any) -> Any:
            raise second_order_error(ctx.call.op, ctx.call.config)

        @staticmethod
        def jvp(ctx: Any, *tangents: Any) -> Any:
            raise second_order_error(ctx.call.op, ctx.call.config)

    def guarded(derivative: Any, call: _Call, *inputs: Any) -> Any:
        """``derivative`` as a function of ``inputs`` that may be differentiated only once."""
        inputs = tuple(t for t in inputs if isinstance(t, torch.Tensor))
        return NotTwiceDifferentiable.apply(derivative, call, *inputs)

    class DaleckiiKrein(torch.autograd.Function):
        """X ↦ DF(A)[X], the Daleckii–Krein rule of F = f(A) (the VJP and the JVP of a configuration
        :meth:`Op.daleckii_krein` names), as a function of A and X whose own derivative along (dA, dX)
        is D²F(A)[X, dA] + DF(A)[dX]: second divided differences, exact at ties, where differentiating
        the rule's formulas through eigh is not. (w, V) are A's, given; no derivative flows into them."""

        generate_vmap_rule = True

        @staticmethod
        def forward(A: Any, X: Any, w: Any, V: Any, call: _Call) -> Any:
            return run_daleckii_krein(call.xp, cast(ScalarFunction, call.rule), A, w, V, X)  # set where used

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            A, X, w, V, ctx.call = inputs
            ctx.save_for_backward(A, X, w, V)
            ctx.save_for_forward(A, X, w, V)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            A, X, w, V = ctx.saved_tensors
            return (
                DaleckiiKreinSecond.apply(A, X, g, w, V, ctx.call),  # ⟨g, D²F[X, dA]⟩ = ⟨D²F[X, g], dA⟩
                DaleckiiKrein.apply(A, g, w, V, ctx.call),  # self-adjoint in X
                None,
                None,
                None,
            )

        @staticmethod
        def jvp(ctx: Any, dA: Any, dX: Any, *_: Any) -> Any:
            A, X, w, V = ctx.saved_tensors
            parts = [] if dA is None else [DaleckiiKreinSecond.apply(A, X, dA, w, V, ctx.call)]
            parts += [] if dX is None else [DaleckiiKrein.apply(A, dX, w, V, ctx.call)]
            return sum(parts[1:], parts[0]) if parts else torch.zeros_like(X)

    class DaleckiiKreinSecond(torch.autograd.Function):
        """D²F(A)[X, H] (:func:`spectralcore.spectral.daleckii_krein_second`); a third derivative raises."""

        generate_vmap_rule = True

        @staticmethod
        def forward(A: Any, X: Any, H: Any, w: Any, V: Any, call: _Call) -> Any:
            return run_daleckii_krein(call.xp, cast(ScalarFunction, call.rule), A, w, V, X, H)

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            ctx.call = inputs[-1]

        @staticmethod
        def backward(ctx: Any, *grads: Any) -> Any:
            raise third_order_error(ctx.call.op)

        @staticmethod
        def jvp(ctx: Any, *tangents: Any) -> Any:
            raise third_order_error(ctx.call.op)

    def daleckii_krein(call: _Call, A: Any, X: Any, leaves: list) -> Any:
        """DF(A)[X] through :class:`DaleckiiKrein`, from the eigenpairs among the saved residuals."""
        w, V = call.op.eigenpairs(call.xp, _unflatten(call.spec, (A.detach(), *leaves)))
        return DaleckiiKrein.apply(A, X, w.detach(), V.detach(), call)

    class SpectralFunction(torch.autograd.Function):
        """forward: the op's outputs, then (under a torch.func transform or torch.compile) its
        residuals that are neither an input nor an output, marked non-differentiable; in eager
        autograd those are saved as intermediates instead (``_Call.residual_outputs``), with
        ``save_for_forward`` only inside a forward-AD dual level; backward: the op's VJP; jvp:
        the configured method's JVP; vmap: generated (every step is a batched torch operation). The inputs are A and the
        tensors of a given eigendecomposition (``eig=``), into which no derivative flows.

        A first derivative is differentiable again only where every method is exact: it is then
        recomputed from A with torch recording (one more forward), so torch differentiates the
        exact formulas. Otherwise differentiating it raises (:class:`NotTwiceDifferentiable`)."""

        generate_vmap_rule = True

        @staticmethod
        def forward(A: Any, call: _Call, w: Any, V: Any) -> Any:  # w, V: a given eig, or None
            eig = () if w is None else (w, V)
            with _without_autocast(A):  # not A.detach(): compiled torch.func.grad then returns zeros (torch 2.13)
                out, residuals = run_forward(call.op, call.xp, A, call.config, eig or None, call.check)
            outputs = _outputs(out)
            leaves = [A, *eig, *outputs]
            call.spec = _flatten(residuals, {id(t): i for i, t in enumerate(leaves)}, leaves)
            call.outputs, call.eigh = len(outputs), isinstance(out, EighResult)
            extra = tuple(leaves[1 + len(eig) + len(outputs) :])
            if not call.residual_outputs:
                call.stash, extra = extra, ()
            call.returned = len(outputs) + len(extra)
            return (*outputs, *extra)

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            A, call, *eig = (t for t in inputs if t is not None)
            output = output if isinstance(output, tuple) else (output,)
            ctx.call = call
            ctx.mark_non_differentiable(*output[2 if call.eigh else 1 :])  # residuals, accepted
            saved = (A, *eig, *output, *call.stash)  # the same layout either way (``call.spec``)
            call.stash = ()
            ctx.save_for_backward(*saved)
            if call.residual_outputs or _forward_ad_active():
                ctx.save_for_forward(*saved)
            ctx.set_materialize_grads(False)

        @staticmethod
        def backward(ctx: Any, *grads: Any) -> Any:
            call = ctx.call
            A, *leaves = ctx.saved_tensors
            cotangent = grads[:2] if call.eigh else grads[0]
            outputs = leaves[call.eig :]
            shapes = call.op.cotangent_shapes(A, EighResult(*outputs[:2]) if call.eigh else outputs[0])
            exact = call.exact
            recorded = exact and torch.is_grad_enabled() and _differentiable_again(A)
            with _without_autocast(A):
                if recorded and call.rule is not None:
                    return daleckii_krein(call, A, cotangent, leaves), None, None, None
                used, residuals = _residuals(call, A, leaves, recorded)
                gA = run_backward(call.op, call.xp, used, call.config, residuals, shapes, cotangent)
            if torch.is_grad_enabled() and not exact:
                gA = guarded(gA, call, A, *grads)
            return gA, None, None, None

    class SpectralFunctionWithJvp(SpectralFunction):
        """SpectralFunction and its JVP (torch.compile cannot trace an autograd.Function that
        defines one, so it gets :class:`SpectralFunction`: forward mode is eager-only there)."""

        @staticmethod
        def jvp(ctx: Any, dA: Any, _: Any, dw: Any, dV: Any) -> Any:  # no derivative flows from eig
            call = ctx.call
            A, *leaves = ctx.saved_tensors
            exact = call.exact
            recorded = exact and _differentiable_again(A)  # an outer transform may differentiate it
            with _without_autocast(A):
                if recorded and call.rule is not None:
                    tangent = daleckii_krein(call, A, torch.zeros_like(A) if dA is None else dA, leaves)
                    return (tangent, *[None] * (call.returned - 1))
                used, residuals = _residuals(call, A, leaves, recorded)
                tangent = run_jvp(call.op, call.xp, used, call.config, residuals, dA)
            tangent = tangent if call.eigh else (tangent,)
            if not exact:
                tangent = tuple(guarded(t, call, A, dA) for t in tangent)
            return (*tangent, *[None] * (call.returned - len(tangent)))

    _bound_signatures(NotTwiceDifferentiable, DaleckiiKrein, DaleckiiKreinSecond, SpectralFunction)
    return SpectralFunction, SpectralFunctionWithJvp


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
            w, V = solver.eigh(A.detach())  # DLPack refuses tensors that require grad
            return torch.from_dlpack(w), torch.from_dlpack(V)

    @cupy_eigh.register_fake
    def _(A: Any) -> tuple[Any, Any]:
        return A.new_empty(A.shape[:-1]), A.new_empty(A.shape)

    return cupy_eigh


class TorchAdapter:
    """Runs ops through the autograd.Functions of :func:`_function_classes`; the forward runs
    on A's values, so A's domain is checked there (``check``, see :func:`spectralcore.dispatch.apply`)."""

    checks_in_forward = True

    def apply(
        self, op: Op, xp: Any, A: Any, config: Any, eig: tuple[Any, Any] | None = None, check: DomainCheck | None = None
    ) -> Any:
        import torch

        plain, with_jvp = _function_classes()
        compiling, transformed = torch.compiler.is_compiling(), torch._C._functorch.maybe_current_level() is not None
        call = _Call(op, config, xp, 0 if eig is None else 2, compiling or transformed, check)
        # Dynamo cannot trace a Function with a jvp; inside a torch.func transform it would
        # differentiate the forward's own operations instead, so there it gets the jvp (and a break)
        traced = compiling and not transformed
        out = (plain if traced else with_jvp).apply(A, call, *(eig or (None, None)))
        out = out if isinstance(out, tuple) else (out,)
        return EighResult(*out[: call.outputs]) if call.eigh else out[0]

    def cupy_eigh(self, A: Any) -> tuple[Any, Any]:
        _function_classes()  # defines the custom op with the Functions
        return _CUPY_EIGH(A)

    def inspectable(self, A: Any) -> Any:
        """None while torch.compile traces, a CUDA graph is being captured (reading the values
        would synchronise with the device, which capture forbids) or torch.func.vmap batches A
        (one value read per batch is not defined); the values under torch.func.grad/jvp."""
        import torch

        if torch.compiler.is_compiling() or (A.is_cuda and torch.cuda.is_current_stream_capturing()):
            return None
        values = A.detach()
        functorch = torch._C._functorch
        while functorch.is_functorch_wrapped_tensor(values):
            if functorch.is_batchedtensor(values):
                return None
            values = functorch.get_unwrapped(values)
        return values


ADAPTER = TorchAdapter()


@hookimpl
def spectralcore_array_adapter(array: Any) -> TorchAdapter | None:
    torch = sys.modules.get("torch")
    return ADAPTER if torch is not None and isinstance(array, torch.Tensor) else None


if "torch" in sys.modules:  # torch came first: define the Functions now, outside any traced call
    _function_classes()
