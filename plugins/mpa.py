"""sqrtm forward ``mpa``: matrix Padé approximant (ICLR 2022 eq. 13).

With c ≥ λmax and Z = I − A/c, the [m/n] Padé approximant P_m/Q_n of (1 − z)^{1/2}
(coefficients computed exactly, :func:`spectralcore.series.pade`) gives
A^{1/2} ≈ √c Q_n(Z)⁻¹ P_m(Z) and A^{-1/2} ≈ P_m(Z)⁻¹ Q_n(Z)/√c (P and Q commute).
P and Q by Paterson–Stockmeyer with shared powers (:mod:`spectralcore.matrix_polynomial`):
for [5/5] Z², Z³ and one fused step each, 4 products as by the powers Z² … Z⁵ but 2 element-wise
passes fewer; for [3/7] 4 instead of 6. With 4 products for c (:meth:`MPA.products`: 8 by
default). The Newton solve takes all the powers Z … Z^max(m, n) instead, which its seed reuses.
Default [5/5] (ICLR 2022 §4.2). No threshold:
c is A's own scale, so the method is equivariant under A → tA (:mod:`spectralcore.normalize`).

``solve="newton"`` applies the inverse by matrix products only
(:mod:`spectralcore.polynomial_inverse`: 4 Newton steps in float32, 5 in float64 for Q of
[5/5]; 2 products and 2 kernels each, and 1 for the numerator): no host synchronisation, so
the whole method can be captured in a CUDA graph. ``solve="lu"`` calls ``xp.linalg.solve``,
whose pivoting checks its result on the host (and which torch runs slowly for small batched
matrices on CUDA). Both agree to rounding.
``solve="auto"`` (default) takes "lu" for arrays in host memory and "newton" on accelerators.
Measured again on CPU with torch 2.13 (b = 64, 2 threads, forward + backward of mpa +
lyapunov), since the products were fused the Newton steps take 0.97× LU's time at n = 16,
0.90× at n = 32 and 64, and 1.06× at n = 128. torch's threaded batched LU on CPU fails for
n ≥ 151 (MKL's "Parameter 6 was incorrect on entry to SLASWP", then a RuntimeError, or a wrong
solution for a general matrix: pytorch/pytorch#142815), so there "auto" takes the Newton steps.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import SqrtmForward, hookimpl
from spectralcore._array import eye_like, namespace, on_cpu, torch_namespace
from spectralcore.matrix_polynomial import evaluate_all
from spectralcore.matrix_polynomial import products as polynomial_products
from spectralcore.normalize import DEFAULT, Scale, ScaledRoot, check_normalize, normalizer
from spectralcore.normalize import products as normalizer_products
from spectralcore.polynomial_inverse import newton_steps, polynomial_solve, seed
from spectralcore.products import add_scaled, combinations
from spectralcore.series import pade_floats

SOLVES = ("auto", "newton", "lu")


TORCH_CPU_LU_MAX = 150  # the largest n whose batched LU torch's CPU threads get right (module doc)


@dataclasses.dataclass(frozen=True)
class MPA(SqrtmForward):
    name = "mpa"
    claims = frozenset({"traceable"})
    reference = "ICLR 2022 eq. 13"
    accuracy = 3e-5

    m: int = 5
    n: int = 5
    normalize: str = DEFAULT
    solve: str = "auto"

    def validate(self) -> None:
        self.require(self.m >= 0, "m", "an int >= 0")
        self.require(self.n >= 0, "n", "an int >= 0")
        self.require(self.solve in SOLVES, "solve", f"one of {SOLVES}")
        check_normalize(self)

    def _ratio(self, xp: Any, A: Any, inverse: bool) -> tuple[Any, Scale]:
        """(Q⁻¹P, the scale of A), or (P⁻¹Q, the scale) for the inverse root."""
        p, q = pade_floats((1, 2), self.m, self.n)
        scale = normalizer(xp, A, self.normalize)
        eye = eye_like(xp, A)
        Z = add_scaled(xp, eye, A, scale.power(-1.0), -1.0)  # I − A/c
        lu = self.chosen_solve(A) == "lu"
        if lu:  # P and Q by Paterson–Stockmeyer
            P, Q = evaluate_all(xp, Z, (p, q), eye)
        else:  # all the powers, which the Newton steps' seed reuses
            powers = [eye, Z]
            while len(powers) < max(len(p), len(q)):
                powers.append(powers[-1] @ Z)
            P, Q = combinations(xp, (p, q), powers)
        (num, den), den_coeffs = ((Q, P), p) if inverse else ((P, Q), q)
        if lu:
            try:
                return xp.linalg.solve(den, num), scale
            except RuntimeError as error:  # torch's threaded CPU LU from n = 151 (module doc)
                if "Pivots given to lu_solve" not in str(error):
                    raise
                raise RuntimeError(
                    f"sqrtm-forward method 'mpa' with solve='lu': torch's batched LU on CPU failed "
                    f"for {A.shape[-1]} x {A.shape[-1]} matrices (pytorch/pytorch#142815); use "
                    f"solve='newton' or 'auto'"
                ) from error
        try:
            ratio = polynomial_solve(xp, powers, den_coeffs, den, num)
        except ValueError as error:  # [m/n] so high that its float64 coefficients lose Q > 0
            raise ValueError(
                f"sqrtm-forward method 'mpa' [{self.m}/{self.n}] with solve='newton': {error}; "
                f"use solve='lu' or a lower order"
            ) from error
        return ratio, scale

    def products(self) -> int:
        """4 (c) + P's and Q's by Paterson–Stockmeyer (:func:`spectralcore.matrix_polynomial.products`:
        4 for [5/5], 8 by default); with solve="newton" instead max(m, n) − 1 for all the powers of
        Z (the seed's) and 2K + 1 for K Newton steps in float32 (one more step in float64).
        "auto" counts as LU (no product), its choice in host memory up to n = 150."""
        p, q = pade_floats((1, 2), self.m, self.n)
        if self.solve != "newton":
            return normalizer_products(self.normalize) + polynomial_products(len(p) - 1, len(q) - 1)
        powers = max(len(p), len(q)) - 1
        inverse = 2 * newton_steps(seed(q, powers)[1], 2.0**-23) + 1
        return normalizer_products(self.normalize) + max(powers - 1, 0) + inverse

    def chosen_solve(self, A: Any) -> str:
        """ "newton" or "lu": the ``solve`` option, with "auto" resolved for A: LU in host memory,
        except for torch tensors larger than 150 × 150, where torch's threaded LU fails (module
        doc); the Newton steps on accelerators."""
        if self.solve != "auto":
            return self.solve
        broken_lu = torch_namespace(namespace(A)) is not None and A.shape[-1] > TORCH_CPU_LU_MAX
        return "lu" if on_cpu(A) is not False and not broken_lu else "newton"

    def sqrtm(self, xp: Any, A: Any) -> tuple[Any, ScaledRoot]:
        ratio, scale = self._ratio(xp, A, inverse=False)
        return ratio * scale.power(0.5), ScaledRoot(ratio, scale)

    def invsqrtm(self, xp: Any, A: Any) -> tuple[Any, Scale]:
        ratio, scale = self._ratio(xp, A, inverse=True)
        return ratio / scale.power(0.5), scale


@hookimpl
def spectralcore_sqrtm_forward() -> list[type]:
    return [MPA]
