"""What ``check=True`` costs: each op's time with its checks ÷ its time with ``check=False``,
timed interleaved in the same run (torch eager: forward + backward; NumPy: the forward).

    python benchmarks/check_cost.py [--batch 64] [--n 64] [--repeats 30] [--threads 2]

The checks are finiteness and symmetry (one host read), the domain (torch with an exact eigh
forward: on the forward's own eigenvalues, one host read; elsewhere a Cholesky factorisation
first) and, for an approximate forward, its residual (one or two matrix products).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import spectralcore as sc

CASES = {  # name: (op, options)
    "sqrtm eigh (default)": (sc.sqrtm, {}),
    "invsqrtm eigh (default)": (sc.invsqrtm, {}),
    "logm": (sc.logm, {}),
    "sqrtm mpa + lyapunov": (sc.sqrtm, {"forward": "mpa", "backward": "lyapunov"}),
    "sqrtm newton-schulz": (sc.sqrtm, {"forward": "newton-schulz", "backward": "newton-schulz"}),
}


def ratio(checked: Callable[[], object], unchecked: Callable[[], object], repeats: int) -> float:
    """Median time of ``checked`` ÷ median time of ``unchecked``, timed alternately."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(3):
        checked(), unchecked()
    for _ in range(repeats):
        for fn, out in zip((checked, unchecked), times):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]) / statistics.median(times[1])


def covariances(batch: int, n: int) -> np.ndarray:
    """Well-conditioned sample covariances (2n samples): every approximate forward meets its residual."""
    x = np.random.default_rng(0).standard_normal((batch, n, 2 * n))
    return (x @ x.transpose(0, 2, 1) / (2 * n) + 0.5 * np.eye(n)).astype(np.float32)


def numpy_call(op: Callable, A: np.ndarray, options: dict, check: bool) -> Callable[[], object]:
    return lambda: op(A, check=check, **options)


def torch_step(op: Callable, A: np.ndarray, options: dict, check: bool) -> Callable[[], object]:
    import torch

    from spectralcore.adapters.torch_timing import step

    T = torch.asarray(A)
    return step(lambda X: op(X, check=check, **options), T, torch.ones_like(T))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    A = covariances(args.batch, args.n)
    rows = [
        (f"numpy {name} (forward)", ratio(*(numpy_call(op, A, options, c) for c in (True, False)), args.repeats))
        for name, (op, options) in CASES.items()
    ]
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(args.threads)
        rows += [
            (f"torch {name}", ratio(*(torch_step(op, A, options, c) for c in (True, False)), args.repeats))
            for name, (op, options) in CASES.items()
        ]
    print(f"check=True ÷ check=False, batch {args.batch} of {args.n}x{args.n} float32, {args.threads} threads")
    for name, value in rows:
        print(f"{name:45} {value:6.3f}")


if __name__ == "__main__":
    main()
