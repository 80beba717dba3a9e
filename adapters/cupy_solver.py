"""CuPy's batched symmetric eigensolver for any DLPack array on a CUDA device (zero copy).

Used by :func:`spectralcore.linalg.symmetric_eigh` with ``solver="cupy"``: the torch adapter
calls it from its custom op ``spectralcore::cupy_eigh`` on torch's current stream; other
frameworks turn the CuPy results into their own arrays with ``xp.from_dlpack``.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import cupy


def eigh(A: Any) -> tuple[Any, Any]:
    """(w, V) as CuPy arrays, eigenvalues ascending, for symmetric A of shape (..., n, n)."""
    return cupy.linalg.eigh(cupy.from_dlpack(A))


def on_stream(pointer: int, device_id: int) -> ExitStack:
    """Context in which CuPy runs on device ``device_id`` and the CUDA stream ``pointer`` (the
    caller's current stream there), so the solve is ordered with the caller's kernels."""
    context = ExitStack()
    context.enter_context(cupy.cuda.Device(device_id))
    context.enter_context(cupy.cuda.ExternalStream(pointer, device_id))
    return context
