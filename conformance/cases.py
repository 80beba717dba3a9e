"""The inputs of the suite: symmetric float64 matrices with chosen spectra, and cotangents.

Eigh cotangents come from the gauge-invariant loss L = Σ gw_i λi + Σ c_i viᵀ G vi, so gV =
2 G V diag(c) is computed from each run's own V: backends whose eigenvectors differ in sign
still differentiate the same loss.
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


SEPARATED = Case("separated", with_spectrum([1.0, 1.6, 2.3, 3.1, 4.0]))
NEAR_GAPS = (1e-3, 1e-6, 1e-9, 1e-12)


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
