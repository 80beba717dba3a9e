"""The "Choosing a method" guide, generated from measurements: for each use case (global covariance
pooling, ZCA whitening, whitening-and-colouring, PCA denoising, a loss on eigenvalues, a loss on
eigenvectors) every candidate configuration's gradient error on separated input, behaviour at
ties and zero eigenvalues, accuracy against the condition number, torch CPU time (measured now)
and H200 time (read from benchmarks/results/h200/scaling_torch.txt), and the configuration a
stated rule recommends.

    python benchmarks/choosing.py                     # print the page (about a minute on 2 cores)
    python benchmarks/choosing.py --write             # regenerate docs/choosing.md
    python benchmarks/choosing.py --readme README.md  # rewrite the README's marked summary
    python benchmarks/choosing.py --quick             # smaller timing size, fewer runs

Gradients come from torch autograd through spectralcore's adapter (check=False) and are compared
with float64 NumPy references written independently of spectralcore (conformance/reference.py
and the closed forms below). Times are scaling.py's round-robin medians (`measure`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS (see scaling.py)

import numpy as np
import torch  # before spectralcore: the adapter's autograd.Function then exists (README)
from scaling import Timing, covariances, measure  # benchmarks/scaling.py, beside this file

import spectralcore as sc
from spectralcore.conformance import BOUND as SUITE_BOUND
from spectralcore.conformance import reference
from spectralcore.conformance.cases import SEPARATED, Case, Cotangent, rank_deficient, with_spectrum
from spectralcore.conformance.checks import rel
from spectralcore.report.sections.conditioning import geometric
from spectralcore.report.sections.speed import SQRTM

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "choosing.md"
H200 = Path(__file__).resolve().parent / "results" / "h200" / "scaling_torch.txt"
START, END = "<!-- choosing:start -->", "<!-- choosing:end -->"

CONDITIONS = (1e2, 1e4, 1e6)
DTYPES = {"float64": torch.float64, "float32": torch.float32}
TOL = 0.1  # the rule's accuracy threshold (relative error)
RULE_CONDITION = 1e2  # the condition number at which the rule asks for TOL in float32
BOUND = 1e6  # the rule's bound on ‖gA‖/‖G‖ (the conformance suite's, 1e12, only guards against overflow)
KEPT = 2  # PCA keeps the top KEPT eigenvectors
NOISE = 0.2  # CPU medians within 20 % of the fastest count as equally fast (a shared machine)
SLOW_S = 1.0  # a step slower than this is timed once, not `repeats` times
FULL = {"batch": 64, "n": 64, "repeats": 7, "kappa_n": 32}
QUICK = {"batch": 16, "n": 32, "repeats": 3, "kappa_n": 16}
BASELINE = "torch.linalg.eigh autograd (baseline)"
H200_BASELINE = "eigh autograd (baseline)"  # its row in the H200 file

TIES = (  # the top pair tied, so PCA's top-2 projector is defined
    Case("ties", with_spectrum([0.5, 1.0, 2.0, 3.0, 3.0])),  # equal up to rounding: a rotated spectrum
    Case("exact ties", np.diag([3.0, 0.5, 3.0, 1.0, 2.0])),  # bitwise equal: a diagonal matrix
)
ZEROS = Case("zeros", rank_deficient(n=5, rank=2))  # 2 samples in 5 channels: three zero eigenvalues


# ------------------------------------------------------------------------------ configurations
@dataclasses.dataclass(frozen=True)
class Config:
    """A candidate: spectralcore with ``options``, or (``options`` None) torch.linalg.eigh autograd."""

    label: str
    options: dict[str, Any] | None
    check: bool = False

    @property
    def exact(self) -> bool:
        """Whether every method it names claims "exact" (unnamed ones are the exact defaults)."""
        named = [(role, name) for role, name in (self.options or {}).items() if role in ("forward", "backward")]
        exact = {(info.kind.split("-")[1], info.name) for info in sc.methods() if "exact" in info.claims}
        return all(pair in exact for pair in named)

    @property
    def default(self) -> bool:
        """Whether it is the op's default: the eigh forward and the exact backward."""
        options = self.options or {}
        return options.get("forward", "eigh") == "eigh" and options.get("backward", "exact") == "exact"

    def eigh(self, X: torch.Tensor) -> Any:
        return torch.linalg.eigh(X) if self.options is None else sc.eigh(X, check=self.check, **self.options)

    def power(self, X: torch.Tensor, p: float) -> torch.Tensor:
        """X^p for p = ±1/2: sc.sqrtm / sc.invsqrtm, or V diag(max(λ, 0)^p) Vᵀ by torch autograd."""
        if self.options is None:
            w, V = torch.linalg.eigh(X)
            return (V * w.clamp_min(0).pow(p)[..., None, :]) @ V.mT
        op = sc.sqrtm if p > 0 else sc.invsqrtm
        return op(X, check=self.check, **self.options)


