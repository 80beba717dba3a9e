"""benchmarks/choosing.py, the generator of docs/choosing.md: its references against central
differences, its measurements (quick mode) against the methods' documented and claimed
behaviour, the rule, the README-marker update and the committed page."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import spectralcore as sc
from reference import fd_gradient, rel_err

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
SUITE_BOUND = 1e12  # spectralcore.conformance.BOUND: what a method claiming "bounded" promises


@pytest.fixture(scope="module")
def choosing():
    """benchmarks/choosing.py imported by path (benchmarks/ is not a package; it imports scaling.py
    beside it)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("choosing", BENCHMARKS / "choosing.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["choosing"] = module  # dataclasses resolve the module's annotations through sys.modules
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))
        sys.modules.pop("choosing", None)


@pytest.fixture(scope="module")
def guide(choosing):
    """Every use case measured in quick mode, on one torch thread (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield choosing.evaluate(choosing.USE_CASES, choosing.QUICK)
    finally:
        torch.set_num_threads(threads)


def case(choosing, key):
    return next(c for c in choosing.USE_CASES if c.key == key)


def rows(guide, key):
    return {row.config.label: row for row in guide.tables[key]}


def methods_of(row) -> list:
    """The MethodInfo of a configuration's forward and backward (an eigh backward through the
    square root's eigenvector path where no square-root backward has the name)."""
    table = {(info.kind, info.name): info for info in sc.methods()}
    options = row.config.options
    if "forward" not in options:  # sc.eigh with the eigh forward
        return [table["eigh-forward", "eigh"], table["eigh-backward", options["backward"]]]
    backward = table.get(("sqrtm-backward", options["backward"])) or table["eigh-backward", options["backward"]]
    return [table["sqrtm-forward", options["forward"]], backward]


def claimed(row) -> float | None:
    """The accuracy a configuration claims: the loosest of its methods' (None if one opts out)."""
    claims = [info.accuracy for info in methods_of(row)]
    return None if None in claims else max(claims)


# ------------------------------------------------------------------------------ references
def wct_value(choosing, C, B, G):
    return np.sum(G * (choosing.reference.power(B, 0.5) @ choosing.reference.power(C, -0.5)))


@pytest.mark.parametrize(
    "key, which",
    [("pca", "separated"), ("pca", "ties"), ("wct", "separated"), ("wct", "ties")]
    + [("eigenvalues", "separated"), ("eigenvalues", "ties"), ("eigenvectors", "separated")],
)
def test_reference_gradients_match_central_differences(choosing, key, which):
    """The script's closed-form references (and the conformance ones it combines) against central
    differences of the loss computed with NumPy's eigh, where the loss is differentiable."""
    use = case(choosing, key)
    A = choosing.inputs(use, which, 0)[0]
    G = choosing.cotangent(A)

    def loss(X):
        w, V = np.linalg.eigh(X)
        if key == "pca":
            U = V[:, -choosing.KEPT :]
            return np.sum(G * (U @ U.T))
        if key == "eigenvalues":
            return np.sum(np.log1p(w))
        return np.sum(V * (G @ V) * choosing.weights(len(w)))

    if key == "wct":
        expected = np.stack(
            [
                fd_gradient(lambda C: wct_value(choosing, C, A[1], G), A[0]),
                fd_gradient(lambda B: wct_value(choosing, A[0], B, G), A[1]),
            ]
        )
    else:
        expected = fd_gradient(loss, A)
    assert rel_err(use.gradient(A, G), expected) < 1e-7


# ------------------------------------------------------------------------------ measurements
def test_exact_configurations_are_exact_on_separated_input(guide):
    """The baseline and every configuration whose methods all claim "exact": float64 error ≤ 1e-10."""
    checked = 0
    for key, table in guide.tables.items():
        for row in table:
            if row.config.options is None or all("exact" in info.claims for info in methods_of(row)):
                assert row.separated.error <= 1e-10, (key, row.config.label, row.separated.error)
                checked += 1
    assert checked >= 15


