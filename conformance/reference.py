"""Float64 NumPy references, written independently of spectralcore's own code."""

from __future__ import annotations

import numpy as np


def _sym(x: np.ndarray) -> np.ndarray:
    return (x + np.swapaxes(x, -1, -2)) / 2


def eigh_vjp(A: np.ndarray, gw: np.ndarray, gV: np.ndarray) -> np.ndarray:
    """The analytic eigh gradient V (F ∘ VᵀgV + diag(gw)) Vᵀ, F_ij = 1/(λj − λi)."""
    w, V = np.linalg.eigh(A)
    gap = w[..., None, :] - w[..., :, None]
    eye = np.eye(w.shape[-1], dtype=bool)
    F = np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, gap))
    inner = F * (np.swapaxes(V, -1, -2) @ gV) + np.eye(w.shape[-1]) * gw[..., None, :]
    return _sym(V @ inner @ np.swapaxes(V, -1, -2))


def power(A: np.ndarray, p: float) -> np.ndarray:
    w, V = np.linalg.eigh(A)
    return (V * np.clip(w, 0, None)[..., None, :] ** p) @ np.swapaxes(V, -1, -2)


def sqrtm_vjp(A: np.ndarray, G: np.ndarray) -> np.ndarray:
    """X with S X + X S = sym(G), S = A^{1/2}, solved in the eigenbasis."""
    w, V = np.linalg.eigh(A)
    s = np.sqrt(np.clip(w, 0, None))
    Vt = np.swapaxes(V, -1, -2)
    return V @ ((Vt @ _sym(G) @ V) / (s[..., :, None] + s[..., None, :])) @ Vt


def invsqrtm_vjp(A: np.ndarray, G: np.ndarray) -> np.ndarray:
    W = power(A, -0.5)
    return sqrtm_vjp(A, -(W @ _sym(G) @ W))
