"""torch measurement helpers for ``spectralcore report`` and ``benchmarks/``: the two baselines
(torch.linalg.eigh autograd, plain Newton–Schulz), one forward + backward step of a method,
the same step captured in a CUDA graph, and the aten ops a step runs (kernel launches and
host synchronisations, counted on any device with a TorchDispatchMode)."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import spectralcore as sc

HOST_SYNC = "aten._local_scalar_dense"  # .item(), bool(), float() of a tensor
# bare allocations, and ``_unsafe_view``: a view torch does not flag as one (``A @ B`` returns it)
NO_KERNEL = ("aten.empty", "aten.empty_like", "aten.empty_strided", "aten.lift_fresh", "aten._unsafe_view")


def no_cuda() -> str:
    """Why torch cannot run on CUDA here ("" when it can)."""
    return "" if torch.cuda.is_available() else f"torch {torch.__version__} sees no CUDA device"


def on_device(a: Any, device: str) -> tuple[torch.Tensor, Callable[[], None]]:
    """(``a`` as a tensor on ``device``, the synchronisation to time with on that device)."""
    return torch.asarray(a, device=device), (torch.cuda.synchronize if device == "cuda" else (lambda: None))


def eigh_autograd(A: torch.Tensor) -> torch.Tensor:
    """Baseline: A^{1/2} = V Λ^{1/2} Vᵀ differentiated by torch.linalg.eigh's own autograd."""
    w, V = torch.linalg.eigh(A)
    return (V * w.clamp_min(0).sqrt()[..., None, :]) @ V.mT


def plain_newton_schulz(A: torch.Tensor, iterations: int = 5, fixed_scale: bool = False) -> torch.Tensor:
    """Baseline: the coupled Newton–Schulz iteration (Frobenius-normalised) under autograd;
    ``fixed_scale`` detaches c = ‖A‖_F, as spectralcore's newton-schulz backward holds it."""
    c = torch.linalg.matrix_norm(A)[..., None, None]
    c = c.detach() if fixed_scale else c
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    Y, Z = A / c, eye.expand_as(A)
    for _ in range(iterations):
        T = (3 * eye - Z @ Y) / 2
        Y, Z = Y @ T, T @ Z
    return Y * c.sqrt()


BASELINES = {
    "torch.linalg.eigh autograd (baseline)": eigh_autograd,
    "plain Newton–Schulz autograd (baseline)": lambda A: plain_newton_schulz(A, fixed_scale=True),
}


def methods(sqrtm_methods: dict[str, dict], eigh_backwards: tuple[str, ...]) -> dict[str, Callable]:
    """The baselines, then ``sc.sqrtm`` with each option set and ``sc.eigh`` with each backward
    (check=False: the value checks read the data, a host synchronisation per call)."""
    out: dict[str, Callable[..., Any]] = dict(BASELINES)
    out |= {name: (lambda A, kw=kw: sc.sqrtm(A, check=False, **kw)) for name, kw in sqrtm_methods.items()}
    out |= {f"eigh, {b} backward": (lambda A, b=b: sc.eigh(A, backward=b, check=False)) for b in eigh_backwards}
    return out


def loss(out: Any, G: torch.Tensor) -> torch.Tensor:
    """⟨G, out⟩, or Σw + ⟨G, V⟩ for an eigendecomposition (gradient through both outputs)."""
    if isinstance(out, tuple):
        return out[0].sum() + (out[1] * G).sum()
    return (out * G).sum()


def step(fn: Callable, A: torch.Tensor, G: torch.Tensor) -> Callable[[], torch.Tensor]:
    """One eager forward + backward of ``fn`` from a fresh leaf; returns gA."""

    def run() -> torch.Tensor:
        X = A.clone().requires_grad_()
        loss(fn(X), G).backward()
        return X.grad

    return run


def graphed_step(fn: Callable, A: torch.Tensor, G: torch.Tensor, warmup: int = 3) -> Callable[[], torch.Tensor]:
    """The same step captured once in a torch.cuda.CUDAGraph (torch's whole-network recipe:
    warm-up on a side stream, then capture forward and backward); each call copies A into the
    static input and replays. Raises if the step is not capture-safe."""
    static = A.clone().requires_grad_()

    def forward_backward() -> None:
        loss(fn(static), G).backward()

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            static.grad = None
            forward_backward()
    torch.cuda.current_stream().wait_stream(side)
    static.grad = None  # the captured backward allocates .grad from the graph's private pool
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        forward_backward()
    grad = static.grad

    def replay() -> torch.Tensor:
        with torch.no_grad():
            static.copy_(A)  # fresh input data each step, as a training loop would
        graph.replay()
        return grad

    return replay


MATMULS = {"aten.mm": 0, "aten.bmm": 0, "aten.addmm": 1, "aten.baddbmm": 1}  # op: index of its first factor


def _matrix_product(name: str, args: tuple) -> bool:
    """Whether a matmul op multiplies matrices: a square right factor, or a square left one times
    at most as many columns (vectors, as power iteration's); not a thin (rows × k) @ (k × b n²)
    product of a table of coefficients with stacked matrices."""
    (m, k), (_, n) = (tuple(a.shape[-2:]) for a in args[MATMULS[name] : MATMULS[name] + 2])
    return k == n or (m == k and n <= k)


def products_alone(A: torch.Tensor, products: int, eigh: bool = False, solves: int = 0) -> Callable[[], None]:
    """The floor of a step: ``products`` batched products of A's shape (and one eigh, and
    ``solves`` LU solves A X = B) alone, without autograd, to time beside it."""
    B = A.clone()

    def run() -> None:
        with torch.no_grad():
            if eigh:
                torch.linalg.eigh(A)
            for _ in range(solves):
                torch.linalg.solve(A, B)
            for _ in range(products):
                torch.matmul(A, B)

    return run


class _Recorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: collections.Counter = collections.Counter()
        self.views: set[str] = set()
        self.products = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func.overloadpacket)
        self.ops[name] += 1
        if func.is_view:
            self.views.add(name)
        if name in MATMULS and _matrix_product(name, args):
            self.products += 1
        return func(*args, **(kwargs or {}))


class OpCount:
    """The aten ops one call ran: ``ops`` (name → count), ``launches`` (ops that run a kernel:
    not views, not bare allocations), ``matmuls`` (matrix products: matmul ops with a square
    factor) and ``host_syncs``."""

    def __init__(self, ops: collections.Counter, views: set[str], matmuls: int) -> None:
        self.ops = ops
        self.launches = sum(n for op, n in ops.items() if op not in views and op not in NO_KERNEL)
        self.matmuls = matmuls
        self.host_syncs = ops[HOST_SYNC]


def count_ops(run: Callable[[], Any]) -> OpCount:
    """Run ``run()`` once, recording every aten op it dispatches (forward and backward)."""
    with _Recorder() as recorder:
        run()
    return OpCount(recorder.ops, recorder.views, recorder.products)


def step_overhead(A: torch.Tensor, G: torch.Tensor) -> int:
    """The kernels a :func:`step` runs besides the method's own: the step of the identity (the
    leaf's clone, the loss ⟨G, X⟩ and its gradient; 5 on torch 2.13)."""
    return count_ops(step(lambda X: X, A, G)).launches
