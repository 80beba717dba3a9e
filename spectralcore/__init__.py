"""spectralcore: differentiable eigendecomposition and matrix square roots that survive
repeated eigenvalues, written once against the Python Array API.

    import spectralcore as sc
    w, V = sc.eigh(A, backward="taylor", degree=9, eps=1e-2)
    S = sc.sqrtm(A, forward="mpa", backward="lyapunov")
    out, pullback = sc.vjp(sc.eigh, A, backward="pade")
"""

from .dispatch import vjp
from .hooks import hookimpl
from .method import (
    EighBackward,
    EighForward,
    EighResult,
    KernelBackward,
    Method,
    SqrtmBackward,
    SqrtmForward,
)
from .ops.eigh import eigh
from .ops.spectral import matrix_function, matrix_power
from .ops.sqrtm import invsqrtm, sqrtm
from .registry import MethodCatalog, MethodInfo, register
from .validation import SpectralError

methods = MethodCatalog()

__version__ = "0.1.0"

__all__ = [
    "EighBackward",
    "EighForward",
    "EighResult",
    "KernelBackward",
    "Method",
    "MethodInfo",
    "SpectralError",
    "SqrtmBackward",
    "SqrtmForward",
    "eigh",
    "hookimpl",
    "invsqrtm",
    "matrix_function",
    "matrix_power",
    "methods",
    "register",
    "sqrtm",
    "vjp",
]
