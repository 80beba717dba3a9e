"""The command line a plugin author uses: --version, methods --kind/--json in 80 columns,
--plugin for a package that is not installed (CLI and pytest), one-line errors, and a
selection that selects nothing."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import spectralcore as sc
from spectralcore.method_table import markdown_table

PLUGIN = textwrap.dedent("""
    import dataclasses, spectralcore as sc

    @dataclasses.dataclass(frozen=True)
    class Softer(sc.KernelBackward):
        name = "softer"
        claims = frozenset({"bounded", "traceable"})
        accuracy = 1e-4  # measured 2.9e-5
        eps: float = 1e-6

        def kernel(self, xp, w):  # broadening relative to max|λ|: units-free, as the suite checks
            s = xp.max(xp.abs(w), axis=-1)[..., None, None]
            d = (w[..., None, :] - w[..., :, None]) / s
            return d / (d * d + self.eps) / s

    @sc.hookimpl
    def spectralcore_eigh_backward():
        return [Softer]
""")


def cli(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spectralcore", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
    )


def test_version():
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"spectralcore {sc.__version__}"


def test_methods_kind_json_and_80_columns():
    out = cli("methods", "--kind", "sqrtm-backward", "--json")
    data = json.loads(out.stdout)
    assert {d["name"] for d in data} == {i.name for i in sc.methods("sqrtm-backward")}
    assert all(d["kind"] == "sqrtm-backward" and "accuracy" in d and "claims" in d for d in data)
    table = cli("methods").stdout
    assert max(len(line) for line in table.splitlines()) <= 80
    for info in sc.methods():
        assert info.name in table
    assert "opted out" in table  # topn


@pytest.fixture
def plugin_dir(tmp_path):
    (tmp_path / "my_softer.py").write_text(PLUGIN)
    return tmp_path


def test_plugin_that_is_not_installed(plugin_dir):
    env = {"PYTHONPATH": str(plugin_dir)}
    listed = cli("methods", "--plugin", "my_softer", "--kind", "eigh-backward", cwd=plugin_dir, env=env)
    assert listed.returncode == 0 and "softer" in listed.stdout and "source" in listed.stdout
    checked = cli(
        "conformance",
        "--plugin",
        "my_softer",
        "--method",
        "softer",
        "--backend",
        "numpy",
        "--dtype",
        "float64",
        cwd=plugin_dir,
        env=env,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "softer" in checked.stdout and " 0 failed" in checked.stdout
    pytested = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--spectralcore-conformance",
            "--sc-plugin",
            "my_softer",
            "--sc-method",
            "softer",
            "--sc-backend",
            "numpy",
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=plugin_dir,
        env={**os.environ, **env},
    )
    assert pytested.returncode == 0 and "passed" in pytested.stdout, pytested.stdout[-2000:]


@pytest.mark.parametrize(
    "args,message",
    [
        (("conformance", "--method", "nope"), "no registered method 'nope'"),
        (("conformance", "--backend", "tensorflow"), "unknown backend"),
        (("methods", "--plugin", "no_such_module"), "cannot import 'no_such_module'"),
        (("methods", "--plugin", "spectralcore.plugins.taylor"), "already registered"),
        (
            ("conformance", "--method", "exact", "--kind", "eigh-backward", "--backend", "numpy", "--fuzz", "8"),
            "claims 'bounded'",
        ),
    ],
)
def test_errors_are_one_line(args, message, tmp_path):
    out = cli(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and message in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_a_selection_of_nothing_says_why(tmp_path):
    out = cli("conformance", "--backend", "numpy", "--device", "cuda", cwd=tmp_path)
    assert out.returncode == 2 and "nothing to run" in out.stdout and "numpy" in out.stdout


def test_readme_methods_table_is_the_registry(tmp_path):
    """README's Methods table is `spectralcore methods --markdown` (built-in methods), verbatim."""
    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    start, end = "<!-- methods:start (generated: spectralcore methods --markdown) -->\n", "<!-- methods:end -->"
    table = readme[readme.index(start) + len(start) : readme.index(end)]
    builtin = [i for i in sc.methods() if i.source.startswith("spectralcore.")]
    assert table == markdown_table(builtin) + "\n", "regenerate README's table with `spectralcore methods --markdown`"
    assert table.splitlines()[0].startswith("| kind | name |") and len(table.splitlines()) == 2 + len(builtin) > 10
    if len(builtin) == len(sc.methods()):  # no third-party plugin installed: the command prints exactly this
        out = cli("methods", "--markdown", cwd=tmp_path)
        assert out.returncode == 0 and out.stdout == table


def test_methods_state_their_matrix_products():
    """`--json` and the table of one kind give each iterative method's products at its defaults
    (tests/test_kernel_budget.py checks the numbers against torch's count)."""
    data = {d["name"]: d for d in json.loads(cli("methods", "--kind", "sqrtm-backward", "--json").stdout)}
    assert data["lyapunov"]["products"] == 47 and data["newton-schulz"]["products"] == 24
    assert data["exact"]["products"] is None
    table = cli("methods", "--kind", "sqrtm-forward").stdout
    mpa = next(line for line in table.splitlines() if "│ mpa " in line)
    assert mpa.rstrip(" │").endswith("8"), mpa
