"""Small array helpers written only against the Array API standard.

Every function takes the namespace ``xp`` explicitly; nothing here names a framework but
:func:`torch_namespace`, by which a helper takes one of torch's kernels for the same equation.

:func:`namespace` and :func:`device` stand in for array_api_compat's ``array_namespace`` and
``device`` in code that a compiler may trace (torch.compile): those answer through
``functools.lru_cache``-wrapped type tests, and Dynamo, which traces through such a cache instead
of reading it, warns once for every one it meets. These two read the array's own ``device``
attribute (the standard's) and the namespaces the adapters registered, and ask array_api_compat
only for arrays neither covers.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from array_api_compat import array_namespace as _compat_namespace
from array_api_compat import device as _compat_device

Array = Any

_NAMESPACES: dict[type, Any] = {}


def register_namespace(array_type: type, xp: Any) -> None:
    """Declare ``xp`` the namespace of every instance of ``array_type`` (subclasses included): the
    namespace ``array_api_compat.array_namespace`` gives them. An adapter registers its framework's
    array type once it has the type in hand, outside any traced call (the torch adapter:
    ``torch.Tensor`` and ``array_api_compat.torch``)."""
    _NAMESPACES[array_type] = xp


def namespace(*arrays: Array) -> Any:
    """The Array API namespace of ``arrays``, like ``array_api_compat.array_namespace``: the
    registered namespace when every array is an instance of one registered type (an isinstance
    test, which a compiler traces as a constant), else array_api_compat's answer (which also
    raises for non-arrays and mixed frameworks)."""
    for array_type, xp in _NAMESPACES.items():
        if arrays and all(isinstance(a, array_type) for a in arrays):
            return xp
    return _compat_namespace(*arrays)


def device(x: Array) -> Any:
    """The device to create arrays on beside ``x``, like ``array_api_compat.device``: the
    standard's ``x.device`` attribute, else (no such attribute, or None: NumPy < 2, a JAX tracer;
    a method: older JAX) array_api_compat's answer. Where both exist they agree. For an array
    spread over several devices (a JAX array whose sharding spans more than one) it is None: an
    n × n constant cannot take the batch's sharding, and the framework places it beside ``x``."""
    d = getattr(x, "device", None)
    if d is None or isinstance(d, types.MethodType):  # not inspect.ismethod: older Dynamo skips inspect
        d = _compat_device(x)
    return None if len(getattr(d, "device_set", ())) > 1 else d


def sym(x: Array) -> Array:
    """Symmetric part ½(X + Xᵀ)."""
    return (x + x.mT) / 2


TORCH_NAMESPACES = ("torch", "array_api_compat.torch")


def torch_namespace(xp: Any) -> Any:
    """torch when ``xp`` is its namespace, else None (a name test: array_api_compat's
    ``is_torch_namespace`` is lru_cache-wrapped, which torch.compile traces with a warning)."""
    return sys.modules["torch"] if getattr(xp, "__name__", None) in TORCH_NAMESPACES else None


def eye_like(xp: Any, a: Array, value: float = 1.0) -> Array:
    """``value`` times the identity, with the trailing shape, dtype and device of the square
    matrix ``a``; on torch as the identity is made (zeros, then the diagonal filled), without a
    pass for the product."""
    n = a.shape[-1]
    torch = torch_namespace(xp)
    if torch is not None and value != 1:
        eye = torch.zeros(n, n, dtype=a.dtype, device=a.device)
        eye.diagonal().fill_(value)
        return eye
    eye = xp.eye(n, dtype=a.dtype, device=device(a))
    return eye if value == 1 else value * eye


def diag_embed(xp: Any, w: Array) -> Array:
    """Batched ``diag(w)``: (..., n) → (..., n, n)."""
    n = w.shape[-1]
    return xp.eye(n, dtype=w.dtype, device=device(w)) * w[..., None, :]


def congruence(V: Array, X: Array) -> Array:
    """V X Vᵀ, the change from the eigenbasis back to the original basis."""
    return V @ X @ V.mT


def on_cpu(a: Array) -> bool | None:
    """Whether ``a`` lives in host memory; None when its device is unknown (a JAX tracer)."""
    d = device(a)
    if d is None:
        return None
    kind = getattr(d, "type", None) or getattr(d, "platform", None) or d
    return "cpu" in str(kind).lower()


def scale_matrix(c: Array) -> Array:
    """Per-matrix scalars (...,) → (..., 1, 1) so they broadcast against matrices."""
    return c[..., None, None]


def frobenius_norm(xp: Any, a: Array) -> Array:
    """‖A‖_F over the last two axes, shape (...)."""
    return xp.linalg.matrix_norm(a, ord="fro")


def largest_magnitude(xp: Any, w: Array, keepdims: bool = False) -> Array:
    """max|w| over the last axis (eigenvalues), NaN wherever w has one. One kernel on torch
    (``vector_norm(w, ord=inf)``, the same number) instead of two (|w|, then max); elsewhere
    max(|w|), which JAX compiles without ``vector_norm``'s extra max with 0 (the framework by
    :func:`torch_namespace`)."""
    if torch_namespace(xp) is not None:
        return xp.linalg.vector_norm(w, axis=-1, keepdims=keepdims, ord=float("inf"))
    return xp.max(xp.abs(w), axis=-1, keepdims=keepdims)


