"""The inputs of the suite: symmetric float64 matrices with chosen spectra, and cotangents.

Eigh cotangents come from the gauge-invariant loss L = Σ gw_i λi + Σ c_i viᵀ G vi, so gV =
2 G V diag(c) is computed from each run's own V: backends whose eigenvectors differ in sign
still differentiate the same loss. In units of A (:meth:`Cotangent.in_units`) the eigenvalue
term is Σ gw_i λi / s, s = max|λ| the matrix's spectral scale, so that L(cA) = L(A).
"""

from __future__ import annotations

import dataclasses

import numpy as np

SEED = 1729


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    matrix: np.ndarray


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random n × n orthogonal matrix (Haar: QR of a Gaussian matrix, signs fixed by R)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def with_spectrum(spectrum: list[float], seed: int = SEED) -> np.ndarray:
    q = orthogonal(np.random.default_rng(seed), len(spectrum))
    a = (q * np.asarray(spectrum, dtype=np.float64)) @ q.T
    return (a + a.T) / 2


def rank_deficient(n: int = 6, rank: int = 2, seed: int = SEED) -> np.ndarray:
    """A sample covariance of ``rank`` samples in n channels (more channels than samples)."""
    x = np.random.default_rng(seed).standard_normal((n, rank))
    a = x @ x.T / rank
    return (a + a.T) / 2


def dead_channels(n: int = 6, dead: int = 2, seed: int = SEED) -> np.ndarray:
    """A full-rank covariance of n − ``dead`` channels, with ``dead`` channels that never fire
    (rows and columns exactly zero, as after a ReLU)."""
    x = np.random.default_rng(seed).standard_normal((n, 4 * n))
    x[:dead] = 0
    a = x @ x.T / (4 * n)
    return (a + a.T) / 2


def spectral_scale(A: np.ndarray) -> np.ndarray:
    """max|λ| of each matrix of A (..., n, n), shape (...): the unit in which the suite measures
    gradients (spectralcore._array.spectral_scale, from float64 eigenvalues)."""
    return np.max(np.abs(np.linalg.eigvalsh(A)), axis=-1)


def conditioning(A: np.ndarray) -> float:
    """κ = max|λ| / min_{i≠j} |λi − λj| (≥ 1): how much a relative perturbation of A (rounding)
    is amplified in its eigenvectors, and so in every gradient of the suite."""
    w = np.linalg.eigvalsh(A)
    return float(max(1.0, np.max(np.abs(w)) / np.min(np.diff(w))))


def _householder_triple_tie() -> np.ndarray:
    """H diag(1, 2, 2, 2, 3) H with H = I − ½ uuᵀ, u = (1, 1, 1, 1, 0): orthogonal with entries
    0, ±½, 1, so every entry of the product is exact in binary and the tie is exact in the
    stored matrix, not only up to rounding."""
    u = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    h = np.eye(5) - np.outer(u, u) / 2
    return (h * np.array([1.0, 2.0, 2.0, 2.0, 3.0])) @ h


SEPARATED = Case("separated", with_spectrum([1.0, 1.6, 2.3, 3.1, 4.0]))
NEAR_GAPS = (1e-3, 1e-6, 1e-9, 1e-12)
# inputs of the equivariance checks: well separated, and a near tie that rounding cannot blur (κ ≈ 3e3)
EQUIVARIANCE = (SEPARATED, Case("near-1e-03", with_spectrum([1.0, 1.0 + 1e-3, 2.0, 3.0, 3.0 + 1e-3])))
# inputs of the second-order check where the first derivative is exact at ties (Daleckii–Krein)
TIES = (
    Case("near tie 1e-07", with_spectrum([1.0, 2.0, 2.0 + 1e-7, 3.0, 4.0])),
    Case("2I", 2.0 * np.eye(5)),
    Case("rotated triple tie", _householder_triple_tie()),
)


def degenerate(op: str) -> list[Case]:
    """Repeated, near-repeated (relative gaps 1e-3 … 1e-12) and, where the op is defined on
    singular input (eigh, sqrtm: not invsqrtm), zero eigenvalues, a covariance of fewer samples
    than channels, one of a single sample and one with dead (all-zero) channels."""
    cases = [Case("repeated", with_spectrum([1.0, 1.0, 1.0, 2.0, 3.0])), Case("all-equal", with_spectrum([2.0] * 5))]
    cases += [Case(f"near-{gap:.0e}", with_spectrum([1.0, 1.0 + gap, 2.0, 3.0, 3.0 + gap])) for gap in NEAR_GAPS]
    if op != "invsqrtm":
        cases += [
            Case("zeros", with_spectrum([0.0, 0.0, 0.0, 1.0, 2.0])),
            Case("rank-deficient", rank_deficient()),
            Case("one sample", rank_deficient(rank=1)),
            Case("dead channels", dead_channels()),
        ]
    return cases


def batch(case: Case, size: int = 3) -> np.ndarray:
    """``size`` different matrices with the case's spectrum, stacked."""
    spectrum = np.linalg.eigvalsh(case.matrix)
    return np.stack([with_spectrum(list(spectrum), SEED + k) for k in range(size)])


def direction(shape: tuple) -> np.ndarray:
    """A seeded symmetric tangent dA."""
    return Cotangent.for_shape(shape, 21).G


@dataclasses.dataclass(frozen=True)
class Cotangent:
    """Seeded cotangent data for inputs of shape (..., n, n)."""

    G: np.ndarray
    gw: np.ndarray
    weights: np.ndarray

    @classmethod
    def for_shape(cls, shape: tuple, seed: int = SEED + 1) -> Cotangent:
        rng = np.random.default_rng(seed)
        g = rng.standard_normal(shape)
        return cls((g + np.swapaxes(g, -1, -2)) / 2, rng.standard_normal(shape[:-1]), np.linspace(1.0, 2.0, shape[-1]))

    def eigh(self, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(gw, gV) of the gauge-invariant loss for eigenvectors V."""
        return self.gw, 2 * (self.G @ V) * self.weights

    def scaled(self, factor: float) -> Cotangent:
        return Cotangent(self.G * factor, self.gw * factor, self.weights)

    def in_units(self, scale: np.ndarray | float) -> Cotangent:
        """The eigenvalue cotangent gw / s for matrices of spectral scale s (...): the loss
        Σ gw λ / s + Σ c vᵀ G v is then scale-free, like the eigenvectors' term."""
        return Cotangent(self.G, self.gw / np.asarray(scale)[..., None], self.weights)

    def rotated(self, Q: np.ndarray) -> Cotangent:
        """G → Q G Qᵀ: the cotangent of the same loss at Q A Qᵀ."""
        return Cotangent(Q @ self.G @ Q.T, self.gw, self.weights)
