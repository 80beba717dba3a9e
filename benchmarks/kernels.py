"""Kernels and matrix products per method against the floor: the same products timed alone.

    python benchmarks/kernels.py [--batch 64] [--n 64] [--repeats 30] [--threads 2] [--device cpu] [--json]

torch eager, forward + backward, ``check=False`` unless the row says otherwise. For each
configuration: the aten kernels one step runs (``count_ops``: a TorchDispatchMode; views and bare
allocations excluded), the method's own among them (less the step's clone of the leaf, its loss and
that loss's gradient: ``step_overhead``), the matrix products, kernels per product, and the step's median
time ÷ the median time of the same number of (b, n, n) batched products timed alone
(``products_alone``), interleaved with the step in the same run (plus one ``torch.linalg.eigh``
for the eigh routes; a step that solves, ``mpa``'s LU, is also shown against its floor with that
``torch.linalg.solve``). Targets (issue 23): iterative methods ≤ 1.5 kernels per product and ≤ 1.3×
their products alone; eigh routes ≤ 30 kernels; the default ``sc.sqrtm`` no slower than the square
root written through ``torch.linalg.eigh`` autograd (the last two rows, same run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import spectralcore as sc
from spectralcore.adapters.torch_timing import (
    count_ops,
    eigh_autograd,
    on_device,
    products_alone,
    step,
    step_overhead,
)

CONFIGS: dict[str, tuple[Callable, bool]] = {  # name: (call, whether the floor includes one eigh)
    "sqrtm mpa + lyapunov": (lambda X: sc.sqrtm(X, forward="mpa", backward="lyapunov", check=False), False),
    "sqrtm mtp + lyapunov": (lambda X: sc.sqrtm(X, forward="mtp", backward="lyapunov", check=False), False),
    "sqrtm newton-schulz": (
        lambda X: sc.sqrtm(X, forward="newton-schulz", backward="newton-schulz", check=False),
        False,
    ),
    "sqrtm eigh + exact": (lambda X: sc.sqrtm(X, forward="eigh", backward="exact", check=False), True),
    "eigh taylor": (lambda X: sc.eigh(X, backward="taylor", solver="native", check=False), True),
    "sqrtm defaults, check=True": (lambda X: sc.sqrtm(X), True),
    "torch.linalg.eigh autograd": (eigh_autograd, True),
}


def median_times(fns: tuple[Callable[[], object], ...], repeats: int, sync: Callable[[], None]) -> list[float]:
    """Median wall time of each of ``fns``, run in turn (so both see the same machine load)."""
    times: list[list[float]] = [[] for _ in fns]
    for i in range(repeats + 3):
        for fn, t in zip(fns, times):
            sync()
            start = time.perf_counter()
            fn()
            sync()
            if i >= 3:  # warm-up
                t.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def inputs(batch: int, n: int, device: str, seed: int) -> tuple[torch.Tensor, torch.Tensor, Callable[[], None]]:
    """(A, the cotangent G, the device's synchronisation): A a sample covariance of 4n samples."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, n, 4 * n)).astype(np.float32)
    A, sync = on_device(X @ X.transpose(0, 2, 1) / (4 * n), device)
    G, _ = on_device(rng.standard_normal(A.shape).astype(np.float32), device)
    return (A + A.mT) / 2, G, sync


def measure(batch: int, n: int, repeats: int, device: str) -> list[dict]:
    A, G, sync = inputs(batch, n, device, 0)
    overhead = step_overhead(A, G)
    rows = []
    for name, (fn, eigh) in CONFIGS.items():
        run = step(fn, A, G)
        counts = count_ops(run)
        solves = counts.ops["aten._linalg_solve_ex"]
        floors = (products_alone(A, counts.matmuls, eigh), products_alone(A, counts.matmuls, eigh, solves))
        t_step, t_floor, t_solves = median_times((run, *floors), repeats, sync)
        rows.append(
            {
                "configuration": name,
                "kernels": counts.launches,
                "products": counts.matmuls,
                "kernels_per_product": counts.launches / counts.matmuls,
                "method_kernels": counts.launches - overhead,
                "method_kernels_per_product": (counts.launches - overhead) / counts.matmuls,
                "ms": t_step * 1e3,
                "floor_ms": t_floor * 1e3,
                "time_over_floor": t_step / t_floor,
                "floor": f"{'eigh + ' if eigh else ''}{counts.matmuls} products",
                "solves": solves,
                "time_over_floor_with_solves": t_step / t_solves,
            }
        )
    return rows


def default_over_baseline(batch: int, n: int, repeats: int, device: str) -> dict[str, float]:
    """Time of ``sc.sqrtm(A)`` (check=True, as users call it, and check=False) ÷ the square root
    through torch.linalg.eigh autograd, the three interleaved."""
    A, G, sync = inputs(batch, n, device, 1)
    fns = (step(sc.sqrtm, A, G), step(lambda X: sc.sqrtm(X, check=False), A, G), step(eigh_autograd, A, G))
    checked, unchecked, baseline = median_times(fns, repeats, sync)
    return {"check=True": checked / baseline, "check=False": unchecked / baseline}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = measure(args.batch, args.n, args.repeats, args.device)
    default = default_over_baseline(args.batch, args.n, 2 * args.repeats, args.device)
    if args.json:
        print(json.dumps({"rows": rows, "default_over_eigh_autograd": default}, indent=1))
        return
    print(
        f"torch {torch.__version__} eager, {args.device}, {args.threads} CPU threads, "
        f"batch {args.batch} of {args.n}x{args.n} float32, forward + backward, median of {args.repeats}"
    )
    header = ("kernels", 8), ("own", 5), ("products", 9), ("k/p", 5), ("own k/p", 8), ("ms", 8)
    header += ("floor ms", 9), ("÷ floor", 8)
    print(f"{'configuration':26} " + " ".join(f"{h:>{w}}" for h, w in header) + "  floor")
    for r in rows:
        per, own = f"{r['kernels_per_product']:.2f}", f"{r['method_kernels_per_product']:.2f}"
        print(
            f"{r['configuration']:26} {r['kernels']:8d} {r['method_kernels']:5d} {r['products']:9d} {per:>5} "
            f"{own:>8} {r['ms']:8.2f} {r['floor_ms']:9.2f} {r['time_over_floor']:8.2f}  {r['floor']}"
        )
    for r in rows:
        if r["solves"]:
            print(
                f"{r['configuration']}: ÷ ({r['floor']} + {r['solves']} LU solve of the same shape) "
                f"{r['time_over_floor_with_solves']:.2f}"
            )
    print(
        "'own': the kernels less the step's own (the leaf's clone, the loss and its gradient), counted "
        "as the step of the identity"
    )
    print(
        "sc.sqrtm(A) with its defaults ÷ the square root through torch.linalg.eigh autograd (interleaved, "
        + ", ".join(f"{k}: {v:.3f}" for k, v in default.items())
        + ")"
    )


if __name__ == "__main__":
    main()
