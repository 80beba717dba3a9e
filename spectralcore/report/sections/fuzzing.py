"""Section 6 — degenerate-input fuzzing: every eigh backward that claims ``bounded``, in eigh,
sqrtm and invsqrtm (the eigenvector path), on seeded ties, clusters, near-ties, zero
eigenvalues and rank-deficient covariances (``spectralcore.conformance.fuzz``)."""

from __future__ import annotations

import importlib.util

from ...conformance import BOUND, fuzz
from ..section import Config, Section


def run(cfg: Config) -> Section:
    s = Section("6. Degenerate-input fuzzing of the bounded claim")
    cases = 128 if cfg.quick else 2000
    backends = ["numpy"] + ([] if cfg.quick or importlib.util.find_spec("torch") is None else ["torch"])
    report = fuzz(cases=cases, backends=backends, save_dir=cfg.out / "fuzz-failures")
    rows = [
        [r.method, r.op, f"{r.backend}/{r.device}", r.dtype, r.cases, r.nonfinite, r.over_bound, r.worst_ratio]
        for r in report.results
    ]
    s.table(
        ["method", "op", "backend", "dtype", "cases", "non-finite", f"‖gA‖ > {BOUND:g}‖g‖", "worst ‖gA‖/‖g‖"],
        rows,
        ".2g",
    )
    s.text(
        f"{cases} seeded cases per row (seed 0), n from 1 to 64, batches of 32: exact ties, clusters and "
        "near-ties (relative gaps 1e-3 … 1e-14), zero eigenvalues, covariances of fewer samples than "
        "channels, of one sample and with dead channels, scaled by 10^±3 (invsqrtm: the positive definite "
        "families only). `spectralcore conformance --fuzz N` runs the same on every installed backend "
        "and saves the first failing input of each row for `spectralcore.conformance.replay`."
    )
    failing = sum(r.nonfinite + r.over_bound for r in report.results)
    s.claim(
        f"fuzzed cases with a non-finite or unbounded gradient (of {sum(r.cases for r in report.results)})",
        float(failing),
        0.0,
    )
    return s
