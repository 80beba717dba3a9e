"""Adapter overhead: spectralcore through the torch / JAX adapters against the same algorithm
written directly in plain torch / JAX, forward + backward, measured in the same run.

    python benchmarks/adapter_overhead.py [--batch 64] [--n 64] [--repeats 30] [--device cuda]

Prints medians (timed interleaved: plain, ours, ours with check=False, plain, ...) and the ratio
spectralcore / plain (the first row: the default ``sc.sqrtm`` against the square root through the
framework's own eigh autograd, what users write without spectralcore) (targets, float32: ≤ 1.10 on CPU; JAX under
jit within 1.2× on GPU). MPA runs with solve="lu", the plain version's solve; torch's eigh runs
with solver="native" (torch.linalg.eigh, the plain version's solver: on CUDA the default would
pick CuPy's, a different algorithm whose eigenvector signs differ, so the loss ⟨G, V⟩ differs);
the JAX baselines are traced at spectralcore's matmul precision (jax_timing.at_our_precision).
``--jax-designs jvp vjp`` times the JAX adapter's custom_jvp design (the default) against its
custom_vjp one in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from fractions import Fraction

import numpy as np

import spectralcore as sc
from spectralcore.series import binomial_series, pade

DEGREE, EPS = 9, 1e-2  # taylor defaults
PADE_P, PADE_Q = (tuple(float(c) for c in t) for t in pade(binomial_series(Fraction(1, 2), 10), 5, 5))
LYA_ITERS = 8
NS = dict(forward="newton-schulz", backward="newton-schulz", normalize="frobenius")  # the plain baseline's scale


def sym(g):
    """The symmetric part (g + gᵀ)/2, in any framework."""
    return (g + g.mT) / 2


def median_times(fns: dict, repeats: int, sync=lambda: None) -> dict:
    """Median seconds of each function, timed interleaved (A, B, C, A, B, C, ...) so that a noisy
    machine slows every one of them alike."""
    for fn in fns.values():
        for _ in range(3):
            fn()
    sync()
    times: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# ---------------------------------------------------------------- plain torch baselines
def torch_baselines():
    import torch

    class TaylorEigh(torch.autograd.Function):
        @staticmethod
        def forward(ctx, A):
            w, V = torch.linalg.eigh(A)
            ctx.save_for_backward(w, V)
            return w, V

        @staticmethod
        def backward(ctx, gw, gV):
            w, V = ctx.saved_tensors
            lam = w.clamp_min(EPS)
            li, lj = lam[..., :, None], lam[..., None, :]
            big = torch.maximum(li, lj)
            x = torch.minimum(li, lj) / big
            total = torch.ones_like(x)
            for _ in range(DEGREE):
                total = 1 + x * total
            n = w.shape[-1]
            sign = torch.triu(torch.ones(n, n, dtype=w.dtype, device=w.device), 1)
            sign = sign - sign.mT
            K = sign * total / big
            inner = K * (V.mT @ gV) + torch.diag_embed(gw)
            g = V @ inner @ V.mT
            return (g + g.mT) / 2

    class MpaLyapunov(torch.autograd.Function):
        @staticmethod
        def forward(ctx, A):
            c = spectral_scale_torch(A)
            eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
            Z = eye - A / c[..., None, None]
            P, Q, power = PADE_P[0] * eye, PADE_Q[0] * eye, eye
            for k in range(1, 6):
                power = Z if k == 1 else power @ Z
                P = P + PADE_P[k] * power
                Q = Q + PADE_Q[k] * power
            S = torch.linalg.solve(Q, P) * c.sqrt()[..., None, None]
            ctx.save_for_backward(S)
            return S

        @staticmethod
        def backward(ctx, gS):
            (S,) = ctx.saved_tensors
            c = spectral_scale_torch(S)[..., None, None]
            B, C = S / c, (gS + gS.mT) / 2 / c
            three = 3 * torch.eye(S.shape[-1], dtype=S.dtype, device=S.device)
            for _ in range(LYA_ITERS):
                B2 = B @ B
                B, C = B @ (three - B2) / 2, (-(B2 @ C) + B @ C @ B + C @ (three - B2)) / 2
            g = C / 2
            return (g + g.mT) / 2

    def spectral_scale_torch(A):
        c = torch.linalg.matrix_norm(A)
        log_c, B = c.log(), A / c[..., None, None]
        for k in range(1, 5):
            B = B @ B
            t = torch.linalg.matrix_norm(B)
            B = B / t[..., None, None]
            log_c = log_c + t.log() / 2**k
        return log_c.exp()

    return TaylorEigh, MpaLyapunov


def run_torch(A_np, G_np, repeats, device):
    import torch

    torch.set_num_threads(torch.get_num_threads())
    TaylorEigh, MpaLyapunov = torch_baselines()
    A = torch.asarray(A_np, device=device)
    G = torch.asarray(G_np, device=device)
    gw = torch.ones(A.shape[:-1], dtype=A.dtype, device=device)
    sync = torch.cuda.synchronize if A.is_cuda else (lambda: None)

    def step(fn):
        X = A.clone().requires_grad_()
        out = fn(X)
        loss = (out[0] * gw).sum() + (out[1] * G).sum() if isinstance(out, tuple) else (out * G).sum()
        loss.backward()
        return X.grad

    from spectralcore.adapters.torch_timing import eigh_autograd, plain_newton_schulz

    cases = {
        "sqrtm defaults (eigh + exact)": (sc.sqrtm, lambda X: sc.sqrtm(X, check=False), eigh_autograd),
        "eigh + taylor backward": (
            lambda X: sc.eigh(X, backward="taylor", solver="native"),
            lambda X: sc.eigh(X, backward="taylor", solver="native", check=False),
            lambda X: TaylorEigh.apply(X),
        ),
        "sqrtm mpa + lyapunov": (
            lambda X: sc.sqrtm(X, forward="mpa", backward="lyapunov", solve="lu"),
            lambda X: sc.sqrtm(X, forward="mpa", backward="lyapunov", solve="lu", check=False),
            lambda X: MpaLyapunov.apply(X),
        ),
        "sqrtm newton-schulz (frobenius)": (
            lambda X: sc.sqrtm(X, **NS),
            lambda X: sc.sqrtm(X, **NS, check=False),
            lambda X: plain_newton_schulz(X, fixed_scale=True),
        ),
    }
    rows = []
    for name, (ours, ours_nocheck, plain) in cases.items():
        reference = sym(step(plain))  # the gradient on symmetric matrices: autograd's plain NS is not symmetric
        agree = float((sym(step(ours)) - reference).abs().max() / reference.abs().max())
        fns = {"plain": plain, "ours": ours, "nocheck": ours_nocheck}
        t = median_times({key: (lambda f=f: step(f)) for key, f in fns.items()}, repeats, sync)
        rows.append((f"torch {name}", t["ours"], t["nocheck"], t["plain"], agree))
    return rows


# ---------------------------------------------------------------- plain JAX baselines
def run_jax(A_np, G_np, repeats, device, designs=("jvp",)):
    import jax
    import jax.numpy as jnp

    from spectralcore.adapters import jax_timing

    platform = jax.devices("gpu" if device == "cuda" else "cpu")[0]
    A, G = jax.device_put(A_np, platform), jax.device_put(G_np, platform)

    def spectral_scale(A):
        c = jnp.linalg.norm(A, axis=(-2, -1))
        log_c, B = jnp.log(c), A / c[..., None, None]
        for k in range(1, 5):
            B = B @ B
            t = jnp.linalg.norm(B, axis=(-2, -1))
            B = B / t[..., None, None]
            log_c = log_c + jnp.log(t) / 2**k
        return jnp.exp(log_c)

    @jax.custom_vjp
    def mpa_lya(A):
        return mpa_fwd(A)[0]

    def mpa_fwd(A):
        c = spectral_scale(A)
        eye = jnp.eye(A.shape[-1], dtype=A.dtype)
        Z = eye - A / c[..., None, None]
        P, Q, power = PADE_P[0] * eye, PADE_Q[0] * eye, eye
        for k in range(1, 6):
            power = Z if k == 1 else power @ Z
            P, Q = P + PADE_P[k] * power, Q + PADE_Q[k] * power
        S = jnp.linalg.solve(Q, P) * jnp.sqrt(c)[..., None, None]
        return S, S

    def mpa_bwd(S, gS):
        c = spectral_scale(S)[..., None, None]
        B, C = S / c, (gS + jnp.swapaxes(gS, -1, -2)) / 2 / c
        three = 3 * jnp.eye(S.shape[-1], dtype=S.dtype)
        for _ in range(LYA_ITERS):
            B2 = B @ B
            B, C = B @ (three - B2) / 2, (-(B2 @ C) + B @ C @ B + C @ (three - B2)) / 2
        g = C / 2
        return ((g + jnp.swapaxes(g, -1, -2)) / 2,)

    mpa_lya.defvjp(mpa_fwd, mpa_bwd)

    @jax.custom_vjp
    def taylor_eigh(A):
        return jnp.linalg.eigh(A)

    def taylor_fwd(A):
        w, V = jnp.linalg.eigh(A)
        return (w, V), (w, V)

    def taylor_bwd(saved, cot):
        (w, V), (gw, gV) = saved, cot
        lam = jnp.maximum(w, EPS)
        li, lj = lam[..., :, None], lam[..., None, :]
        big = jnp.maximum(li, lj)
        x = jnp.minimum(li, lj) / big
        total = jnp.ones_like(x)
        for _ in range(DEGREE):
            total = 1 + x * total
        upper = jnp.triu(jnp.ones((w.shape[-1],) * 2, dtype=w.dtype), 1)
        K = (upper - upper.T) * total / big
        inner = K * (jnp.swapaxes(V, -1, -2) @ gV) + gw[..., :, None] * jnp.eye(w.shape[-1], dtype=w.dtype)
        g = V @ inner @ jnp.swapaxes(V, -1, -2)
        return ((g + jnp.swapaxes(g, -1, -2)) / 2,)

    taylor_eigh.defvjp(taylor_fwd, taylor_bwd)

    def eigh_loss(eigh):
        return lambda X: jnp.sum(eigh(X)[0]) + jnp.sum(eigh(X)[1] * G)

    cases = {
        "sqrtm defaults (eigh + exact)": (
            lambda X: jnp.sum(sc.sqrtm(X) * G),
            lambda X: jnp.sum(jax_timing.eigh_autograd(X) * G),
        ),
        "eigh + taylor backward": (eigh_loss(lambda X: sc.eigh(X, backward="taylor")), eigh_loss(taylor_eigh)),
        "sqrtm mpa + lyapunov": (
            lambda X: jnp.sum(sc.sqrtm(X, forward="mpa", backward="lyapunov", solve="lu") * G),
            lambda X: jnp.sum(mpa_lya(X) * G),
        ),
        "sqrtm newton-schulz (frobenius)": (
            lambda X: jnp.sum(sc.sqrtm(X, **NS) * G),
            lambda X: jnp.sum(jax_timing.plain_newton_schulz(X, fixed_scale=True) * G),
        ),
    }
    rows = []
    for name, (ours_loss, plain_loss) in cases.items():
        plain = jax.jit(jax_timing.at_our_precision(jax.grad(plain_loss)))
        reference = sym(plain(A))
        fns, agree = {"plain": lambda plain=plain: plain(A).block_until_ready()}, {}
        for design in designs:
            with jax_design(design):
                ours = jax.jit(jax.grad(ours_loss))
                agree[design] = float(jnp.max(jnp.abs(sym(ours(A)) - reference)) / jnp.max(jnp.abs(reference)))
            fns[design] = lambda ours=ours: ours(A).block_until_ready()
        t = median_times(fns, repeats)
        for design in designs:
            label = "" if len(designs) == 1 else f" [{design}]"
            rows.append((f"jax jit {name}{label}", t[design], float("nan"), t["plain"], agree[design]))
    return rows


@contextlib.contextmanager
def jax_design(design: str):
    """Trace the JAX adapter with its custom_jvp design ("jvp", the adapter's choice wherever the
    methods have a JVP: JAX transposes it for reverse mode) or its custom_vjp one ("vjp", used
    for VJP-only methods and, before forward mode existed, for every method)."""
    from spectralcore.adapters import jax as adapter

    chosen = adapter.forward_mode_available
    if design == "vjp":
        adapter.forward_mode_available = lambda config: False
    try:
        yield
    finally:
        adapter.forward_mode_available = chosen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--jax-designs",
        nargs="+",
        choices=("jvp", "vjp"),
        default=["jvp"],
        help="JAX adapter designs to time (see jax_design); 'jvp vjp' compares them",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.batch, args.n, 4 * args.n)).astype(np.float32)
    A = X @ X.transpose(0, 2, 1) / (4 * args.n)
    A = (A + A.transpose(0, 2, 1)) / 2
    G = rng.standard_normal(A.shape).astype(np.float32)
    rows = run_torch(A, G, args.repeats, args.device)
    try:
        rows += run_jax(A, G, args.repeats, args.device, tuple(args.jax_designs))
    except (ImportError, RuntimeError) as error:  # no jax, or no JAX GPU backend
        print(f"JAX rows skipped: {error}")
    print(
        f"batch {args.batch} of {args.n}x{args.n} float32, {args.device}, forward + backward, median of {args.repeats}"
    )
    print(
        f"{'case':40} {'ours ms':>9} {'check=False':>12} {'plain ms':>9} {'ratio':>6} {'ratio (no check)':>17} "
        f"{'max|dgA|/max|gA|':>17}"
    )
    for name, ours, nocheck, plain, agree in rows:
        print(
            f"{name:40} {ours * 1e3:9.2f} {nocheck * 1e3:12.2f} {plain * 1e3:9.2f} {ours / plain:6.3f} "
            f"{nocheck / plain:17.3f} {agree:17.2e}"
        )


if __name__ == "__main__":
    main()
