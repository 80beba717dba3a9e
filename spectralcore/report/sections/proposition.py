"""Section 1 — TPAMI 2021 §3.3: K + 1 power iterations ≡ degree-K Taylor; gradient size against the gap."""

from __future__ import annotations

from typing import Any

import numpy as np

import spectralcore as sc

from ..section import Config, Section
from ._plot import save, subplots

GAP_METHODS = ("exact", "clip", "taylor", "pade", "power-iteration", "lorentzian")
ABSOLUTE = {"relative": False}  # the papers' absolute thresholds (each method's default is relative to max|λ|)


def _covariance(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, 2 * n))
    a = x @ x.T / (2 * n)
    return (a + a.T) / 2


def _top_column_gradient(a: np.ndarray, g: np.ndarray, **method) -> np.ndarray:
    gV = np.zeros_like(a)
    gV[:, -1] = g
    return sc.vjp(sc.eigh, a, **method)[1]((None, gV))


def run(cfg: Config) -> Section:
    s = Section("1. TPAMI 2021: power iteration ≡ Taylor expansion; gradient size against the eigenvalue gap")
    n = 16 if cfg.quick else 64
    degrees = (4, 9, 19) if cfg.quick else (4, 9, 19, 49, 99)
    a = _covariance(n)
    w, V = np.linalg.eigh(a)
    rng = np.random.default_rng(1)
    rows, worst = [], 0.0
    for K in degrees:
        per_vector = []
        for i in range(n - 1, n - 6, -1):  # the five largest, each on its deflated matrix
            m = a - sum(w[l] * np.outer(V[:, l], V[:, l]) for l in range(i + 1, n))
            m = (m + m.T) / 2
            g = rng.standard_normal(n)
            pi = _top_column_gradient(m, g, backward="power-iteration", iterations=K + 1, eps=1e-300, **ABSOLUTE)
            taylor = _top_column_gradient(m, g, backward="taylor", degree=K, eps=1e-300, **ABSOLUTE)
            per_vector.append(np.linalg.norm(pi - taylor) / np.linalg.norm(taylor))
        gV = rng.standard_normal((n, n))
        whole_pi = sc.vjp(sc.eigh, a, backward="power-iteration", iterations=K + 1, eps=1e-300, **ABSOLUTE)[1](
            (None, gV)
        )
        whole_taylor = sc.vjp(sc.eigh, a, backward="taylor", degree=K, eps=1e-300, **ABSOLUTE)[1]((None, gV))
        whole = np.linalg.norm(whole_pi - whole_taylor) / np.linalg.norm(whole_taylor)
        worst = max(worst, *per_vector)
        rows.append([K, max(per_vector), whole])
    s.text(
        f"Sample covariance, n = {n}. For each of the five largest eigenvectors, the gradient of "
        f"⟨g, vi⟩ through K + 1 power iterations on its deflated matrix Mi = A − Σ_(l<i) λl vl vlᵀ "
        f"(NeurIPS 2019 eq. 4) against the degree-K Taylor rule (TPAMI 2021 eq. 9) on Mi. "
        f"**Paper: equal (Proposition, §3.3).** Ours: equal to rounding, per eigenvector. The whole VJP "
        f"of power iteration *with deflation* is not the Taylor VJP: it also carries the deflation "
        f"paths, so the last column is not rounding error — the proposition is a per-vector statement."
    )
    s.table(["K", "max rel. difference per eigenvector", "whole VJP (with deflation) vs Taylor"], rows, ".2e")
    s.claim("proposition: max relative difference per eigenvector", worst, 1e-12)

    gaps = np.logspace(-12, 0, 13 if cfg.quick else 49)
    q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    gV = rng.standard_normal((3, 3))
    norms: dict[str, list[Any]] = {m: [] for m in GAP_METHODS}
    with np.errstate(all="ignore"):
        for gap in gaps:
            a = (q * [1.0, 1.0 + gap, 3.0]) @ q.T
            a = (a + a.T) / 2
            for m in GAP_METHODS:
                options = {} if m == "exact" else ABSOLUTE
                norms[m].append(np.linalg.norm(sc.vjp(sc.eigh, a, backward=m, **options)[1]((None, gV))))
    fig, axes = subplots()
    for m in GAP_METHODS:
        axes[0, 0].loglog(gaps, norms[m], marker=".", label=m)
    axes[0, 0].set(xlabel="eigenvalue gap λ2 − λ1 (λ1 = 1)", ylabel="‖gA‖_F", title="gradient size against the gap")
    axes[0, 0].legend()
    s.figure(
        save(fig, cfg.out / "gradient_vs_gap.png"),
        "Gradient norm for A = Q diag(1, 1 + gap, 3) Qᵀ and a fixed random gV (default options with "
        "the papers' absolute thresholds, relative=False; λmax = 3 here, so the relative defaults "
        "differ by that factor).",
    )
    picks = [0, len(gaps) // 2, len(gaps) - 1]
    s.table(
        ["method"] + [f"gap {gaps[i]:.0e}" for i in picks],
        [[m] + [norms[m][i] for i in picks] for m in GAP_METHODS],
        ".3g",
    )
    s.text(
        "exact and pade grow as 1/gap (pade evaluates 1/(1 − x) itself, see section 2); clip saturates at "
        "its threshold 1e10; taylor, power-iteration and lorentzian stay bounded, as the papers claim."
    )
    s.claim(
        "taylor bounded at gap 1e-12 (‖gA‖ ≤ n(K+1)/ε ‖gV‖)", norms["taylor"][0], 3 * 10 / 1e-2 * np.linalg.norm(gV)
    )
    return s
