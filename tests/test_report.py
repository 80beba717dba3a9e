"""`spectralcore report` in quick mode: every section runs, writes its plots, every number it
states holds its stated tolerance (the exit code is 0 only then), and the warnings it provokes on
purpose are stated in the report instead of printed."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("tabulate")


SILENT_BY_DEFAULT = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def test_quick_report(tmp_path, capsys, recwarn):
    from spectralcore.cli import main
    from spectralcore.report import SECTIONS

    assert main(["report", "--out", str(tmp_path)]) == 0, capsys.readouterr().out
    escaped = [f"{w.category.__name__}: {w.message}" for w in recwarn if not issubclass(w.category, SILENT_BY_DEFAULT)]
    assert escaped == []  # recwarn records every warning ("always"); these would reach the terminal
    text = (tmp_path / "report.md").read_text()
    for title in (
        "1. TPAMI 2021",
        "2. ICCV 2021 Table 6",
        "3. ICLR 2022",
        "4. NeurIPS 2019 Table 1",
        "5. Speed",
        "6. Degenerate-input fuzzing",
        "7. Accuracy against the condition number",
    ):
        assert f"## {title}" in text
    for png in ("gradient_vs_gap.png", "iterative_errors.png", "speed.png"):
        assert (tmp_path / png).stat().st_size > 10_000
        assert f"]({png})" in text
    assert len(SECTIONS) == 7
    assert "of 12 stated claims hold" in text and "12 of 12" in text
    for title, provoked in (("3. ICLR 2022", "sqrtm (forward 'mtp'): relative residual"), ("7. Accuracy", "invsqrtm")):
        section = text[text.index(f"## {title}") :].split("\n## ")[0]
        assert "*Warned on purpose:*" in section and provoked in section, title
    out = capsys.readouterr().out
    assert "report written to" in out


def test_claims_are_checked(tmp_path):
    """Each section's claims, run separately (the report's own contract)."""
    from spectralcore.report import Config, build

    sections = build(Config(tmp_path), sections=("proposition", "pade_table", "power_iterations", "fuzzing"))
    claims = {c.name: c for s in sections for c in s.claims}
    assert claims["proposition: max relative difference per eigenvector"].measured < 1e-12
    assert claims["Padé coefficients are P = 1, Q = 1 − x exactly (0 = yes)"].measured == 0
    assert claims["measured minimum iterations that differ from the formula"].measured == 0
    fuzzed = next(c for name, c in claims.items() if name.startswith("fuzzed cases"))
    assert fuzzed.measured == 0 and "of 3840)" in fuzzed.name  # 5 bounded methods × 3 ops × 2 dtypes × 128
    assert all(c.holds for c in claims.values())


def test_cuda_report_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible")
    from spectralcore.cli import main

    assert main(["report", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "sees no CUDA device" in capsys.readouterr().out
    assert not (tmp_path / "report.md").exists()


def test_conditioning_section_against_an_independent_reference(tmp_path):
    """Section 7's matrices have the stated spectrum, and its error for the eigh forward is
    rounding while the iterative ones degrade with κ (the table's point)."""
    import numpy as np

    from spectralcore.report import Config, build
    from spectralcore.report.sections.conditioning import geometric

    a = geometric(8, 1e4)
    np.testing.assert_allclose(np.linalg.eigvalsh(a), np.sort(1e4 ** (-np.arange(8) / 7)), rtol=1e-10)
    (section,) = build(Config(tmp_path), sections=("conditioning",))
    assert section.claims[0].holds and section.claims[0].measured < 1e-12
    text = section.markdown()
    row = next(line for line in text.splitlines() if line.startswith("| invsqrtm | mtp           | float64"))
    errors = [float(v) for v in row.strip("|").split("|")[3:]]
    assert errors == sorted(errors) and errors[0] < 0.1 < errors[-1]
