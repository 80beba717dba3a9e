"""The degenerate-input fuzzer: its inputs are what it says, the bounded methods survive a
seeded slice of it on NumPy, torch and JAX, and a planted failure is found, saved and replayed."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

import spectralcore as sc
from spectralcore import conformance
from spectralcore.conformance import fuzzing


@pytest.mark.parametrize("family", fuzzing.FAMILIES)
def test_each_family_is_a_degenerate_psd_matrix(family):
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 64):
        a = fuzzing.case(rng, n, family)
        w = np.linalg.eigvalsh(a)
        assert a.shape == (n, n) and np.array_equal(a, a.T)
        assert w[-1] > 0 and w[0] >= -1e-12 * w[-1]  # PSD, never the zero matrix
        assert 10.0**-fuzzing.DECADES / 64 <= w[-1] <= 10.0**fuzzing.DECADES * 64
        if n == 64:
            rel = np.diff(w) / w[-1]
            if family in ("ties", "near-ties", "clusters"):
                assert np.min(rel) < 1e-3  # some pair closer than 1e-3 λmax
            if family in ("zeros", "fewer samples", "one sample", "dead channels"):
                assert w[0] <= 1e-12 * w[-1]  # singular


def test_invsqrtm_gets_positive_definite_families_only():
    families = {family for family, _ in fuzzing.batches(0, 2000, "invsqrtm")}
    assert families <= set(fuzzing.POSITIVE) and len(families) == len(fuzzing.POSITIVE)
    sizes = {A.shape[-1] for _, A in fuzzing.batches(0, 2000, "sqrtm")}
    assert 1 in sizes and 64 in sizes


def test_seeded_and_batched():
    first = [A for _, A in fuzzing.batches(7, 100, "eigh")]
    again = [A for _, A in fuzzing.batches(7, 100, "eigh")]
    assert sum(A.shape[0] for A in first) == 100
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


@pytest.mark.parametrize("backend,cases", [("numpy", 256), ("torch", 128), ("jax", 32)])
def test_bounded_methods_survive_a_seeded_slice(backend, cases, tmp_path):
    pytest.importorskip(backend)
    methods = None if backend != "jax" else ["taylor", "clip", "degenerate-safe", "lorentzian"]  # PI: slow eager JAX
    report = conformance.fuzz(methods, cases=cases, seed=11, backends=[backend], devices=["cpu"], save_dir=tmp_path)
    assert report.passed, "\n".join(str(r) for r in report.results if not r.passed)
    assert {r.op for r in report.results} == {"eigh", "sqrtm", "invsqrtm"}
    assert all(r.cases == cases for r in report.results)


@dataclasses.dataclass(frozen=True)
class InfAtZero(sc.methods.Taylor):
    """Bounded at ties, infinite at a zero eigenvalue (its eigenvalue gradient divides by λ)."""

    name = "inf-at-zero"

    def vjp(self, xp, A, w, V, gw, gV):
        return super().vjp(xp, A, w, V, None if gw is None else gw / w, gV)


def test_a_planted_failure_is_found_saved_and_replayed(tmp_path):
    report = conformance.fuzz(InfAtZero(), cases=64, backends=["numpy"], dtypes=["float64"], save_dir=tmp_path)
    failed = {r.op: r for r in report.results if not r.passed}
    assert {"eigh", "sqrtm"} <= set(failed) and "invsqrtm" not in failed  # no zero eigenvalue reaches invsqrtm
    r = failed["eigh"]
    assert r.nonfinite + r.over_bound > 0 and "FAILED: fuzz" in str(r) and r.saved in str(r)
    saved = np.load(r.saved)
    assert str(saved["method"]) == "inf-at-zero" and np.linalg.eigvalsh(saved["A"])[0] < 1e-9
    with pytest.raises(ValueError, match="no registered method 'inf-at-zero'"):  # not registered: replay needs it
        conformance.replay(r.saved)
    sc.register(type("P", (), {"spectralcore_eigh_backward": sc.hookimpl(lambda self: [InfAtZero])})(), name="planted")
    try:
        assert (
            not np.all(np.isfinite(conformance.replay(r.saved)))
            or np.linalg.norm(conformance.replay(r.saved)) > conformance.BOUND
        )
    finally:
        sc.registry.REGISTRY.unregister(sc.registry.REGISTRY.manager.get_plugin("planted"))


def test_nothing_to_fuzz_is_an_error():
    with pytest.raises(ValueError, match="claims 'bounded'"):
        conformance.fuzz("exact", kind="eigh-backward")


def test_cli_fuzz(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "spectralcore",
            "conformance",
            "--method",
            "taylor",
            "--backend",
            "numpy",
            "--dtype",
            "float64",
            "--fuzz",
            "64",
            "--fuzz-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "degenerate-input fuzzing" in out.stdout and "float32" not in out.stdout


def test_scales_span_the_relative_range():
    """The bound is relative, so the fuzzer draws scales over 10^±8, not 10^±3."""
    top = np.log10([np.linalg.eigvalsh(a)[-1] for _, A in fuzzing.batches(5, 2000, "invsqrtm") for a in A])
    assert top.min() < -7 and top.max() > 7
