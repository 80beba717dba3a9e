"""Delegation point for the dense symmetric eigensolver every eigenbasis method calls.

``solver="native"`` is the array's own ``xp.linalg.eigh``. ``"cupy"`` hands a CUDA array to
CuPy's batched eigh through DLPack (zero copy) and the result back to the array's framework:
on CUDA, torch's batched eigh is tens of times slower than CuPy's batched Jacobi solver.
``"auto"`` (default) picks ``"cupy"`` for CUDA torch tensors when CuPy is installed, else
``"native"``; :func:`chosen_solver` says which one a given array gets. An adapter may route the
CuPy call itself by a ``cupy_eigh(A) -> (w, V)`` method (the torch adapter does, through a
torch custom op that torch.compile keeps as one node).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

from ._array import device, on_cpu
from .method import EighResult
from .registry import REGISTRY
from .trace_constants import trace_constant

SOLVERS = ("auto", "native", "cupy")


def chosen_solver(A: Any, solver: str = "auto") -> str:
    """The solver ``symmetric_eigh`` uses for ``A``: "native" or "cupy"."""
    if solver not in SOLVERS:
        raise ValueError(f"`solver` must be one of {SOLVERS}, got {solver!r}")
    if solver != "auto":
        return solver
    on_cuda = _is_torch_tensor(A) and A.device.type == "cuda"
    return "cupy" if on_cuda and _cupy_installed() else "native"


def symmetric_eigh(xp: Any, A: Any, solver: str = "auto") -> EighResult:
    """(w, V) of symmetric A, eigenvalues ascending."""
    if chosen_solver(A, solver) == "cupy":
        return _cupy_eigh(xp, A)
    w, V = xp.linalg.eigh(A)
    return EighResult(w, V)


def eigendecomposition(xp: Any, A: Any, saved: Any) -> EighResult:
    """A's eigendecomposition: ``saved`` if a forward saved it, else computed."""
    return saved if isinstance(saved, EighResult) else symmetric_eigh(xp, A)


def _is_torch_tensor(A: Any) -> bool:
    """Whether A is a torch.Tensor, without importing torch (array_api_compat.is_torch_array, whose
    lru_cache-wrapped type test torch.compile would trace, warning)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(A, torch.Tensor)


@trace_constant  # not functools.cache: torch.compile runs it once instead of tracing (and warning about) a cache
def _cupy_installed() -> bool:
    return importlib.util.find_spec("cupy") is not None


def _cupy_eigh(xp: Any, A: Any) -> EighResult:
    if on_cpu(A):
        raise ValueError(
            f"solver='cupy' needs an array on a CUDA device, got one on {device(A)}; "
            "use solver='auto' or 'native' for host arrays"
        )
    if not _cupy_installed():
        raise ValueError(
            "solver='cupy' needs CuPy: pip install 'spectralcore[cuda13]' "
            "(or [cuda12], matching the CUDA version nvidia-smi reports)"
        )
    own = getattr(REGISTRY.adapter(A), "cupy_eigh", None)  # e.g. torch's custom op, opaque to torch.compile
    if own is not None:
        return EighResult(*own(A))
    w, V = importlib.import_module("spectralcore.adapters.cupy_solver").eigh(A)
    return EighResult(xp.from_dlpack(w), xp.from_dlpack(V))
