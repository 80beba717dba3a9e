"""The report's torch timings: the two baselines (torch.linalg.eigh autograd, plain Newton–Schulz)
and one forward + backward step per spectralcore method, for ``spectralcore report``."""

from __future__ import annotations

from typing import Callable

import torch

import spectralcore as sc


def eigh_autograd(A: torch.Tensor) -> torch.Tensor:
    """Baseline: A^{1/2} = V Λ^{1/2} Vᵀ differentiated by torch.linalg.eigh's own autograd."""
    w, V = torch.linalg.eigh(A)
    return (V * w.clamp_min(0).sqrt()[..., None, :]) @ V.mT


def plain_newton_schulz(A: torch.Tensor, iterations: int = 5) -> torch.Tensor:
    """Baseline: the coupled Newton–Schulz iteration (Frobenius-normalised) under autograd."""
    c = torch.linalg.matrix_norm(A)[..., None, None]
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    Y, Z = A / c, eye.expand_as(A)
    for _ in range(iterations):
        T = (3 * eye - Z @ Y) / 2
        Y, Z = Y @ T, T @ Z
    return Y * c.sqrt()


def cases(device: str, sqrtm_methods: dict[str, dict]) -> tuple[Callable, Callable, dict[str, Callable]]:
    """(step_for(fn, A_np) -> step, sync, {name: fn}) for the report's speed section on ``device``."""

    def make(A_np):
        return torch.asarray(A_np, device=device)

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    methods = {"torch.linalg.eigh autograd (baseline)": eigh_autograd,
               "plain Newton–Schulz autograd (baseline)": plain_newton_schulz}
    methods |= {name: (lambda A, kw=kw: sc.sqrtm(A, check=False, **kw)) for name, kw in sqrtm_methods.items()}
    methods |= {f"eigh, {b} backward": (lambda A, b=b: sc.eigh(A, backward=b, check=False))
                for b in ("exact", "taylor", "pade", "clip", "power-iteration")}

    def step_for(fn, A_np):
        A = make(A_np)
        G = torch.ones_like(A)

        def step():
            X = A.clone().requires_grad_()
            out = fn(X)
            loss = (out[0].sum() + (out[1] * G).sum()) if isinstance(out, tuple) else (out * G).sum()
            loss.backward()

        return step

    return step_for, sync, methods