def test_errors_within_claimed_accuracy(guide):
    """Every default-option configuration's separated-input error is within the accuracy its
    methods claim (Method.claimed_accuracy, through sc.methods()); opted-out methods are skipped."""
    checked = 0
    for key, table in guide.tables.items():
        for row in table[1:]:
            if set(row.config.options) - {"forward", "backward"}:
                continue  # options away from the defaults: the claim is about the defaults
            claim = claimed(row)
            if claim is not None:
                assert row.separated.error <= claim, (key, row.config.label, row.separated.error, claim)
                checked += 1
    assert checked >= 20


def test_exact_eigh_backward_blows_up_at_ties_and_bounded_methods_do_not(guide):
    """The eigenvector loss at a tie: the exact backward is non-finite or huge; every eigh backward
    claiming "bounded" (taylor among them) stays finite within the conformance bound, in float32
    and float64."""
    table = rows(guide, "eigenvectors")
    assert table["exact"].ties.nonfinite or table["exact"].ties.size > SUITE_BOUND
    bounded = [info.name for info in sc.methods("eigh-backward") if "bounded" in info.claims]
    assert "taylor" in bounded
    for name in bounded:
        assert not table[name].ties.nonfinite and table[name].ties.size <= SUITE_BOUND, name
    assert table["taylor"].ties.bounded  # within the rule's stricter bound too


def test_differentiable_losses_at_ties(guide):
    """Where the loss is differentiable at a tie, the documented exact methods are exact there: the
    eigenbasis square-root backward, and degenerate-safe for eigenvalue and eigenspace losses."""
    assert rows(guide, "pooling")["eigh + exact"].ties.error <= 1e-10
    assert rows(guide, "zca")["eigh + exact"].ties.error <= 1e-10
    for key in ("pca", "eigenvalues"):
        assert rows(guide, key)["degenerate-safe"].ties.error <= 1e-10, key


def test_singular_input(guide):
    """invsqrtm of a singular covariance raises under check=True; the iterative square roots stay
    bounded there, the eigenbasis (exact) square-root backward does not."""
    for row in guide.tables["zca"][1:]:
        assert row.zeros.raised == "SpectralError", row.config.label
    pooling = rows(guide, "pooling")
    assert pooling["eigh + exact"].zeros.nonfinite
    assert pooling["mpa + lyapunov"].zeros.bounded and not pooling["mpa + lyapunov"].zeros.nonfinite


def test_recommendation_follows_the_rule(guide, choosing):
    """Qualifying configurations come first: those within NOISE of the fastest by their rule
    errors (largest first), then by time; the others follow by the number of rule parts missed."""
    for use in choosing.USE_CASES:
        ranked = guide.ranking(use)
        missed = [len(row.failures(use)) for row in ranked]
        assert missed == sorted(missed)
        qualifying = [row for row in ranked if not row.failures(use)]
        if qualifying:
            fastest = min(row.ms for row in qualifying)
            band = [row for row in qualifying if row.ms <= (1 + choosing.NOISE) * fastest]
            largest = [max(float(f"{e:.0e}") for e in row.errors(use).values()) for row in qualifying[: len(band)]]
            assert {id(row) for row in qualifying[: len(band)]} == {id(row) for row in band}
            assert largest == sorted(largest)
            assert all(row.failures(use) == [] and max(row.errors(use).values()) <= choosing.TOL for row in band)
        best, runner_up = choosing.picks(guide, use)
        assert choosing.call(use, ranked[0]) in best and choosing.call(use, ranked[1]) in runner_up
        assert best.startswith("none meets the rule") == bool(ranked[0].failures(use))
    assert "unbounded (ties)" in rows(guide, "eigenvectors")["exact"].failures(case(choosing, "eigenvectors"))


def test_h200_rows_are_parsed_from_the_committed_file(choosing):
    """Every row of the H200 table at batch 64, n = 64 (wrapped method names joined) with its median."""
    source, times = choosing.h200_times(choosing.H200, 64, 64)
    assert "H200" in source
    expected = [choosing.H200_BASELINE] + [f"sqrtm {label}" for label in choosing.SQRTM]
    expected += [f"eigh, {name} backward" for name in ("exact", "taylor", "pade")]
    assert set(expected) <= set(times)
    assert "sqrtm mpa + lyapunov, torch.compile(reduce-overhead)" in times
    text = choosing.H200.read_text(encoding="utf-8")
    for name in expected:
        assert re.search(rf"│\s+64 │\s+64 │ {re.escape(name)}\s+│\s+{times[name]:.2f} │", text), name


