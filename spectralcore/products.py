"""Matrix products with the arithmetic around them fused in: α A B + β C, α A B + β I, Y + a X,
Y + a s X; and the per-matrix scalars beside them, Π_j b_j^{e_j}.

Each helper is written once against the Array API and, where the array's framework has one,
takes a fused kernel for the same equation (the array-api-extra delegation pattern): for torch,
``baddbmm``/``addmm`` compute α A B + β C as one kernel instead of three (product, scale,
add), ``add(…, alpha=a)`` computes Y + a X as one instead of two and ``addcmul`` Y + a s X
(s an array, e.g. a per-matrix scale) as one instead of three. These are out-of-place
calls that torch autograd records like any other, so a forward recorded for a second
derivative stays differentiable. JAX and other compilers fuse the generic form themselves.
The framework is found by the name of ``xp`` at call time: nothing is imported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._array import Array, device, eye_like, on_cpu
from ._array import torch_namespace as _torch


def _torch_on_host(xp: Any, A: Array) -> Any:
    """torch if A is a torch array in host memory, else None: the helpers that build a small
    table of constants from Python numbers (``torch.asarray`` of a list) copy it to A's device,
    and on CUDA that copy is a host-to-device transfer, which CUDA-graph capture forbids."""
    torch = _torch(xp)
    return torch if torch is not None and on_cpu(A) else None


def _fused_product(xp: Any, A: Array, B: Array) -> Any:
    """torch's ``addmm`` or ``baddbmm`` (β C + α A B in one kernel) where it takes A and B as they
    are: torch arrays of one batch dimension or none, the same on both; else None."""
    torch = _torch(xp)
    if torch is None or A.ndim != B.ndim or A.shape[:-2] != B.shape[:-2] or A.ndim not in (2, 3):
        return None
    return torch.addmm if A.ndim == 2 else torch.baddbmm


def gemm(xp: Any, A: Array, B: Array, C: Array, alpha: float = 1.0, beta: float = 1.0) -> Array:
    """α A B + β C for matrices (..., n, n); C broadcasts against A B (the identity may be (n, n)).

    One kernel on torch for a single batch dimension or none (``baddbmm``/``addmm``).
    """
    fused = _fused_product(xp, A, B)
    if fused is not None:
        return fused(C, A, B, beta=beta, alpha=alpha)
    product = A @ B
    if alpha == -1:  # ±1 as a sign, not a product: a compiled program stays as small as the plain form
        return (C if beta == 1 else beta * C) - product
    product = product if alpha == 1 else alpha * product
    return product - C if beta == -1 else product + (C if beta == 1 else beta * C)


def scaled_product(xp: Any, A: Array, B: Array, alpha: float) -> Array:
    """α A B (one kernel on torch: ``baddbmm``/``addmm`` with β = 0, which ignores its input)."""
    fused = _fused_product(xp, A, B)
    if fused is not None and A.shape == B.shape:
        return fused(A, A, B, beta=0, alpha=alpha)
    return alpha * (A @ B)


def symmetric_product(xp: Any, L: Array, R: Array) -> Array:
    """sym(L R) = H + Hᵀ with H = ½ L R, the ½ taken into the product (one fused kernel on torch,
    ``scaled_product``; the same number: halving is exact)."""
    half = scaled_product(xp, L, R, 0.5)
    return half + half.mT


def gemm_eye(xp: Any, A: Array, B: Array, beta: float, alpha: float = 1.0, eye: Array | None = None) -> Array:
    """α A B + β I; ``eye`` is the identity if the caller has one (else it is made)."""
    return gemm(xp, A, B, eye_like(xp, A) if eye is None else eye, alpha, beta)


def axpy(xp: Any, a: float, X: Array, Y: Array) -> Array:
    """Y + a X (one kernel on torch: ``add(Y, X, alpha=a)``); X and Y broadcast."""
    torch = _torch(xp)
    if torch is not None:
        return torch.add(Y, X, alpha=a)
    return Y + a * X


def add_scaled(xp: Any, Y: Array, X: Array, s: Array, a: float = 1.0) -> Array:
    """Y + a s X for an array ``s`` (e.g. a per-matrix scale (..., 1, 1)); all three broadcast
    (one kernel on torch: ``addcmul``)."""
    torch = _torch(xp)
    if torch is not None:
        return torch.addcmul(Y, X, s, value=a)
    sX = s * X
    return Y - sX if a == -1 else Y + (sX if a == 1 else a * sX)


def combination(xp: Any, coefficients: Sequence[float], matrices: Sequence[Array]) -> Array:
    """Σ_k c_k M_k, the matrices broadcast (the identity may be (n, n)): one kernel per term on
    torch, none for a leading c_0 = 1 (the Taylor and Padé polynomials' constant term)."""
    total = matrices[0] if coefficients[0] == 1 else coefficients[0] * matrices[0]
    for c, M in zip(coefficients[1:], matrices[1:]):
        total = axpy(xp, c, M, total)
    return total


def combinations(xp: Any, rows: Sequence[Sequence[float]], matrices: Sequence[Array]) -> list[Array]:
    """[Σ_k r_k M_k for each row r]: several combinations of the same matrices (e.g. the blocks of
    a polynomial, or P and Q of a Padé approximant; the identity may be (n, n)), each by
    :func:`combination`. Not one stacked (rows × k) @ (k × b n²) product: on torch's CPU stacking
    the matrices and that thin product took 3.5–4× the time of the element-wise passes (0.74–1.0
    ms against 0.20–0.26 ms for mpa's P and Q at b = 64, n = 64), and a device would need its
    table of coefficients copied to it."""
    return [combination(xp, r, matrices[: len(r)]) for r in rows]


def monomials(xp: Any, bases: Sequence[Array], exponents: Sequence[Sequence[float]]) -> tuple[Array, ...] | None:
    """(Π_j b_j^{e_j} for each row e of ``exponents``) of arrays of one shape (e.g. per-matrix
    scalars (..., 1, 1)) in three kernels on torch, whatever their number: the bases stacked,
    raised to the table of exponents, multiplied along it (in host memory only:
    :func:`_torch_on_host`). None elsewhere: a compiler fuses the caller's own elementwise form,
    which it can simplify (√x for x^{1/2}) and prune."""
    torch = _torch_on_host(xp, bases[0])
    if torch is None:
        return None
    table = torch.asarray(exponents, dtype=bases[0].dtype, device=device(bases[0]))
    return torch.prod(torch.stack(list(bases), dim=-1)[..., None, :] ** table, dim=-1).unbind(-1)
