"""The documented import names exist, from an install and from the checkout's root alike."""

from __future__ import annotations

import importlib.metadata
import json
import os
import pathlib
import re
import subprocess
import sys
import sysconfig

import pytest

NAMES = [
    "spectralcore",
    "spectralcore.plugins.taylor",
    "spectralcore.plugins.lyapunov",
    "spectralcore.adapters.array_api",
    "spectralcore.conformance",
]
ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_names_import_from_checkout_root():
    code = "import importlib, sys; [importlib.import_module(n) for n in sys.argv[1:]]; print('ok')"
    out = subprocess.run([sys.executable, "-c", code, *NAMES], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cli = subprocess.run([sys.executable, "-m", "spectralcore", "methods"], cwd=ROOT, capture_output=True, text=True)
    assert cli.returncode == 0 and "taylor" in cli.stdout, cli.stderr


def test_core_imports_no_framework():
    code = (
        "import sys, spectralcore as sc, numpy as np; sc.eigh(np.eye(2)); sc.methods(); "
        "print(sorted(m for m in ('torch', 'jax', 'cupy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_cupy_extra_per_cuda_major_version():
    """CuPy ships one wheel per CUDA major version: each has its extra (the H200 image is CUDA 13)."""
    requires = importlib.metadata.metadata("spectralcore").get_all("Requires-Dist") or []
    for cuda in ("12", "13"):
        assert any(r.startswith(f"cupy-cuda{cuda}x") and f'extra == "cuda{cuda}"' in r for r in requires), requires


def _direct_url() -> dict:
    """The installed distribution's PEP 610 record: how pip installed it (wheel file, directory,
    editable), or {} when it does not say."""
    text = importlib.metadata.distribution("spectralcore").read_text("direct_url.json")
    return json.loads(text) if text else {}


def test_metadata_version_is_the_package_version():
    """One source for the version: pyproject.toml reads spectralcore.__version__ (dynamic)."""
    import spectralcore

    assert importlib.metadata.version("spectralcore") == spectralcore.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{spectralcore.__version__}]" in changelog, "CHANGELOG.md has no entry for this version"


def test_typed_and_licensed():
    """py.typed ships beside the modules (PEP 561) and, installed from a wheel, in its RECORD; the
    metadata's licence is the LICENSE file's."""
    import spectralcore

    assert (pathlib.Path(spectralcore.__file__).parent / "py.typed").is_file()
    if not _direct_url().get("dir_info", {}).get("editable", False):
        files = importlib.metadata.files("spectralcore") or []
        assert "spectralcore/py.typed" in {f.as_posix() for f in files}
    metadata = importlib.metadata.metadata("spectralcore")
    assert metadata["License-Expression"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_test_extra_leaves_the_torch_build_to_constraints():
    """The user-facing extras ask for torch>=2.4; CI's torch build is pinned in constraints/ci.txt."""
    requires = importlib.metadata.metadata("spectralcore").get_all("Requires-Dist") or []
    torch = [r for r in requires if r.startswith("torch") and 'extra == "test"' in r]
    assert torch and all("==" not in r.split(";")[0] for r in torch), torch
    assert re.search(r"^torch==", (ROOT / "constraints" / "ci.txt").read_text(), re.M)


def test_pre_commit_uses_the_ci_tool_versions():
    """.pre-commit-config.yaml runs the ruff and mypy (and mypy's type sources) that CI pins."""
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "constraints" / "ci.txt").read_text(), re.M))
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    for tool, mirror in (("ruff", "astral-sh/ruff-pre-commit"), ("mypy", "pre-commit/mirrors-mypy")):
        rev = re.search(rf"repo: https://github.com/{mirror}\s+rev: v(\S+)", config)
        assert rev and rev.group(1) == pins[tool], (tool, rev and rev.group(1), pins[tool])
    for name, version in re.findall(r"^\s+- ([A-Za-z0-9_.-]+)==(\S+)$", config, re.M):
        assert pins.get(name) == version, (name, version, pins.get(name))


@pytest.mark.skipif(
    "SPECTRALCORE_TEST_WHEEL" not in os.environ, reason="set by .ci/run to the wheel it built and installed"
)
def test_suite_runs_against_the_built_wheel():
    """Under .ci/run the suite imports the installed wheel, not the checkout's spectralcore/ folder:
    a file missing from the wheel fails the tests instead of being read from the source tree."""
    import spectralcore
    import spectralcore.adapters
    import spectralcore.conformance
    import spectralcore.plugins

    installed = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
    for module in (spectralcore, spectralcore.adapters, spectralcore.conformance, spectralcore.plugins):
        assert installed in pathlib.Path(module.__file__).resolve().parents, (module.__file__, installed)
    wheel = pathlib.Path(os.environ["SPECTRALCORE_TEST_WHEEL"]).name
    url = _direct_url().get("url", "")
    assert url.endswith("/" + wheel), (url, wheel)
