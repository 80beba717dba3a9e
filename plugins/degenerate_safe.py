"""eigh backward ``degenerate-safe``: the pseudo-inverse rule on tied pairs.

K̃_ij = 1/(λj − λi) if |λj − λi| > rtol · s, else 0, with s = max(max_k |λk|, tiny) each
matrix's own spectral scale (``spectral_scale``; rtol = √ε of the dtype unless given). The tie
tolerance is relative by construction (there is no absolute setting to reproduce), so
K̃(cA) = K̃(A)/c, and bounded in units of A: |K̃_ij|·s ≤ 1/rtol, finite everywhere.

At exact ties it is exact for every loss that depends only on the eigenvalues or on whole
eigenspaces (projectors onto a repeated eigenvalue's space, Σ f(λi)): those losses give
Vᵀ gV with zero entries inside each tied block. It is NOT exact for a matrix function
written through eigh, V f(Λ) Vᵀ: at A = I, L = ⟨G, √A⟩ with G off-diagonal, it gives 0
where the true gradient is G/2, because f′ cannot be recovered from (gw, gV). For
matrix functions use ``sc.matrix_function`` / ``sc.matrix_power`` (Daleckii–Krein).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import KernelBackward, hookimpl
from spectralcore._array import dtype_eps, pair_gap, reciprocal_where, spectral_scale


@dataclasses.dataclass(frozen=True)
class DegenerateSafe(KernelBackward):
    name = "degenerate-safe"
    claims = frozenset({"exact", "bounded", "traceable"})
    reference = "pseudo-inverse rule (PyTorch issue 47599, JAX issue 669)"
    accuracy = 1e-8  # exact: rounding, measured ≤ 3e-11 (the suite's difference check)

    rtol: float | None = None

    def validate(self) -> None:
        self.require(self.rtol is None or self.rtol >= 0, "rtol", "None or >= 0")

    def zero_diagonal(self) -> bool:
        """The tie rule gives K̃_ii = 0 (a gap of 0 is never above the tolerance)."""
        return True

    def kernel(self, xp: Any, w: Any) -> Any:
        rtol = dtype_eps(xp, w.dtype) ** 0.5 if self.rtol is None else self.rtol
        gap = pair_gap(w)
        tol = rtol * spectral_scale(xp, w)  # >= 0, so |gap| > tol is False on the diagonal (gap 0) too
        return reciprocal_where(xp, xp.abs(gap) > tol[..., None, None], gap)


@hookimpl
def spectralcore_eigh_backward() -> list[type]:
    return [DegenerateSafe]