# ------------------------------------------------------------------------------ outputs
def test_readme_update_replaces_only_the_marked_text(guide, choosing, tmp_path):
    """On a copy of README.md with the markers: only the marked text changes, it lists every use
    case's recommendation, and a second update gives the same file."""
    before, after = "# title\n\ntext before\n\n", "\n\n## after\n\nmore text\n"
    path = tmp_path / "README.md"
    readme = (ROOT / "README.md").read_text(encoding="utf-8").replace(choosing.START, "").replace(choosing.END, "")
    path.write_text(before + f"{choosing.START}\nold summary\n{choosing.END}" + after + readme, encoding="utf-8")
    choosing.update_readme(path, choosing.summary(guide))
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(choosing.START)
    marked, tail = rest.split(choosing.END)
    assert head == before and tail == after + readme and "old summary" not in marked
    for use in choosing.USE_CASES:
        assert f"* {use.title} → {choosing.picks(guide, use)[0]}" in marked
    choosing.update_readme(path, choosing.summary(guide))
    assert path.read_text(encoding="utf-8") == text
    path.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="choosing:start"):
        choosing.update_readme(path, "x")


def test_main_prints_the_page_and_updates_the_readme(guide, choosing, tmp_path, monkeypatch, capsys):
    """main --quick --readme PATH: prints the page naming its command, rewrites PATH's section and
    leaves docs/choosing.md alone (no --write)."""
    monkeypatch.setattr(choosing, "evaluate", lambda cases, settings: guide)
    committed = choosing.PAGE.read_bytes()
    path = tmp_path / "README.md"
    path.write_text(f"a\n{choosing.START}\n{choosing.END}\nb\n", encoding="utf-8")
    threads = torch.get_num_threads()
    try:
        choosing.main(["--quick", "--readme", str(path)])
    finally:
        torch.set_num_threads(threads)
    page = capsys.readouterr().out
    assert "Generated by `python benchmarks/choosing.py --write --quick`" in page
    assert all(f"## {use.title}" in page for use in choosing.USE_CASES)
    assert "A loss on eigenvectors →" in path.read_text(encoding="utf-8")
    assert choosing.PAGE.read_bytes() == committed


def test_committed_page_is_generated(choosing):
    """docs/choosing.md names the command that generates it, has every use case, and no python
    block (the docs test suite would run it)."""
    page = (ROOT / "docs" / "choosing.md").read_text(encoding="utf-8")
    assert re.search(r"Generated by `python benchmarks/choosing\.py --write[^`]*`", page)
    assert all(f"## {use.title}" in page for use in choosing.USE_CASES)
    assert "```python" not in page


def test_readme_has_the_generated_summary(choosing):
    """README's marked section is the script's summary: one line per use case, naming the page."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    marked = readme.split(choosing.START)[1].split(choosing.END)[0]
    assert "python benchmarks/choosing.py --write --readme README.md" in marked
    for use in choosing.USE_CASES:
        assert f"* {use.title} → " in marked


def test_ridge_hint_names_exactly_the_configurations_failing_only_at_zero(guide, choosing):
    for case in choosing.USE_CASES:
        if case.key not in guide.tables:
            continue
        ranked = guide.ranking(case)
        hint = choosing.only_zeros(guide, case)
        near = [row for row in ranked if row.failures(case) == ["unbounded (zero eigenvalues)"]]
        if not ranked[0].failures(case) or not near:
            assert hint == "", case.key
        else:
            assert all(f"`{row.config.label}`" in hint for row in near) and "ridge" in hint, case.key
    # whitening and colouring: d√λ is infinite at the singular style covariance's zero eigenvalues
    assert "ridge" in choosing.only_zeros(guide, next(c for c in choosing.USE_CASES if c.pair))
