"""The installed package is found through its entry point and listed like a built-in."""

from __future__ import annotations

import importlib.metadata
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import spectralcore as sc
import spectralcore_rational


def test_entry_point_is_declared():
    eps = importlib.metadata.entry_points(group="spectralcore")
    ours = [ep for ep in eps if ep.value == "spectralcore_rational.plugin"]
    assert [ep.name for ep in ours] == ["spectralcore-rational"]


def test_listed_with_source_options_and_claims():
    info = next(i for i in sc.methods("eigh-backward") if i.name == "softgap")
    assert info.source == "spectralcore-rational"
    assert info.cls is spectralcore_rational.SoftGap is sc.methods.SoftGap
    assert info.options == {"delta": 1e-3, "eps": 1e-3, "relative": True}
    assert info.claims == frozenset({"bounded", "traceable"})
    assert "softgap" in info.reference or "soft gap" in info.reference


def test_cli_lists_it(tmp_path):
    """`spectralcore methods --json` (the console script when present, else `python -m`) from a neutral folder."""
    script = pathlib.Path(sys.executable).with_name("spectralcore")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "spectralcore"]
    out = subprocess.run([*cmd, "methods", "--json"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    (row,) = [r for r in json.loads(out.stdout) if r["name"] == "softgap"]
    assert row["kind"] == "eigh-backward" and row["source"] == "spectralcore-rational"
    assert row["options"] == {"delta": 1e-3, "eps": 1e-3, "relative": True} and row["accuracy"] == 1e-5


def test_options_by_name_and_instance(rng):
    a = np.diag([1.0, 2.0, 3.0])
    g = rng.standard_normal((3, 3))
    by_name = sc.vjp(sc.eigh, a, backward="softgap", delta=0.1)[1]((None, g))
    by_instance = sc.vjp(sc.eigh, a, backward=sc.methods.SoftGap(delta=0.1))[1]((None, g))
    np.testing.assert_array_equal(by_name, by_instance)


@pytest.mark.parametrize(
    "option, value",
    [("delta", 0.0), ("delta", -1.0), ("delta", float("nan")), ("eps", 0.0), ("eps", float("inf")), ("delta", "1e-3")],
)
def test_invalid_options_name_the_option(option, value):
    with pytest.raises(ValueError, match=f"softgap.*`{option}`"):
        sc.eigh(np.eye(2), backward="softgap", **{option: value})