def largest_entry(xp: Any, A: Array) -> Array:
    """max|a_ij| over a whole batch of matrices, as max(max A, −min A), without the pass that
    writes |A| (on torch's CPU, ``vector_norm(ord=inf)`` of a whole batch is several times
    slower); on torch both extremes come from one pass (``aminmax``). NaN wherever A has one
    (both reductions and ``maximum`` propagate it), inf wherever A has ±inf."""
    torch = torch_namespace(xp)
    low, high = torch.aminmax(A) if torch is not None else (xp.min(A), xp.max(A))
    return xp.maximum(high, -low)


def dtype_eps(xp: Any, dtype: Any) -> float:
    """Machine epsilon of a real floating dtype."""
    return float(xp.finfo(dtype).eps)


def rounding_clip(xp: Any, w: Array) -> Array:
    """Eigenvalues w (..., n) with those in [−δ, 0) set to 0, δ = √ε max|λ|: the rounding that
    ``check=True`` lets through for a positive semidefinite A (it bounds λ ≥ −δ, the same δ).
    Those below −δ stay negative, as w + δ: there A is outside the domain of a square root or
    fractional power, which then gives NaN, not the value of a clipped spectrum.
    Computed as w − clip(w, −δ, 0), one pass fewer than a select between w and clip(w, 0)."""
    below = -(dtype_eps(xp, w.dtype) ** 0.5) * largest_magnitude(xp, w, keepdims=True)  # −δ
    return w - xp.clip(w, below, 0)


def spectral_scale(xp: Any, w: Array) -> Array:
    """max(max|λ|, tiny) = max(‖A‖₂, tiny), shape (...), for eigenvalues w (..., n): each matrix's
    own spectral scale (:func:`threshold_unit` is the unit of methods' thresholds). It is
    equivariant (cA has scale |c| times A's), invariant under A → QAQᵀ, defined for indefinite A,
    and read off the eigenvalues a backward already has; tiny, the smallest normal number, keeps
    it positive for the zero matrix."""
    return xp.clip(largest_magnitude(xp, w), xp.finfo(w.dtype).smallest_normal, None)


def threshold_unit(xp: Any, w: Array, relative: bool) -> Array:
    """The unit a method's thresholds are measured in, shape (...) for eigenvalues w (..., n):
    each matrix's own scale max|λ| when ``relative`` (so the method is equivariant under
    A → cA), else 1 (the papers' absolute thresholds, in the units of A). The zero matrix has no
    scale: it gets 1, like the absolute setting (a unit of ``tiny`` would floor eigenvalues at a
    subnormal number and overflow the kernel to inf, then NaN)."""
    if not relative:
        return xp.ones_like(w[..., 0])
    return nonzero_or_one(xp, largest_magnitude(xp, w))


def nonzero_or_one(xp: Any, x: Array, zero: Array | None = None) -> Array:
    """x with its zeros replaced by 1 (a divisor that is x itself wherever x ≠ 0): on torch
    x + (x == 0), two passes, where a select against the constant 1 takes three; ``zero`` is
    x == 0 where the caller has it."""
    zero = x == 0 if zero is None else zero
    if torch_namespace(xp) is not None:
        return x + zero
    return xp.where(zero, xp.ones_like(x), x)


def rounding_floor(xp: Any, w: Array) -> Array:
    """n ε max(max|λ|, tiny), shape (...): the eigensolver's backward error for eigenvalues w
    (..., n); below it an eigenvalue cannot be told from zero (:func:`spectral_scale`)."""
    return w.shape[-1] * dtype_eps(xp, w.dtype) * spectral_scale(xp, w)


def pair_sign(xp: Any, w: Array) -> Array:
    """S_ij = +1 for j > i, −1 for j < i, 0 on the diagonal (index order, not value order).

    With ascending eigenvalues, S_ij = sign(λj − λi) wherever λi ≠ λj; on ties it still
    separates the pair, so a kernel built as S ∘ f(|λj − λi|) stays antisymmetric. Computed as
    j − i clipped to [−1, 1], on indices of w's dtype (exact: they are small integers).
    """
    idx = xp.arange(w.shape[-1], dtype=w.dtype, device=device(w))
    return xp.clip(idx[None, :] - idx[:, None], -1, 1)


def reciprocal(x: Array) -> Array:
    """1/x elementwise in one pass (``x ** -1``: torch runs ``1 / x`` as a reciprocal, then a
    product with 1; ``x ** -1`` is one division, the same number)."""
    return x**-1


def pair_gap(w: Array) -> Array:
    """D_ij = λj − λi for eigenvalues w of shape (..., n)."""
    return w[..., None, :] - w[..., :, None]


def off_diagonal(xp: Any, w: Array) -> Array:
    """Boolean (n, n) mask, True off the diagonal, for eigenvalues w (..., n)."""
    n = w.shape[-1]
    idx = xp.arange(n, device=device(w))
    return idx[None, :] != idx[:, None]


def reciprocal_where(xp: Any, mask: Array, d: Array) -> Array:
    """1/d where mask holds, 0 elsewhere, without ever dividing by the masked entries (so a
    derivative of this through autodiff stays finite there too)."""
    return xp.where(mask, reciprocal(xp.where(mask, d, 1.0)), 0.0)
