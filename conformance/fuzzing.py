"""Seeded degenerate-input fuzzing of the ``bounded`` claim, in every op that uses the method.

Each case is a symmetric positive semidefinite n × n matrix (n from 1 to 64) of one family:
exact ties, clusters and near-ties (relative gaps 1e-3 … 1e-14), zero eigenvalues, sample
covariances of fewer samples than channels, with dead (all-zero) channels or of one sample,
each scaled by 10^u, u uniform in [−8, 8] (:data:`DECADES`, float32 and float64 alike: the
bound is relative, and float32's range holds the gradients of every op there, up to
c^{−3/2} = 1e12 for the inverse root; past 10^±16 its squares overflow). ``invsqrtm`` gets
the positive definite families only (it is infinite on singular input). Cases of one size and
family run as one batch. The all-zero matrix is left out: the square root's derivative there is
infinite and has no scale to bound it by.

A case fails when gA is not finite or ‖gA‖_F s^{1−p} > BOUND ‖cotangent‖_F, the conformance
suite's bound in units of A (``checks.units_ratio``: s = max|λ| of each matrix, p the op's
degree, eigh's eigenvalue cotangent gw/s). The first failing case of each (op, method,
backend, dtype) is saved as ``.npz`` (matrix, cotangent, how to call it) and :func:`replay`
runs it again.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from .backends import Backend, available
from .cases import Cotangent, orthogonal, spectral_scale
from .checks import BOUND, units_ratio
from .runner import DTYPES, MethodSelection, subjects
from .subject import Op, Subject

SIZES = (1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64)
FAMILIES = ("ties", "clusters", "near-ties", "zeros", "fewer samples", "dead channels", "one sample")
POSITIVE = ("ties", "clusters", "near-ties")
BATCH = 32
DECADES = 8  # scales 10^U(−8, 8)


def _spectrum(rng: np.random.Generator, n: int, family: str) -> np.ndarray:
    """Eigenvalues in (0, 1] (zeros for 'zeros') with the family's degeneracy."""
    base = rng.uniform(0.1, 1.0, n)
    if family == "ties":  # a few distinct values, each repeated
        base = rng.choice(rng.uniform(0.1, 1.0, max(1, n // 3)), n)
    elif family in ("clusters", "near-ties"):  # groups of eigenvalues within a relative gap
        gap = 10.0 ** rng.uniform(-14, -3)
        centres = rng.choice(rng.uniform(0.1, 1.0, max(1, n // 4)), n)
        spread = gap * (rng.standard_normal(n) if family == "clusters" else np.arange(n) % 2)
        base = centres * (1 + spread)
    elif family == "zeros":  # some exact zeros, never all: the zero matrix has no scale (see module doc)
        base[1:][rng.random(n - 1) < rng.uniform(0.2, 0.8)] = 0.0
    return base


def case(rng: np.random.Generator, n: int, family: str) -> np.ndarray:
    """One symmetric positive semidefinite matrix of ``family``, scaled by 10^U(−8, 8)."""
    scale = 10.0 ** rng.uniform(-DECADES, DECADES)
    if family in ("fewer samples", "dead channels", "one sample"):
        samples = 1 if family == "one sample" else int(rng.integers(1, max(2, n)))
        if family == "dead channels":
            samples = 2 * n
        x = rng.standard_normal((n, samples))
        if family == "dead channels":  # never all of them
            x[1:][rng.random(n - 1) < rng.uniform(0.1, 0.5)] = 0.0
        a = x @ x.T / samples
    else:
        q = orthogonal(rng, n)
        a = (q * _spectrum(rng, n, family)) @ q.T
    return scale * (a + a.T) / 2


def batches(seed: int, cases: int, op: str) -> Iterator[tuple[str, np.ndarray]]:
    """(family, matrices of shape (b, n, n)) until ``cases`` matrices have been produced."""
    rng = np.random.default_rng(seed)
    families = POSITIVE if op == "invsqrtm" else FAMILIES
    done = 0
    while done < cases:
        n, family = int(rng.choice(SIZES)), str(rng.choice(families))
        size = min(BATCH, cases - done)
        yield family, np.stack([case(rng, n, family) for _ in range(size)])
        done += size


@dataclasses.dataclass
class FuzzResult:
    """One (op, method, backend, dtype): cases tried, failing ones, the worst ratio, where the
    first failure was saved."""

    kind: str
    method: str
    op: str
    backend: str
    device: str
    dtype: str
    cases: int = 0
    nonfinite: int = 0
    over_bound: int = 0
    worst_ratio: float = 0.0
    seconds: float = 0.0
    saved: str = ""

    @property
    def passed(self) -> bool:
        return self.nonfinite == 0 and self.over_bound == 0

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        where = f"; first failure saved to {self.saved}" if self.saved else ""
        return (
            f"{verdict}: fuzz — {self.kind} '{self.method}' in {self.op} on {self.backend}/{self.device} "
            f"{self.dtype}: {self.cases} cases, {self.nonfinite} non-finite, {self.over_bound} over "
            f"{BOUND:g}, worst ‖gA‖ s^(1−p)/‖cotangent‖ {self.worst_ratio:.3g}{where}"
        )


@dataclasses.dataclass
class FuzzReport:
    results: list[FuzzResult]

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def to_json(self) -> str:
        return json.dumps(
            {"passed": self.passed, "results": [dataclasses.asdict(r) for r in self.results]}, indent=1, default=float
        )


def _save(path: pathlib.Path, s: Subject, op: Op, b: Backend, dtype: str, A: np.ndarray, cot: Cotangent) -> str:
    path.mkdir(parents=True, exist_ok=True)
    file = path / f"fuzz-{s.method.name}-{op.name}-{b.name}-{b.device}-{dtype}.npz"
    np.savez(
        file, A=A, G=cot.G, gw=cot.gw, weights=cot.weights, kind=s.kind, method=s.method.name, op=op.name, dtype=dtype
    )
    return str(file)


def fuzz_one(
    s: Subject, op: Op, b: Backend, dtype: str, cases: int, seed: int, save_dir: pathlib.Path | None
) -> FuzzResult:
    """``cases`` seeded degenerate inputs through one op of one method on one backend and dtype."""
    result = FuzzResult(s.kind, s.method.name, op.name, b.name, b.device, dtype)
    start = time.perf_counter()
    for k, (_, A) in enumerate(batches(seed, cases, op.name)):
        scale = spectral_scale(A)
        cot = Cotangent.for_shape(A.shape, seed + k).in_units(scale)
        ratio = units_ratio(s.run(op, b, A, dtype, cot).gA, cot.G, scale, op.degree)
        finite = np.isfinite(ratio)
        bad = ~finite | (ratio > BOUND)
        result.cases += A.shape[0]
        result.nonfinite += int(np.sum(~finite))
        result.over_bound += int(np.sum(finite & (ratio > BOUND)))
        result.worst_ratio = max(result.worst_ratio, float(np.max(np.where(finite, ratio, 0.0))))
        if bad.any() and not result.saved and save_dir is not None:
            i = int(np.argmax(bad))
            result.saved = _save(save_dir, s, op, b, dtype, A[i], Cotangent(cot.G[i], cot.gw[i], cot.weights))
    result.seconds = time.perf_counter() - start
    return result


def fuzz(
    method: MethodSelection = None,
    *,
    kind: str | None = None,
    cases: int = 1000,
    seed: int = 0,
    backends: list[str] | None = None,
    devices: list[str] | None = None,
    dtypes: Iterable[str] = DTYPES,
    save_dir: str | pathlib.Path | None = "spectralcore-fuzz",
    progress: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Fuzz the ``bounded`` claim of the selected methods (default: every registered method
    that claims it) with ``cases`` seeded degenerate inputs per op, backend, device and dtype."""
    chosen = [s for s in subjects(method, kind) if "bounded" in type(s.method).claims]
    if not chosen:
        raise ValueError(f"no selected method claims 'bounded' (selected: {method!r}); nothing to fuzz")
    where = None if save_dir is None else pathlib.Path(save_dir)
    results = []
    for s in chosen:
        for b in available(backends, devices):
            for op in s.ops:
                for dtype in dtypes:
                    if progress:
                        progress(f"fuzz {s.label} · {op.label} · {b} · {dtype}")
                    results.append(fuzz_one(s, op, b, dtype, cases, seed, where))
    return FuzzReport(results)


def replay(path: str | pathlib.Path, backend: str = "numpy", device: str | None = None) -> np.ndarray:
    """gA of a saved failing case, recomputed (float64 NumPy array) on ``backend``."""
    data = np.load(path)
    s = subjects(str(data["method"]), str(data["kind"]))[0]
    op = next(o for o in s.ops if o.name == str(data["op"]))
    b = next(available([backend], None if device is None else [device]))
    cot = Cotangent(data["G"], data["gw"], data["weights"])
    return s.run(op, b, data["A"], str(data["dtype"]), cot).gA
