"""Pre-normalisation of iterative methods: A ↦ A / c, with c ≥ λmax so the iterations converge.

* ``"frobenius"`` — c = ‖A‖_F (the papers' choice; ICLR 2022 eq. 10). Cheap, but for a
  spread-out spectrum c ≫ λmax, the small eigenvalues of A/c sit near 0 and iterations
  converge slowly there.
* ``"spectral"`` — c = ‖A^m‖_F^{1/m}, m = 2^k, by k repeated squarings (block power
  iteration started from the identity). For symmetric A this is an upper bound of
  λmax = ‖A‖₂ within the factor n^{1/(2m)} (1.14 for n = 64, k = 4); it needs k matrix
  products and no start vector, so it cannot stall on an unlucky one. Each squaring is
  rescaled to ‖B‖_F = 1, c = ‖A‖_F Π_k t_k^{1/2^k} with t_k = ‖B_{k−1}²‖_F; for symmetric B,
  t_k ≥ ‖B_{k−1}‖_F² / √n = 1/√n, a floor that also keeps a zero matrix finite.

Both are each matrix's own scale and equivariant, c(tA) = |t| c(A), and the floor 1/√n acts on
the normalised B, so the iterative methods (``mpa``, ``mtp``, ``newton-schulz``, ``lyapunov``),
which see A only as A/c and scale back by √c, have no threshold in the units of A:
f(tA) = t^p f(A) and gA(tA) = t^{p − 1} gA(A), p = ±1/2, to rounding.
"""

from __future__ import annotations

from typing import Any

from ._array import Array, frobenius_norm, scale_matrix

NORMALIZATIONS = ("frobenius", "spectral")
DEFAULT = "spectral"
SQUARINGS = 4


def normalizer(xp: Any, A: Array, how: str, squarings: int = SQUARINGS) -> Array:
    """Return c of shape (...) with c ≥ ‖A‖₂ (c = 1 for a zero matrix)."""
    c = frobenius_norm(xp, A)
    c = xp.where(c > 0, c, xp.ones_like(c))
    if how == "frobenius":
        return c
    floor = A.shape[-1] ** -0.5
    B = A / scale_matrix(c)
    for k in range(1, squarings + 1):
        B = B @ B
        t = xp.clip(frobenius_norm(xp, B), min=floor)
        if k < squarings:  # the last B is not needed
            B = B / scale_matrix(t)
        c = c * t ** (1 / 2**k)
    return c


def root_scale(xp: Any, A: Array, c: Array) -> Array:
    """√c as (..., 1, 1), to scale an iteration on A / c back: f(A) = √c f(A / c) for the square
    root. For the zero matrix c = 1 only to divide by; its scale is 0, so sqrtm(0) = 0 exactly
    and invsqrtm(0) = inf, whatever the approximation gives at A / c = 0."""
    zero = frobenius_norm(xp, A) == 0
    return scale_matrix(xp.where(zero, xp.zeros_like(c), xp.sqrt(c)))


def check_normalize(method: Any) -> None:
    """Validate a method's ``normalize`` option."""
    method.require(method.normalize in NORMALIZATIONS, "normalize", f"one of {NORMALIZATIONS}")
