"""docs/plugins.md's walkthrough as a new author runs it: the first example's Cauchy kernel in
``my_pkg/plugin.py`` of a folder outside the checkout, checked from there by the installed
console script (no PYTHONPATH): ``spectralcore conformance --plugin my_pkg.plugin --method cauchy``.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

PLUGIN = textwrap.dedent("""
    import dataclasses

    import spectralcore as sc


    @dataclasses.dataclass(frozen=True)
    class Cauchy(sc.KernelBackward):
        name = "cauchy"
        claims = frozenset({{"bounded", "traceable"}})
        reference = "Cauchy broadening"
        {claim}
        eps: float = 1e-6

        def validate(self):
            self.require(self.eps > 0, "eps", "> 0")

        def kernel(self, xp, w):
            d = w[..., None, :] - w[..., :, None]  # λj − λi
            s = xp.max(xp.abs(w), axis=-1)[..., None, None]  # each matrix's own scale
            return {factor}d / (d * d + self.eps * s * s)


    @sc.hookimpl
    def spectralcore_eigh_backward():
        return [Cauchy]
""")
CLAIM = "accuracy = 1e-4  # measured 2.9e-5 (invsqrtm through the eigenvector path)"


def console_script() -> str:
    """The installed ``spectralcore`` entry point: beside this interpreter, else on PATH."""
    beside = pathlib.Path(sys.executable).with_name("spectralcore")
    found = str(beside) if beside.exists() else shutil.which("spectralcore")
    assert found, "the spectralcore console script is not installed"
    return found


def spectralcore(folder: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [console_script(), *args], cwd=folder, capture_output=True, text=True, env={**env, "COLUMNS": "200"}
    )


def author_folder(tmp_path: pathlib.Path, claim: str = CLAIM, factor: str = "") -> pathlib.Path:
    package = tmp_path / "my_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(PLUGIN.format(claim=claim, factor=factor))
    return tmp_path


CONFORMANCE = ("conformance", "--plugin", "my_pkg.plugin", "--method", "cauchy", "--backend", "numpy")


def test_the_docs_plugin_passes_from_its_authors_folder(tmp_path):
    out = spectralcore(author_folder(tmp_path), *CONFORMANCE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 0 failed" in out.stdout and "cauchy" in out.stdout


def test_a_kernel_ten_percent_off_is_rejected_on_agreement(tmp_path):
    out = spectralcore(author_folder(tmp_path, factor="1.1 * "), *CONFORMANCE)
    assert out.returncode != 0
    assert "FAILED: agreement" in out.stdout, out.stdout + out.stderr


def test_a_plugin_without_a_claim_is_refused_with_the_way_to_find_one(tmp_path):
    out = spectralcore(author_folder(tmp_path, claim=""), "methods", "--plugin", "my_pkg.plugin")
    assert out.returncode == 2 and out.stdout == ""
    assert "eigh-backward method 'cauchy' (Cauchy) declares neither `accuracy` nor `accuracy_opt_out`" in out.stderr
    assert "spectralcore conformance --plugin my_pkg.plugin --method cauchy" in out.stderr


def test_the_command_the_refusal_names_measures_and_suggests_the_claim(tmp_path):
    """`spectralcore conformance --plugin ...` loads the unclaimed method to measure it: its agreement
    checks fail, the run suggests a value, and the plugin declaring that value passes."""
    out = spectralcore(author_folder(tmp_path / "unclaimed", claim=""), *CONFORMANCE)
    assert out.returncode == 1, out.stdout + out.stderr
    found = re.search(r"suggests declaring\s+`accuracy = ([0-9.e+-]+)`", out.stdout)
    assert found, out.stdout
    declared = spectralcore(author_folder(tmp_path / "declared", claim=f"accuracy = {found[1]}"), *CONFORMANCE)
    assert declared.returncode == 0 and " 0 failed" in declared.stdout, declared.stdout
