"""Float64 references written with NumPy only (independent of spectralcore's kernels)."""

from __future__ import annotations

import numpy as np

DELTA, EPS = 1e-3, 1e-3  # the method's defaults


def with_spectrum(rng: np.random.Generator, eigenvalues) -> np.ndarray:
    """Q diag(λ) Qᵀ for a random orthogonal Q, exactly symmetric."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    q, r = np.linalg.qr(rng.standard_normal((lam.size, lam.size)))
    q = q * np.sign(np.diag(r))
    a = (q * lam) @ q.T
    return (a + a.T) / 2


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def scale(w: np.ndarray) -> np.ndarray:
    """s = max|λ| per matrix, 1 for the zero matrix: the unit of the method's ε, shape (..., 1)."""
    top = np.max(np.abs(np.asarray(w, dtype=np.float64)), axis=-1, keepdims=True)
    return np.where(top > 0, top, 1.0)


def exact_kernel(w: np.ndarray, eps: float = EPS):
    """(1/(λ̂j − λ̂i) with inf on ties, λ̂b, relative gap ρ) for λ̂ = max(λ, ε s), in float64."""
    lam = np.maximum(np.asarray(w, dtype=np.float64), eps * scale(w))
    d = lam[..., None, :] - lam[..., :, None]
    big = np.maximum(lam[..., None, :], lam[..., :, None])
    with np.errstate(divide="ignore"):
        return 1 / d, big, np.abs(d) / big


def documented_bounds(w: np.ndarray, delta: float = DELTA, eps: float = EPS):
    """(relative-error bound δ²/(2ρ²), hard bound 1/(δ λ̂b)) per pair, in float64."""
    _, big, rho = exact_kernel(w, eps)
    with np.errstate(divide="ignore"):
        return delta**2 / (2 * rho**2), 1 / (delta * big)


def quadratic_loss(rng: np.random.Generator, n: int):
    """A sign-invariant loss L = Σ_k c_k v_kᵀ B v_k + Σ_k a_k λ_k and its cotangents (gw, gV)."""
    b = rng.standard_normal((n, n))
    b = (b + b.T) / 2
    c, a = rng.standard_normal(n), rng.standard_normal(n)

    def loss(A):
        w, v = np.linalg.eigh(A)
        return float(np.sum(c * np.einsum("ik,ij,jk->k", v, b, v)) + np.sum(a * w))

    def cotangents(V):
        return a.astype(V.dtype), (2 * (b @ V) * c).astype(V.dtype)

    return loss, cotangents


def fd_gradient(loss, A: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Symmetric gradient of a scalar loss by central differences along e_k e_lᵀ + e_l e_kᵀ."""
    n = A.shape[-1]
    g = np.zeros_like(A)
    for k in range(n):
        for l in range(k, n):
            e = np.zeros_like(A)
            e[k, l] = e[l, k] = 1.0
            d = (loss(A + h * e) - loss(A - h * e)) / (2 * h)
            g[k, l] = g[l, k] = d if k == l else d / 2
    return g
