"""CuPy's batched symmetric eigensolver for any DLPack array on a CUDA device (zero copy).

Used by :func:`spectralcore.linalg.symmetric_eigh` with ``solver="cupy"``; the caller turns
the results back into its own framework's arrays with ``xp.from_dlpack``.
"""

from __future__ import annotations

from typing import Any

import cupy


def eigh(A: Any) -> tuple[Any, Any]:
    """(w, V) as CuPy arrays, eigenvalues ascending, for symmetric A of shape (..., n, n)."""
    return cupy.linalg.eigh(cupy.from_dlpack(A))