def sqrtm_configs(eigh_only: bool = False) -> list[Config]:
    """The report's square-root configurations (benchmarks/scaling.py's rows); ``eigh_only``: the
    eigh forwards."""
    return [Config(name, options) for name, options in SQRTM.items() if not eigh_only or options["forward"] == "eigh"]


def eigh_configs() -> list[Config]:
    """The eigh forward with every registered eigh backward."""
    return [Config(info.name, {"backward": info.name}) for info in sc.methods("eigh-backward")]


# ------------------------------------------------------------------------------ use cases
def weights(n: int) -> np.ndarray:
    """The eigenvector loss's weights c, as the conformance cotangent's (1 … 2)."""
    return Cotangent.for_shape((n, n)).weights


def inner(out: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    return (out * G).sum()


def projector_loss(out: Any, G: torch.Tensor) -> torch.Tensor:
    """⟨G, U Uᵀ⟩, U the top-KEPT eigenvectors: PCA's projection."""
    U = out[1][..., -KEPT:]
    return inner(U @ U.mT, G)


def eigenvector_loss(out: Any, G: torch.Tensor) -> torch.Tensor:
    """Σ c_i v_iᵀ G v_i with the conformance weights c (1 … 2): sign-invariant, and undefined
    at a tie (its value depends on the basis chosen inside the eigenspace)."""
    V = out[1]
    return (V * (G @ V) * torch.asarray(weights(V.shape[-1]), dtype=V.dtype)).sum()


def projector_vjp(A: np.ndarray, G: np.ndarray, kept: int) -> np.ndarray:
    """Gradient of ⟨G, P⟩, P the top-``kept`` eigenprojector, G symmetric: Σ (v_jᵀ G v_i)
    (v_j v_iᵀ + v_i v_jᵀ)/(λi − λj) over kept i and discarded j (first-order perturbation of P;
    defined whenever the kept eigenvalues are apart from the rest, ties among them included)."""
    w, V = np.linalg.eigh(A)
    n = w.size
    inside = np.arange(n) >= n - kept
    across = ~inside[:, None] & inside[None, :]  # row j discarded, column i kept
    C = np.where(across, V.T @ G @ V / np.where(across, w[None, :] - w[:, None], 1.0), 0.0)
    return V @ (C + C.T) @ V.T


def eigenvector_vjp(A: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Gradient of Σ c_i v_iᵀ G v_i: the analytic eigh gradient with gw = 0, gV = 2 G V diag(c)."""
    V = np.linalg.eigh(A)[1]
    return reference.eigh_vjp(A, np.zeros(A.shape[-1]), 2 * (G @ V) * weights(A.shape[-1]))


def wct_vjp(A: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Gradient of ⟨G, B^{1/2} C^{-1/2}⟩ with respect to (C, B) = (A[0], A[1])."""
    S, W = reference.power(A[1], 0.5), reference.power(A[0], -0.5)
    return np.stack([reference.invsqrtm_vjp(A[0], S @ G), reference.sqrtm_vjp(A[1], G @ W)])


def wct(config: Config, X: torch.Tensor) -> torch.Tensor:
    """Whitening and colouring: B^{1/2} C^{-1/2} for the pair X = (C content, B style)."""
    return config.power(X[..., 1, :, :], 0.5) @ config.power(X[..., 0, :, :], -0.5)


@dataclasses.dataclass(frozen=True)
class UseCase:
    key: str
    title: str
    what: str  # the loss, in words
    call: str  # the call, with {} for the options
    forward: Callable[[Config, torch.Tensor], Any]
    loss: Callable[[Any, torch.Tensor], torch.Tensor]
    gradient: Callable[[np.ndarray, np.ndarray], np.ndarray]  # float64 reference gA
    value: Callable[[np.ndarray], np.ndarray] | None  # float64 reference output (forward error)
    configs: Callable[[], list[Config]]
    ties: bool  # the loss is differentiable at a tie (the reference is defined there)
    zeros: str  # "defined", "undefined" (no derivative) or "domain" (outside the op's domain)
    gpu: Callable[[str], str] | None  # this configuration's row in the H200 file (None: not measured)
    pair: bool = False  # the input is a (content, style) pair of matrices


USE_CASES = [
    UseCase(
        "pooling",
        "Global covariance pooling",
        "⟨G, A^{1/2}⟩ for a sample covariance A (`sc.sqrtm`), often rank-deficient (batch smaller than channels)",
        "sc.sqrtm(A, {})",
        lambda c, X: c.power(X, 0.5),
        inner,
        reference.sqrtm_vjp,
        lambda A: reference.power(A, 0.5),
        sqrtm_configs,
        ties=True,
        zeros="undefined",
        gpu=lambda label: f"sqrtm {label}",
    ),
    UseCase(
        "zca",
        "ZCA whitening, decorrelated batch norm",
        "⟨G, A^{-1/2}⟩ (`sc.invsqrtm`)",
        "sc.invsqrtm(A, {})",
        lambda c, X: c.power(X, -0.5),
        inner,
        reference.invsqrtm_vjp,
        lambda A: reference.power(A, -0.5),
        sqrtm_configs,
        ties=True,
        zeros="domain",
        gpu=None,
    ),
    UseCase(
        "wct",
        "Whitening and colouring (style transfer)",
        "⟨G, B^{1/2} C^{-1/2}⟩, gradient with respect to both covariances (`sc.invsqrtm` of the content's C, "
        "`sc.sqrtm` of the style's B), eigh forwards",
        "sc.invsqrtm(C, {0}), sc.sqrtm(B, {0})",
        wct,
        inner,
        wct_vjp,
        lambda A: reference.power(A[1], 0.5) @ reference.power(A[0], -0.5),
        lambda: sqrtm_configs(eigh_only=True),
        ties=True,
        zeros="undefined",
        gpu=None,
        pair=True,
    ),
    UseCase(
        "pca",
        "PCA denoising",
        f"⟨G, U Uᵀ⟩, U the top {KEPT} eigenvectors of `sc.eigh`",
        "sc.eigh(A, {})",
        lambda c, X: c.eigh(X),
        projector_loss,
        lambda A, G: projector_vjp(A, G, KEPT),
        None,
        eigh_configs,
        ties=True,
        zeros="defined",
        gpu=lambda label: f"eigh, {label} backward",
    ),
    UseCase(
        "eigenvalues",
        "A loss on eigenvalues only",
        "Σ log(1 + λi) = log det(I + A) of `sc.eigh`'s eigenvalues (gw only)",
        "sc.eigh(A, {})",
        lambda c, X: c.eigh(X),
        lambda out, G: torch.log1p(out[0]).sum(),
        lambda A, G: np.linalg.inv(np.eye(A.shape[-1]) + A),
        None,
        eigh_configs,
        ties=True,
        zeros="defined",
        gpu=lambda label: f"eigh, {label} backward",
    ),
    UseCase(
        "eigenvectors",
        "A loss on eigenvectors",
        "Σ c_i v_iᵀ G v_i, weights c from 1 to 2, of `sc.eigh`'s eigenvectors (gV)",
        "sc.eigh(A, {})",
        lambda c, X: c.eigh(X),
        eigenvector_loss,
        eigenvector_vjp,
        None,
        eigh_configs,
        ties=False,
        zeros="undefined",
        gpu=lambda label: f"eigh, {label} backward",
    ),
]


# ------------------------------------------------------------------------------ accuracy
@dataclasses.dataclass(frozen=True)
class Outcome:
    """The gradient on one kind of input: its float64 relative error against the reference (the
    worst over the inputs; None where the loss has no derivative), the largest ‖gA‖/‖G‖ over
    inputs and dtypes (inf if not finite), the dtypes with a non-finite gA, and what check=True
    raised (input outside the op's domain)."""

    error: float | None
    size: float
    nonfinite: tuple[str, ...]
    raised: str = ""

    @property
    def bounded(self) -> bool:
        return self.size <= BOUND


def inputs(case: UseCase, which: str | float, n: int) -> list[np.ndarray]:
    """The inputs of a kind: "separated", "ties", "zeros", or a condition number κ (geometric
    spectrum 1 … 1/κ, n × n). A pair stacks (content, style), the style a permuted copy (same
    spectrum, other eigenvectors); with "zeros" only the style covariance is singular."""
    if isinstance(which, float):
        return [np.stack([geometric(n, which, 7), geometric(n, which, 8)]) if case.pair else geometric(n, which)]
    if case.pair and which == "zeros":
        return [np.stack([SEPARATED.matrix, ZEROS.matrix])]
    named = {"separated": (SEPARATED,), "ties": TIES, "zeros": (ZEROS,)}[which]
    return [np.stack([c.matrix, c.matrix[::-1, ::-1]]) if case.pair else c.matrix for c in named]


def cotangent(A: np.ndarray) -> np.ndarray:
    """The seeded symmetric G of the conformance suite, n × n."""
    return Cotangent.for_shape(A.shape[-2:]).G


@functools.cache
def references(case: UseCase, which: str | float, n: int) -> list[tuple[np.ndarray, Any, Any]]:
    """Per input of a kind: (A, the float64 reference gA or None where the loss has no
    derivative, the reference output or None)."""
    defined = {"ties": case.ties, "zeros": case.zeros == "defined"}.get(str(which), True)
    with np.errstate(all="ignore"):  # the reference output A^{-1/2} of a singular A is inf
        return [
            (
                A,
                case.gradient(A, cotangent(A)) if defined else None,
                case.value(A) if case.value is not None else None,
            )
            for A in inputs(case, which, n)
        ]


def gradient(case: UseCase, config: Config, A: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(gA, the forward output or None) in float64, by torch autograd in ``dtype``."""
    X = torch.tensor(A, dtype=DTYPES[dtype], requires_grad=True)
    out = case.forward(config, X)
    with np.errstate(all="ignore"):
        case.loss(out, torch.tensor(cotangent(A), dtype=X.dtype)).backward()
    value = out.detach().double().numpy() if case.value is not None else None
    return X.grad.double().numpy(), value


def outcome(case: UseCase, config: Config, which: str) -> Outcome:
    """The gradients on the inputs of one kind, in float64 and float32."""
    raised = ""
    if which == "zeros" and case.zeros == "domain" and config.options is not None:
        try:
            case.forward(dataclasses.replace(config, check=True), torch.tensor(inputs(case, "zeros", 0)[0]))
        except sc.SpectralError as error:
            raised = type(error).__name__
    errors, sizes, nonfinite = [], [], set()
    for A, exact, _ in references(case, which, 0):
        for dtype in DTYPES:
            gA = gradient(case, config, A, dtype)[0]
            finite = bool(np.all(np.isfinite(gA)))
            nonfinite |= set() if finite else {dtype}
            sizes.append(float(np.linalg.norm(gA) / np.linalg.norm(cotangent(A))) if finite else np.inf)
            if dtype == "float64" and exact is not None:
                errors.append(rel(gA, exact))
    return Outcome(max(errors) if errors else None, max(sizes), tuple(sorted(nonfinite)), raised)


def conditioning(case: UseCase, config: Config, n: int) -> dict[tuple[str, str, float], float]:
    """(quantity, dtype, κ) → relative error on an n × n geometric spectrum 1 … 1/κ; quantity
    "gradient", and "forward" where the use case has a matrix output."""
    errors = {}
    for condition in CONDITIONS:
        [(A, exact, value)] = references(case, condition, n)
        for dtype in DTYPES:
            gA, got = gradient(case, config, A, dtype)
            errors["gradient", dtype, condition] = rel(gA, exact)
            if got is not None:
                errors["forward", dtype, condition] = rel(got, value)
    return errors


# ------------------------------------------------------------------------------ time
def timings(
    case: UseCase, configs: list[Config], batch_size: int, n: int, repeats: int
) -> dict[str, tuple[Timing | str, int]]:
    """Forward + backward of the loss, float32 torch CPU eager, on a batch of sample covariances
    (scaling.py's), per configuration label: (the median of ``repeats`` round-robin runs, or of
    one run for a step slower than SLOW_S, or the error a step raised; the number of runs)."""
    a, g = covariances(batch_size, n)
    if case.pair:
        a = np.stack([a, covariances(batch_size, n, seed=1)[0]], axis=1)
    A, G = torch.asarray(a), torch.asarray(g)

    def step(config: Config) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            X = A.clone().requires_grad_()
            case.loss(case.forward(config, X), G).backward()
            return X.grad

        return run

    steps = {config.label: step(config) for config in configs}
    once = measure(steps, lambda: None, repeats=1, warmup=1)  # also the warm-up of the fast ones
    fast = {k: v for k, v in steps.items() if isinstance(once[k], Timing) and once[k].ms < 1e3 * SLOW_S}
    again = measure(fast, lambda: None, repeats, warmup=1)
    return {k: (again[k], repeats) if k in again else (once[k], 1) for k in steps}


def h200_times(path: Path, batch_size: int, n: int) -> tuple[str, dict[str, float]]:
    """(how the file was measured, method row → median ms at (batch, n)) from scaling.py's saved
    output; rows whose method name wrapped onto a second line are joined."""
    text = path.read_text(encoding="utf-8")
    runs = re.search(r"median of \d+ round-robin runs", text)
    machine = re.search(r"^torch autograd \((.*)\)", text, re.MULTILINE)
    source = "; ".join(m.group(1 if m is machine else 0) for m in (machine, runs) if m is not None)
    rows: list[list[Any]] = []  # [batch, n, method, ms]
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]] if line.startswith("│") else []
        if cells and cells[0].isdigit() and re.fullmatch(r"[0-9.]+", cells[3]):
            rows.append([int(cells[0]), int(cells[1]), cells[2], float(cells[3])])
        elif cells and not cells[0] and cells[2] and rows:
            rows[-1][2] += f" {cells[2]}"
    return source, {name: ms for b, size, name, ms in rows if (b, size) == (batch_size, n)}


# ------------------------------------------------------------------------------ the guide
@dataclasses.dataclass(frozen=True)
class Row:
    """Every measurement of one configuration in one use case."""

    config: Config
    separated: Outcome
    ties: Outcome
    zeros: Outcome
    kappa: dict[tuple[str, str, float], float]
    cpu: Timing | str  # an error message where the step raised
    runs: int  # timed runs behind `cpu`
    gpu: float | None  # H200 median ms from the committed file

    @property
    def ms(self) -> float:
        """The CPU median (inf where the step failed)."""
        return self.cpu.ms if isinstance(self.cpu, Timing) else np.inf

    def checked(self, case: UseCase) -> list[tuple[str, Outcome]]:
        """The inputs the rule asks a bounded gradient on (singular ones where the op is defined)."""
        named = [("separated input", self.separated), ("ties", self.ties)]
        return named + ([] if case.zeros == "domain" else [("zero eigenvalues", self.zeros)])

    def errors(self, case: UseCase) -> dict[str, float]:
        """The errors the rule bounds by TOL: float64 where the loss is differentiable, float32 at
        κ = RULE_CONDITION."""
        errors = {name: result.error for name, result in self.checked(case) if result.error is not None}
        for quantity in ("forward", "gradient"):
            if (quantity, "float32", RULE_CONDITION) in self.kappa:
                label = f"float32 {quantity}, κ = {decade(RULE_CONDITION)}"
                errors[label] = self.kappa[quantity, "float32", RULE_CONDITION]
        return errors

    def failures(self, case: UseCase) -> list[str]:
        """The parts of the rule this configuration misses (empty: it qualifies)."""
        missed = [] if isinstance(self.cpu, Timing) else ["not timed"]
        unbounded = [name for name, result in self.checked(case) if not result.bounded]
        missed += [f"unbounded ({name})" for name in unbounded]
        errors = self.errors(case).items()
        return missed + [f"error {sci(e)} ({name})" for name, e in errors if e > TOL and name not in unbounded]


@dataclasses.dataclass(frozen=True)
class Guide:
    """All use cases' rows (the baseline first) and how they were measured."""

    tables: dict[str, list[Row]]
    settings: dict[str, int]
    gpu_source: str  # how the H200 file was measured ("" when it has no rows at this size)
    seconds: float

    def ranking(self, case: UseCase) -> list[Row]:
        """spectralcore configurations in the rule's order: those meeting it within NOISE of the
        fastest of them by their rule errors, then the others meeting it by CPU time, then the rest
        by the number of rule parts missed and CPU time."""
        rows = self.tables[case.key][1:]
        fastest = min((row.ms for row in rows if not row.failures(case)), default=np.inf)

        def key(row: Row) -> tuple[int, int, tuple[float, ...]]:
            missed = len(row.failures(case))
            if not missed and row.ms <= (1 + NOISE) * fastest:  # errors to one digit, largest first
                errors = sorted((float(f"{e:.0e}") for e in row.errors(case).values()), reverse=True)
                return 0, 0, (*errors, not row.config.exact, not row.config.default, row.ms)
            return missed, 1, (row.ms,)

        return sorted(rows, key=key)


def evaluate(cases: list[UseCase], settings: dict[str, int]) -> Guide:
    """Measure every configuration of every use case (the slow part)."""
    start = time.perf_counter()
    source, gpu = h200_times(H200, settings["batch"], settings["n"]) if H200.exists() else ("", {})
    tables = {}
    for case in cases:
        configs = [Config(BASELINE, None), *case.configs()]
        cpu = timings(case, configs, settings["batch"], settings["n"], settings["repeats"])
        tables[case.key] = [
            Row(
                config,
                outcome(case, config, "separated"),
                outcome(case, config, "ties"),
                outcome(case, config, "zeros"),
                conditioning(case, config, settings["kappa_n"]),
                *cpu[config.label],
                None
                if case.gpu is None
                else gpu.get(H200_BASELINE if config.options is None else case.gpu(config.label)),
            )
            for config in configs
        ]
    return Guide(tables, settings, source if gpu else "", time.perf_counter() - start)


# ------------------------------------------------------------------------------ output
def sci(x: float) -> str:
    return "NaN" if np.isnan(x) else "inf" if np.isinf(x) else f"{x:.1e}"


def decade(x: float) -> str:
    """1e4 for 10000.0."""
    return f"1e{round(np.log10(x))}"


def call(case: UseCase, row: Row) -> str:
    """The recommended call, e.g. `sc.sqrtm(A, forward="eigh", backward="pade")`."""
    options = ", ".join(f'{k}="{v}"' for k, v in (row.config.options or {}).items())
    return f"`{case.call.format(options)}`"


def outcome_cell(result: Outcome) -> str:
    """What happened: the error, or for no derivative the gradient's size, or NaN/inf, or the raise."""
    if result.raised:
        rest = "NaN/inf" if result.nonfinite else f"‖gA‖ = {sci(result.size)}‖G‖"
        return f"check=True raises {result.raised}; check=False: {rest}"
    if result.nonfinite:
        return "NaN/inf" + ("" if len(result.nonfinite) == len(DTYPES) else f" ({', '.join(result.nonfinite)})")
    if not result.bounded:
        return f"unbounded, ‖gA‖ = {sci(result.size)}‖G‖"
    if result.error is None:
        return f"finite, ‖gA‖ ≤ {sci(result.size)}‖G‖"
    return sci(result.error)


def times(row: Row, base: Row) -> tuple[str, str, str, str]:
    """(CPU ms, × faster than the baseline on CPU, H200 ms, × faster on the H200)."""
    if isinstance(row.cpu, Timing):
        cpu = f"{row.cpu.ms:.1f}" + (" (1 run)" if row.runs == 1 else "")
        ratio = f"{base.cpu.ms / row.cpu.ms:.2f}×" if isinstance(base.cpu, Timing) else "—"
    else:
        cpu, ratio = f"failed: {row.cpu[:60]}", "—"
    if row.gpu is None:
        return cpu, ratio, "not measured", "—"
    return cpu, ratio, f"{row.gpu:.2f}", f"{base.gpu / row.gpu:.2f}×" if base.gpu else "—"


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def picks(guide: Guide, case: UseCase) -> tuple[str, str]:
    """(recommended, runner-up) as text: a call, with the rule parts it misses if any."""
    ranked = guide.ranking(case)

    def text(row: Row) -> str:
        missed = row.failures(case)
        return call(case, row) + (f" (misses the rule: {'; '.join(missed)})" if missed else "")

    best = text(ranked[0]) if not ranked[0].failures(case) else "none meets the rule; closest: " + text(ranked[0])
    return best, text(ranked[1]) if len(ranked) > 1 else "—"


def only_zeros(guide: Guide, case: UseCase) -> str:
    """Where nothing meets the rule: the configurations whose only miss is the zero-eigenvalue
    input, which a ridge A + εI (what whitening-and-colouring implementations add) keeps away."""
    ranked = guide.ranking(case)
    if not ranked or not ranked[0].failures(case):
        return ""
    near = [row for row in ranked if row.failures(case) == ["unbounded (zero eigenvalues)"]]
    if not near:
        return ""
    calls = ", ".join(f"`{row.config.label}`" for row in near)
    verb = "misses" if len(near) == 1 else "miss"
    return (
        f"{calls} {verb} the rule only on the zero-eigenvalue input: with a ridge A + εI, which keeps "
        "every eigenvalue at least ε, that input does not arise."
    )


def section(guide: Guide, case: UseCase) -> str:
    """One use case: the decision table, the recommendation, the table against κ."""
    rows = guide.tables[case.key]
    base = rows[0]
    zeros = "zero eigenvalues" + (" (outside the domain)" if case.zeros == "domain" else "")
    decision = [
        [f"**{row.config.label}**" if row is base else row.config.label]
        + [outcome_cell(row.separated), outcome_cell(row.ties), outcome_cell(row.zeros)]
        + list(times(row, base))
        + ["baseline" if row is base else "; ".join(row.failures(case)) or "✓"]
        for row in rows
    ]
    headers = ["configuration", "gradient error, separated", "ties", zeros, "CPU ms", "× faster (CPU)"]
    headers += ["H200 ms", "× faster (H200)", "rule"]
    best, runner_up = picks(guide, case)
    quantities = ["forward"] * (case.value is not None) + ["gradient"]
    kappa = [
        [row.config.label, dtype]
        + [sci(row.kappa[quantity, dtype, condition]) for quantity in quantities for condition in CONDITIONS]
        for row in rows
        for dtype in DTYPES
    ]
    kappa_headers = [f"{q} κ = {decade(c)}" for q in quantities for c in CONDITIONS]
    ties_note = (
        "differentiable" if case.ties else "not differentiable (its value depends on the basis of the eigenspace)"
    )
    zeros_note = {
        "defined": "differentiable",
        "undefined": "not differentiable, so only boundedness is measured",
        "domain": "outside the op's domain",
    }[case.zeros]
    return "\n\n".join(
        [
            f"## {case.title}",
            f"Loss: {case.what}. At ties the loss is {ties_note}; at zero eigenvalues it is {zeros_note}.",
            table(headers, decision),
            f"**Recommended: {best}.** Runner-up: {runner_up}."
            + (f" {hint}" if (hint := only_zeros(guide, case)) else ""),
            f"Accuracy against the condition number (n = {guide.settings['kappa_n']}, relative errors):",
            table(["configuration", "dtype", *kappa_headers], kappa),
        ]
    )


def summary(guide: Guide) -> str:
    """The README's short version: use case → recommended; runner-up (one line each)."""
    lines = [
        "Measured recommendations (the rule and every number: [docs/choosing.md](docs/choosing.md); "
        "regenerate with `python benchmarks/choosing.py --write --readme README.md`):",
        "",
    ]
    for case in USE_CASES:
        if case.key in guide.tables:
            best, runner_up = picks(guide, case)
            ridge = " (a ridge A + εI keeps away the only input it fails)" if only_zeros(guide, case) else ""
            lines.append(f"* {case.title} → {best}{ridge}; runner-up {runner_up}")
    return "\n".join(lines)


def update_readme(path: Path, text: str) -> None:
    """Replace what lies between the START and END marker comments of ``path`` by ``text``."""
    old = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if len(pattern.findall(old)) != 1:
        raise SystemExit(f"{path}: expected one {START} … {END} section, found {len(pattern.findall(old))}")
    path.write_text(pattern.sub(lambda _: f"{START}\n{text}\n{END}", old), encoding="utf-8")


def render(guide: Guide, command: str) -> str:
    """The whole page (Markdown)."""
    s = guide.settings
    separated = ", ".join(f"{x:g}" for x in np.linalg.eigvalsh(SEPARATED.matrix))
    tied = ", ".join(f"{x:g}" for x in np.linalg.eigvalsh(TIES[1].matrix))
    gpu_source = (
        f"`{H200.relative_to(ROOT)}` (`benchmarks/scaling.py --device cuda`: {guide.gpu_source})"
        if guide.gpu_source
        else f"`{H200.relative_to(ROOT)}`, which has no rows at this size"
    )
    zeros = np.sort(np.abs(np.linalg.eigvalsh(ZEROS.matrix)))[:3]
    stricter = " and ".join(decade(c) for c in CONDITIONS if c > RULE_CONDITION)
    cases = [case for case in USE_CASES if case.key in guide.tables]
    recommendations = table(["use case", "recommended", "runner-up"], [[c.title, *picks(guide, c)] for c in cases])
    head = f"""# Choosing a method

Generated by `{command}` on {datetime.date.today()} (torch {torch.__version__}, \
{torch.get_num_threads()} torch CPU thread(s), {platform.machine()} {platform.system()}; the \
measurements took {guide.seconds:.0f} s). Do not edit this page by hand: change \
`benchmarks/choosing.py` and rerun it from the repository's root:

```bash
python benchmarks/choosing.py --write --readme README.md  # this page and the README's summary
```

Which forward and backward to use for each training use case, decided by a stated rule from \
measured numbers: the gradient's error on well-separated input, what happens at repeated and at \
zero eigenvalues, the accuracy against the condition number, and the time of a forward + backward \
step. Every number below comes from the run named above, except the H200 columns.

## Recommendations

{recommendations}

## The rule

A spectralcore configuration qualifies when

1. **its gradient is bounded** — finite, with ‖gA‖ ≤ {decade(BOUND)}·‖G‖, in float32 and \
float64, on the separated input, on both tie inputs and, where the op is defined on singular \
input, on the zero-eigenvalue input (the conformance suite's "bounded" claim allows \
{decade(SUITE_BOUND)}·‖G‖, which only rules out overflow; a gradient {decade(BOUND)} times its \
cotangent already swamps a training step);
2. **its gradient is accurate** — the float64 relative error is at most {TOL:g} on the separated \
input, and on the tie and zero-eigenvalue inputs wherever the loss is differentiable there; and \
the float32 forward and gradient errors are at most {TOL:g} at κ = {decade(RULE_CONDITION)}.

Among those that qualify, those within {100 * NOISE:g} % of the fastest CPU median of this run count \
as equally fast (the timing noise of a shared machine), and of these the most accurate is \
recommended: the smallest errors of part 2, compared largest first and to one significant digit, \
equal errors going to the configuration whose methods all claim exactness, then to the op's \
default (eigh forward, exact backward), then to the faster; the runner-up is the next in that order, then the other \
qualifying ones by time. Where fewer than two qualify, the others follow by the number of rule \
parts they miss, then by time, and the page says what they miss. The baseline, torch.linalg.eigh's own \
autograd, is there for comparison and is never recommended. A {TOL:g} threshold asks for a \
gradient within {100 * TOL:g} % of the exact one (the conformance suite asks every method only to \
point within 60° of it); the tables also give κ = {stricter} for stricter needs. The H200 ranking \
can differ from the CPU one: compare the two columns.

## How each number is measured

* **configuration**: the forward and backward passed to spectralcore, every option at its \
default. The square-root configurations are those of `spectralcore report` and \
`benchmarks/scaling.py` (the rows of the H200 file); the eigh ones pair the eigh forward with every \
registered eigh backward (`sc.methods("eigh-backward")`). The baseline computes the same loss with \
`torch.linalg.eigh` and torch's autograd (square roots as V diag(max(λ, 0)^±½) Vᵀ).
* **gradient error, separated**: ‖gA − gA*‖_F / ‖gA*‖_F in float64. gA is torch autograd through \
spectralcore's adapter (`check=False`); gA* is a float64 NumPy reference written independently of \
spectralcore: the eigenbasis solve of S X + X S = G for the square root and its inverse \
(`conformance/reference.py`), the analytic eigh gradient for the eigenvector loss, (I + A)⁻¹ for \
log det(I + A), and the first-order perturbation of the eigenprojector for PCA \
(`benchmarks/choosing.py`). The input is the conformance suite's separated 5 × 5 matrix \
(eigenvalues {separated}; the input each method's claimed accuracy refers to) with the suite's \
seeded symmetric cotangent G; whitening and colouring takes it and a permuted copy as the \
(content, style) pair.
* **ties**: two 5 × 5 inputs with eigenvalues {tied}: rotated by a random orthogonal matrix (the \
tied pair comes out equal up to rounding, as in floating-point data) and diagonal (bitwise equal). \
The cell shows the worse of the two: the float64 error where the loss is differentiable at a tie, \
otherwise "finite" and the largest ‖gA‖/‖G‖; "NaN/inf" when a gradient is not finite (naming the \
dtype when only one of float32 and float64 is affected). PCA keeps the top {KEPT} eigenvectors: \
exactly the tied eigenspace, so its projector is differentiable.
* **zero eigenvalues**: a sample covariance of 2 samples in 5 channels (three zero eigenvalues, \
computed as {sci(zeros.max())} or less in magnitude), the covariance-pooling situation of a batch \
smaller than the channels. Where the loss has no derivative there (the square root's is infinite; \
the eigenvector loss meets a threefold tie) the cell says only whether the gradient is bounded, \
and its largest ‖gA‖/‖G‖. In whitening and colouring the style covariance is singular \
and the content's is not. The inverse square root is undefined there: the cell says what \
`check=True` (the default) does and what the gradient is with `check=False`.
* **accuracy against the condition number**: A = Q diag(κ^(−i/(n−1))) Qᵀ, n = {s["kappa_n"]} (the \
report's `geometric` spectra), relative errors of the output (forward) and of the gradient against \
the float64 reference, computed in float64 and in float32. The eigh use cases share one forward \
(eigh), so only their gradients are listed.
* **CPU ms**: one forward + backward of the loss on a batch of {s["batch"]} sample covariances of \
{s["n"]} × {s["n"]} (`covariances` in `benchmarks/scaling.py`), float32, torch eager on the CPU, \
`check=False`, the median of {s["repeats"]} round-robin runs after warm-up runs (`measure` in \
`benchmarks/scaling.py`); a step slower than {SLOW_S:g} s is timed once ("1 run"). **× faster**: the \
baseline's median over the configuration's, from the same run (above 1: faster than the \
baseline).
* **H200 ms**: not measured by this run, read from {gpu_source}, at the same batch and size. \
Covariance pooling uses the file's `sqrtm` rows (the same loss ⟨G, S⟩); the eigh use cases use its \
`eigh, … backward` rows, which time the loss Σλ + ⟨G, V⟩ (both cotangents) rather than this \
page's losses, with the same eigh forward and backward methods; × faster is against the file's \
square root by torch.linalg.eigh autograd. On CUDA spectralcore's eigh forward used CuPy's batched \
solver (`spectralcore.linalg.chosen_solver`), the baseline torch's own. "not measured": the file \
has no such row (`invsqrtm`, whitening and colouring, the power-iteration backward).

## Caveats

* The CPU times come from a machine shared with other jobs, with {torch.get_num_threads()} torch \
thread(s): they are noisy, which is why the rule takes medians within {100 * NOISE:g} % as equal; \
a configuration just outside that band may fall inside it on another run. Rerun the script on \
your machine before trusting a close call.
* The tie and zero inputs are 5 × 5 and the κ inputs {s["kappa_n"]} × {s["kappa_n"]}; the \
iterative methods' errors grow with κ at their default degree or iteration count (section 7 of \
`spectralcore report` lists the degree or iteration count each target accuracy needs).
* A bounded gradient at zero eigenvalues is what keeps training finite, not a correct number: the \
exact derivative of the square root is infinite there.
* The rule's threshold ({TOL:g}), bound ({decade(BOUND)}) and κ ({decade(RULE_CONDITION)}) are judgements; every \
column is on the page so that a different rule can be applied by reading it.
"""
    return head + "\n" + "\n\n".join(section(guide, case) for case in cases) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write the page to {PAGE.relative_to(ROOT)}")
    parser.add_argument("--readme", type=Path, metavar="PATH", help=f"rewrite PATH's {START} … {END} section")
    parser.add_argument("--quick", action="store_true", help="time a smaller batch, fewer runs, n = 16 for κ")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: a quieter timing)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    guide = evaluate(USE_CASES, QUICK if args.quick else FULL)
    flags = ["--write"] + ["--quick"] * args.quick + [f"--threads {args.threads}"] * (args.threads != 1)
    page = render(guide, " ".join(["python benchmarks/choosing.py", *flags]))
    print(page)
    if args.write:
        PAGE.parent.mkdir(exist_ok=True)
        PAGE.write_text(page, encoding="utf-8")
    if args.readme:
        update_readme(args.readme, summary(guide))


if __name__ == "__main__":
    main()
