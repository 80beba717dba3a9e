"""spectralcore: differentiable eigendecomposition and matrix square roots that survive
repeated eigenvalues, written once against the Python Array API.

    import spectralcore as sc
    w, V = sc.eigh(A, backward="taylor", degree=9, eps=1e-2)
    S = sc.sqrtm(A, forward="mpa", backward="lyapunov")
    out, pullback = sc.vjp(sc.eigh, A, backward="pade")
"""

import os as _os

# In a source checkout the subpackages spectralcore.adapters/.plugins/.conformance live in
# top-level folders (the installed wheel maps them under spectralcore/); make `python -m
# spectralcore` from the checkout's root see the same names as an install.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_root, "pyproject.toml")) and _os.path.isdir(_os.path.join(_root, "plugins")):
    __path__.append(_os.path.join(_root))  # the package's own __path__

from . import registry  # noqa: E402
from .dispatch import hvp, jvp, linearize, vjp  # noqa: E402
from .hooks import hookimpl  # noqa: E402
from .method import (  # noqa: E402
    EighBackward,
    EighForward,
    EighResult,
    ForwardModeError,
    KernelBackward,
    Method,
    SqrtmBackward,
    SqrtmForward,
)
from .ops.base import SecondOrderError  # noqa: E402
from .ops.eigh import eigh  # noqa: E402
from .ops.spectral import expm, logm, matrix_function, matrix_power  # noqa: E402
from .ops.sqrtm import invsqrtm, sqrtm  # noqa: E402
from .registry import MethodCatalog, MethodInfo, register  # noqa: E402
from .validation import AccuracyWarning, SpectralError  # noqa: E402

methods = MethodCatalog()
registry.REGISTRY.manager  # noqa: B018 - build the registry now, not inside a traced call

__version__ = "0.1.0"

__all__ = [
    "AccuracyWarning",
    "EighBackward",
    "EighForward",
    "EighResult",
    "ForwardModeError",
    "KernelBackward",
    "Method",
    "MethodInfo",
    "SecondOrderError",
    "SpectralError",
    "SqrtmBackward",
    "SqrtmForward",
    "eigh",
    "expm",
    "hookimpl",
    "invsqrtm",
    "hvp",
    "jvp",
    "linearize",
    "logm",
    "matrix_function",
    "matrix_power",
    "methods",
    "register",
    "sqrtm",
    "vjp",
]
