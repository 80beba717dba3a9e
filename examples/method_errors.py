"""Every built-in method against a float64 reference, and what happens at repeated eigenvalues.

Run: python examples/method_errors.py   (NumPy only; about a second)

References are independent of spectralcore: central finite differences of NumPy's eigh
for gradients, NumPy's eigh for the forward square root.
"""

from __future__ import annotations

import numpy as np

import spectralcore as sc


def with_spectrum(rng, spectrum):
    q, _ = np.linalg.qr(rng.standard_normal((len(spectrum), len(spectrum))))
    a = (q * np.asarray(spectrum)) @ q.T
    return (a + a.T) / 2


def fd_gradient(loss, a, h=1e-6):
    n = a.shape[0]
    g = np.zeros_like(a)
    for k in range(n):
        for l in range(k, n):
            e = np.zeros_like(a)
            e[k, l] = e[l, k] = 1.0
            d = (loss(a + h * e) - loss(a - h * e)) / (2 * h)
            g[k, l] = g[l, k] = d if k == l else d / 2
    return g


def sqrt_reference(a):
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(w)) @ v.T


def rel(x, y):
    return np.linalg.norm(x - y) / np.linalg.norm(y)


def main() -> None:
    rng = np.random.default_rng(0)
    a = with_spectrum(rng, [0.3, 0.9, 1.7, 2.6, 4.0])
    w0, v0 = np.linalg.eigh(a)
    gw, gV = rng.standard_normal(5), rng.standard_normal((5, 5))

    def eigh_loss(m):
        w, v = np.linalg.eigh(m)
        v = v * np.sign(np.sum(v * v0, axis=0))
        return np.sum(gw * w) + np.sum(gV * v)

    reference = fd_gradient(eigh_loss, a)
    print("eigh backward        rel. error vs finite differences    max |gA| at a triple eigenvalue")
    print("                     (separated spectrum)                (|cotangent| ~ 1)")
    tied = with_spectrum(rng, [1.0, 1.0, 1.0, 2.0, 3.0])
    for info in sc.methods("eigh-backward"):
        g = sc.vjp(sc.eigh, a, backward=info.name)[1]((gw, gV))
        with np.errstate(all="ignore"):
            gt = sc.vjp(sc.eigh, tied, backward=info.name)[1]((gw, gV))
        print(f"  {info.name:18} {rel(g, reference):10.2e}                          {np.max(np.abs(gt)):10.2e}")

    cov = rng.standard_normal((32, 128))
    cov = cov @ cov.T / 128
    gS = rng.standard_normal((32, 32))
    gS = (gS + gS.T) / 2
    exact = sc.vjp(sc.sqrtm, cov, backward="exact")[1](gS)
    print("\nsqrtm (32 x 32 sample covariance)   forward rel. error   backward rel. error vs exact")
    for forward, backward in [
        ("eigh", "exact"),
        ("mtp", "lyapunov"),
        ("mpa", "lyapunov"),
        ("newton-schulz", "newton-schulz"),
        ("eigh", "taylor"),
    ]:
        for normalize in ("frobenius", "spectral"):
            opts = {} if forward == "eigh" and backward in ("exact", "taylor") else {"normalize": normalize}
            if not opts and normalize == "spectral":
                continue
            S, pullback = sc.vjp(sc.sqrtm, cov, forward=forward, backward=backward, **opts)
            label = f"{forward} + {backward}" + (f" ({normalize})" if opts else "")
            print(f"  {label:40} {rel(S, sqrt_reference(cov)):10.2e}   {rel(pullback(gS), exact):10.2e}")

    g_tie = rng.standard_normal((5, 5))
    g_tie = (g_tie + g_tie.T) / 2
    dk = sc.vjp(sc.matrix_power, tied, 0.5)[1](g_tie)
    ref = fd_gradient(lambda m: np.sum(g_tie * sqrt_reference(m)), tied)
    print(f"\nmatrix_power(A, 0.5) at a triple eigenvalue: Daleckii-Krein rel. error {rel(dk, ref):.2e}")


if __name__ == "__main__":
    main()
