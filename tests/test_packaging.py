"""The documented import names exist, from an install and from the checkout's root alike."""

from __future__ import annotations

import pathlib
import subprocess
import sys

NAMES = ["spectralcore", "spectralcore.plugins.taylor", "spectralcore.plugins.lyapunov",
         "spectralcore.adapters.array_api", "spectralcore.conformance"]
ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_names_import_from_checkout_root():
    code = "import importlib, sys; [importlib.import_module(n) for n in sys.argv[1:]]; print('ok')"
    out = subprocess.run([sys.executable, "-c", code, *NAMES], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cli = subprocess.run([sys.executable, "-m", "spectralcore", "methods"], cwd=ROOT, capture_output=True, text=True)
    assert cli.returncode == 0 and "taylor" in cli.stdout, cli.stderr


def test_core_imports_no_framework():
    code = ("import sys, spectralcore as sc, numpy as np; sc.eigh(np.eye(2)); sc.methods(); "
            "print(sorted(m for m in ('torch', 'jax', 'cupy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_cupy_extra_per_cuda_major_version():
    """CuPy ships one wheel per CUDA major version: each has its extra (the H200 image is CUDA 13)."""
    import importlib.metadata

    requires = importlib.metadata.metadata("spectralcore").get_all("Requires-Dist") or []
    for cuda in ("12", "13"):
        assert any(r.startswith(f"cupy-cuda{cuda}x") and f'extra == "cuda{cuda}"' in r for r in requires), requires
