"""Pre-normalisation of iterative methods: A ↦ A / c, with c ≥ λmax so the iterations converge.

* ``"frobenius"`` — c = ‖A‖_F (the papers' choice; ICLR 2022 eq. 10). Cheap, but for a
  spread-out spectrum c ≫ λmax, the small eigenvalues of A/c sit near 0 and iterations
  converge slowly there.
* ``"spectral"`` — c = ‖A^m‖_F^{1/m}, m = 2^k, by k repeated squarings (block power
  iteration started from the identity). For symmetric A this is an upper bound of
  λmax = ‖A‖₂ within the factor n^{1/(2m)} (1.14 for n = 64, k = 4); it needs k matrix
  products and no start vector, so it cannot stall on an unlucky one.
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
    log_c = xp.log(c)
    B = A / scale_matrix(c)
    for k in range(1, squarings + 1):
        B = B @ B
        t = frobenius_norm(xp, B)
        t = xp.where(t > 0, t, xp.ones_like(t))
        B = B / scale_matrix(t)
        log_c = log_c + xp.log(t) / 2**k
    return xp.exp(log_c)


def check_normalize(method: Any) -> None:
    """Validate a method's ``normalize`` option."""
    method._require(method.normalize in NORMALIZATIONS, "normalize", f"one of {NORMALIZATIONS}")
