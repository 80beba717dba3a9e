"""Shared test helpers: random symmetric inputs with a chosen spectrum and float64 references
written independently of spectralcore (NumPy/SciPy finite differences, closed forms)."""

from __future__ import annotations

import numpy as np


def random_orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def with_spectrum(rng: np.random.Generator, eigenvalues) -> np.ndarray:
    """Q diag(λ) Qᵀ for a random orthogonal Q (exactly symmetrised)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    q = random_orthogonal(rng, lam.size)
    a = (q * lam) @ q.T
    return (a + a.T) / 2


def covariance(rng: np.random.Generator, n: int, samples: int) -> np.ndarray:
    x = rng.standard_normal((n, samples))
    x -= x.mean(axis=1, keepdims=True)
    a = x @ x.T / samples
    return (a + a.T) / 2


def symmetric(rng: np.random.Generator, n: int) -> np.ndarray:
    g = rng.standard_normal((n, n))
    return (g + g.T) / 2


def fd_gradient(loss, a: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Gradient of a scalar loss of a symmetric matrix by central differences along the
    symmetric basis E_kl = e_k e_lᵀ + e_l e_kᵀ, returned as the symmetric matrix G with
    ⟨G, E⟩ equal to the directional derivative (so G = sym(∂L/∂A))."""
    n = a.shape[-1]
    g = np.zeros_like(a)
    for k in range(n):
        for l in range(k, n):
            e = np.zeros_like(a)
            e[k, l] = e[l, k] = 1.0
            d = (loss(a + h * e) - loss(a - h * e)) / (2 * h)
            g[k, l] = g[l, k] = d if k == l else d / 2
    return g


def aligned_eigh(a: np.ndarray, reference_vectors: np.ndarray):
    """np.linalg.eigh with each eigenvector's sign chosen to match ``reference_vectors``."""
    w, v = np.linalg.eigh(a)
    signs = np.sign(np.sum(v * reference_vectors, axis=-2))
    return w, v * signs


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))
