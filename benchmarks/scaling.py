"""Scaling table (issue "GPU speed"): forward + backward time of the report's sqrtm method
combinations (``SQRTM`` in spectralcore/report/sections/speed.py) and every eigh backward
through spectralcore, on torch (autograd through the adapter) and JAX
(``jax.jit(jax.grad(...))`` through the adapter), float32, against three baselines measured in
the same run: torch.linalg.eigh autograd, jnp.linalg.eigh autograd under jit (both computing
the square root V diag(√λ) Vᵀ) and plain Newton–Schulz (5 iterations, autodiff, written
directly in each framework).

    python benchmarks/scaling.py                          # batch {1,16,64,256} × n {32,64,128,256}
    python benchmarks/scaling.py --quick --repeats 3      # batch {1,64} × n {32,64}
    python benchmarks/scaling.py --device cuda --framework torch --torch-compile --cuda-graph
    python benchmarks/scaling.py --batch 64 --n 128 --n 256 --skip power-iteration

Every time is the median of --repeats runs after --warmup runs, with the device synchronised
around each run (torch.cuda.synchronize on CUDA, block_until_ready in JAX); the methods of one
configuration are timed round-robin, so a burst of other load hits all of them alike, and the
fastest run is shown beside the median. spectralcore is called with check=False (the value
checks read the data: a host synchronisation per call). "× faster than eigh autograd" and
"× vs plain NS" are the baseline's median divided by the method's, in the same framework and
configuration: above 1 means the method is faster. The power-iteration backward unrolls n × 19
steps, so its JAX compilation takes ~15 s at n = 32 and grows with n (CPU): `--skip
power-iteration` leaves it out.

On CPU, JAX's eigh and solve run LAPACK through SciPy's OpenBLAS. With OpenBLAS's own thread pool
next to XLA's, those calls stalled for 8 ms to 1 s each on a busy 2-core machine, and the stalls
were repeatable. So this script sets OPENBLAS_NUM_THREADS=1 unless you set it yourself. torch's
wheels use MKL and are not affected.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy / scipy / jax load OpenBLAS (see above)

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import spectralcore as sc
from spectralcore.linalg import chosen_solver
from spectralcore.report.sections.speed import CAPTURE_SAFE, SQRTM  # the report's method lists

BATCHES, SIZES = (1, 16, 64, 256), (32, 64, 128, 256)
QUICK_BATCHES, QUICK_SIZES = (1, 64), (32, 64)
NS_ITERATIONS = 5
EIGH_BASELINE, NS_BASELINE = "eigh autograd (baseline)", f"plain Newton–Schulz ×{NS_ITERATIONS} (baseline)"
MPA = SQRTM["mpa + lyapunov"]

console = Console()
if not console.is_terminal:  # piped or logged: wide enough that no row wraps
    console = Console(width=150)


def eigh_backwards() -> list[str]:
    """Every registered eigh backward (built-in and installed plugins)."""
    return sorted(info.name for info in sc.methods() if info.kind == "eigh-backward")


def covariances(batch: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A batch of well-conditioned float32 sample covariances and a random cotangent."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, n, 2 * n), dtype=np.float32)
    a = x @ x.transpose(0, 2, 1) / (2 * n)
    a = (a + a.transpose(0, 2, 1)) / 2 + 1e-3 * np.eye(n, dtype=np.float32)
    return a, rng.standard_normal(a.shape, dtype=np.float32)


class Timing(NamedTuple):
    ms: float  # median of the timed runs
    min_ms: float  # fastest timed run (robust to other load on the machine)
    first_s: float  # the first (untimed) call: JIT / torch.compile compilation, CUDA-graph capture not included


def measure(
    steps: dict[str, Callable[[], Any]],
    sync: Callable[[], None],
    repeats: int,
    warmup: int,
    min_warmup: dict[str, int] | None = None,
) -> dict[str, Timing | str]:
    """Warm every step up (`warmup` runs, the first one timed as 'first call'), then time them
    round-robin — repeat r runs every step once — so that a burst of other load on the machine
    hits all methods alike instead of one method's whole sample. The device is synchronised
    before and after every timed run. A step that raises is reported by its error."""
    results: dict[str, Timing | str] = {}
    live: dict[str, tuple[Callable, float]] = {}
    for name, step in steps.items():
        try:
            sync()
            start = time.perf_counter()
            step()
            sync()
            first = time.perf_counter() - start
            for _ in range(max(warmup, (min_warmup or {}).get(name, 0)) - 1):
                step()
            sync()
            live[name] = (step, first)
        except Exception as error:  # noqa: BLE001 - a failing method is reported, not fatal
            results[name] = short(error)
    samples: dict[str, list[float]] = {name: [] for name in live}
    for _ in range(repeats):
        for name in list(live):
            try:
                start = time.perf_counter()
                live[name][0]()
                sync()
                samples[name].append(time.perf_counter() - start)
            except Exception as error:  # noqa: BLE001
                results[name] = short(error)
                del live[name]
    for name, (_, first) in live.items():
        results[name] = Timing(1e3 * statistics.median(samples[name]), 1e3 * min(samples[name]), first)
    return {name: results[name] for name in steps}


def short(error: BaseException) -> str:
    """The error and what it was raised during (torch.cuda.graph's exit can replace the cause)."""
    parts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        parts.append(f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}")
        error = error.__cause__ or error.__context__
    return " <- ".join(parts)


# ------------------------------------------------------------------------------ torch
def torch_cases(eigh_names: list[str]) -> dict[str, Callable]:
    from spectralcore.adapters import torch_timing

    renamed = {
        "torch.linalg.eigh autograd (baseline)": EIGH_BASELINE,
        "plain Newton–Schulz autograd (baseline)": NS_BASELINE,
    }
    cases = torch_timing.methods({f"sqrtm {name}": kw for name, kw in SQRTM.items()}, tuple(eigh_names))
    return {renamed.get(name, name): fn for name, fn in cases.items()}


def run_torch(args, configs, eigh_names) -> Iterator[tuple[tuple[int, int], dict, list[str]]]:
    """Per configuration, as soon as it is measured: ((batch, n), times, notes)."""
    import torch

    from spectralcore.adapters import torch_timing

    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    cases = {k: v for k, v in torch_cases(eigh_names).items() if not skipped(k, args.skip)}
    graphed = [f"sqrtm {name}" for name in CAPTURE_SAFE if f"sqrtm {name}" in cases] if args.cuda_graph else []
    for batch, n in configs:
        notes: list[str] = []
        a, g = covariances(batch, n)
        A, G = torch.asarray(a, device=device), torch.asarray(g, device=device)
        if (batch, n) == configs[0]:
            notes.append(
                f"eigensolver picked by spectralcore.linalg.chosen_solver(A) for these torch inputs "
                f"(float32 on {A.device}): [bold]{chosen_solver(A)}[/bold] "
                "(the eigh autograd baseline always uses torch.linalg.eigh)"
            )
        steps = {name: torch_timing.step(fn, A, G) for name, fn in cases.items()}
        min_warmup, checks, failed = {}, [], {}
        if args.torch_compile:
            name, step, check = compiled_case(A, G)
            steps[name] = step
            min_warmup[name] = 3  # cudagraph trees (reduce-overhead) record on the 2nd / 3rd call
            checks.append(check)
        for method in graphed:
            name = f"{method}, CUDA graph replay"
            try:
                steps[name] = torch_timing.graphed_step(cases[method], A, G)
                checks.append(agreement_check(name, steps[name], steps[method], A))
            except Exception as error:  # noqa: BLE001 - reported in the table and the notes
                failed[name] = "capture failed (see notes)"
                notes.append(f"CUDA graph capture of {method} failed (b={batch}, n={n}): {escape(short(error))}")
                torch.cuda.synchronize()
        times = measure(steps, sync, args.repeats, args.warmup, min_warmup) | failed
        for check in checks:
            notes.append(check(times))
        del A, G, steps
        if device.type == "cuda":
            torch.cuda.empty_cache()
        yield (batch, n), times, notes


def agreement_check(name: str, fast: Callable, eager: Callable, A: Any) -> Callable[[dict], str]:
    """After timing: the largest |gA| difference between the fast step and the eager one."""

    def check(times) -> str:
        where = f"(b={A.shape[0]}, n={A.shape[-1]})"
        if isinstance(times[name], str):
            return f"{name} {where} failed: {escape(times[name])}"
        try:
            diff = float((fast().clone() - eager()).abs().max())
        except Exception as error:  # noqa: BLE001
            return f"{name} {where}: comparison with eager failed: {escape(short(error))}"
        return f"{name} {where}: max |gA − eager gA| = {diff:.2e}, first call {times[name].first_s:.1f} s"

    return check


def compiled_case(A, G) -> tuple[str, Callable, Callable]:
    """sqrtm mpa + lyapunov, forward and backward compiled by torch.compile (AOTAutograd);
    mode="reduce-overhead" (CUDA graphs) on CUDA, the default mode on CPU."""
    import torch

    from spectralcore.adapters import torch_timing

    mode = "reduce-overhead" if A.device.type == "cuda" else "default"
    name = f"sqrtm mpa + lyapunov, torch.compile({mode})"
    torch.compiler.reset()  # a fresh, static-shape compilation per configuration (no recompile limit)
    mpa = lambda X: sc.sqrtm(X, check=False, **MPA)  # noqa: E731
    compiled = torch.compile(
        lambda X, G: torch_timing.loss(mpa(X), G), mode=None if mode == "default" else mode, dynamic=False
    )
    mark = getattr(torch.compiler, "cudagraph_mark_step_begin", None) if mode == "reduce-overhead" else None

    def step():
        if mark is not None:
            mark()
        X = A.clone().requires_grad_()
        compiled(X, G).backward()
        return X.grad

    return name, step, agreement_check(name, step, torch_timing.step(mpa, A, G), A)


# ------------------------------------------------------------------------------ JAX
def jax_device(kind: str):
    import jax

    if kind == "cpu":
        return jax.devices("cpu")[0]
    try:
        return jax.devices("gpu")[0]
    except RuntimeError as error:
        raise RuntimeError(f"JAX has no GPU backend ({error}); install jax[cuda12] or use --framework torch") from error


def jax_cases(eigh_names: list[str]) -> dict[str, Callable]:
    from spectralcore.adapters import jax_timing

    renamed = {
        "jnp.linalg.eigh autograd (baseline)": EIGH_BASELINE,
        "plain Newton–Schulz autodiff (baseline)": NS_BASELINE,
    }
    cases = jax_timing.methods({f"sqrtm {name}": kw for name, kw in SQRTM.items()}, tuple(eigh_names))
    return {renamed.get(name, name): fn for name, fn in cases.items()}


def run_jax(args, configs, eigh_names) -> Iterator[tuple[tuple[int, int], dict, list[str]]]:
    """Per configuration, as soon as it is measured: ((batch, n), times, notes)."""
    import jax

    from spectralcore.adapters import jax_timing

    dev = jax_device(args.device)
    cases = {k: v for k, v in jax_cases(eigh_names).items() if not skipped(k, args.skip)}
    notes = [
        f"JAX device {dev}; jax.jit(jax.grad(loss)) per method and configuration (value checks are "
        "skipped while tracing); 'first call s' is the compilation"
    ]
    for batch, n in configs:
        a, g = covariances(batch, n)
        A, G = jax.device_put(a, dev), jax.device_put(g, dev)  # committed: jit runs on `dev`
        steps = {name: jax_timing.step(fn, A, G) for name, fn in cases.items()}
        yield (batch, n), measure(steps, lambda: None, args.repeats, args.warmup), notes
        notes = []


# ------------------------------------------------------------------------------ output
def skipped(name: str, skip: list[str]) -> bool:
    return any(s in name for s in skip) and EIGH_BASELINE != name and NS_BASELINE != name


def print_table(title: str, rows: list, notes: list[str]) -> None:
    table = Table(title=title, title_justify="left")
    for header in (
        "batch",
        "n",
        "method",
        "ms (median)",
        "min ms",
        "× faster than eigh autograd",
        "× vs plain NS",
        "first call s",
    ):
        table.add_column(header, justify="left" if header == "method" else "right")
    for index, ((batch, n), times) in enumerate(rows):
        base, ns = times.get(EIGH_BASELINE), times.get(NS_BASELINE)
        for name, value in times.items():
            label = f"[bold]{name}[/bold]" if name in (EIGH_BASELINE, NS_BASELINE) else name
            if isinstance(value, str):
                table.add_row(str(batch), str(n), label, f"[red]{escape(value[:100])}[/red]", "", "", "", "")
                continue

            def ratio(ref: Any, value: Timing = value) -> str:
                return f"{ref.ms / value.ms:.2f}×" if isinstance(ref, Timing) else "—"

            table.add_row(
                str(batch),
                str(n),
                label,
                f"{value.ms:.2f}",
                f"{value.min_ms:.2f}",
                ratio(base),
                ratio(ns),
                f"{value.first_s:.2f}",
            )
        if index < len(rows) - 1:
            table.add_section()
    console.print(table)
    for note in notes:
        console.print(f"  • {note}")
    console.print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, action="append", help=f"batch size (repeatable; default {BATCHES})")
    parser.add_argument("--n", type=int, action="append", help=f"matrix size (repeatable; default {SIZES})")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeats", type=int, default=11, help="timed runs per entry (median)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (≥ 1; JIT compiles in the first)")
    parser.add_argument("--framework", choices=("torch", "jax", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help=f"batch {QUICK_BATCHES} × n {QUICK_SIZES}")
    parser.add_argument(
        "--torch-compile",
        action="store_true",
        help="also time sqrtm mpa+lyapunov under torch.compile (reduce-overhead on cuda)",
    )
    parser.add_argument(
        "--cuda-graph",
        action="store_true",
        help="(cuda) also time every capture-safe method (mpa, mtp, newton-schulz) captured in a CUDA graph",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="TEXT",
        help="leave out methods whose name contains TEXT (repeatable), e.g. power-iteration",
    )
    args = parser.parse_args(argv)
    args.warmup = max(args.warmup, 1)
    batches = args.batch or (QUICK_BATCHES if args.quick else BATCHES)
    sizes = args.n or (QUICK_SIZES if args.quick else SIZES)
    configs = [(b, n) for b in batches for n in sizes]

    if args.framework in ("torch", "both"):
        try:  # torch before spectralcore's registry loads the adapters: the autograd.Function then
            import torch  # exists before torch.compile traces (see README)
        except ImportError:
            console.print("[red]torch is not installed: torch table skipped[/red]")
            args.framework = "jax" if args.framework == "both" else "none"
    if args.device == "cuda":  # JAX would otherwise grab 75% of the GPU that torch also uses
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    eigh_names = eigh_backwards()

    if args.cuda_graph and args.device != "cuda":
        console.print("[yellow]--cuda-graph needs --device cuda: ignored[/yellow]")
        args.cuda_graph = False
    console.print(
        f"[bold]spectralcore scaling[/bold]: forward + backward, float32, {args.device}, "
        f"median of {args.repeats} round-robin runs after {args.warmup} warm-up run(s), check=False; "
        f"configs (batch, n) = {configs}; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}"
    )

    if args.framework in ("torch", "both"):
        import torch

        if args.device == "cuda" and not torch.cuda.is_available():
            console.print("[red]torch: CUDA is not available — torch table skipped[/red]")
        else:
            info = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
            if args.device == "cuda":
                info = (
                    f"torch {torch.__version__}, {torch.cuda.get_device_name()}, "
                    f"TF32 matmul {'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}"
                )
            for (batch, n), times, notes in run_torch(args, configs, eigh_names):
                print_table(f"torch autograd ({info}), batch {batch}, n {n}", [((batch, n), times)], notes)
            if args.device == "cuda":
                torch.cuda.empty_cache()  # hand the cached blocks back before JAX allocates

    if args.framework in ("jax", "both"):
        try:
            import jax

            precision = jax.config.jax_default_matmul_precision or "highest (spectralcore's default)"
            for (batch, n), times, notes in run_jax(args, configs, eigh_names):
                print_table(
                    f"JAX jit(grad) (jax {jax.__version__}, matmul precision {precision}), batch {batch}, n {n}",
                    [((batch, n), times)],
                    notes,
                )
        except (ImportError, RuntimeError) as error:
            console.print(f"[red]JAX table skipped: {escape(str(error))}[/red]")


if __name__ == "__main__":
    main()
