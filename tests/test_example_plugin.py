"""The example third-party plugin plugins/third_party/spectralcore-rational (eigh backward
``softgap``) keeps working: registered through the same hooks, its documented bounds hold.

When the package is installed its entry point has registered it already; otherwise the plugin
module is loaded from the source folder by path and registered for this module's tests only.
The package's own, fuller tests live in plugins/third_party/spectralcore-rational/tests.
"""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

import spectralcore as sc
from reference import covariance, rel_err, with_spectrum

SOURCE = (
    pathlib.Path(__file__).resolve().parents[1]
    / "plugins"
    / "third_party"
    / "spectralcore-rational"
    / "spectralcore_rational"
    / "plugin.py"
)
DELTA, EPS = 1e-3, 1e-3


def _load_from_source():
    name = "_spectralcore_rational_plugin_from_source"
    spec = importlib.util.spec_from_file_location(name, SOURCE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve the module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def softgap():
    """The SoftGap class, registered as 'spectralcore-rational' for the duration of this module."""
    if ("eigh-backward", "softgap") in sc.registry.REGISTRY.table():  # installed: entry point
        yield sc.methods.SoftGap
        return
    try:
        module = importlib.import_module("spectralcore_rational.plugin")
    except ImportError:
        module = _load_from_source()
    sc.register(module, name="spectralcore-rational")
    try:
        yield module.SoftGap
    finally:
        sc.registry.REGISTRY.unregister(module)
        sys.modules.pop("_spectralcore_rational_plugin_from_source", None)


def test_registered_with_its_source(softgap):
    info = sc.registry.REGISTRY.lookup("eigh-backward", "softgap")
    assert info.cls is softgap and info.source == "spectralcore-rational"
    assert info.options == {"delta": DELTA, "eps": EPS, "relative": True} and info.claims == {"bounded", "traceable"}
    assert info.accuracy == 1e-5


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_bounds_against_numpy(softgap, rng, dtype):
    """0 ≤ 1 − K̃/K ≤ δ²/(2ρ²) (ρ = |λj − λi|/λb) and |K̃| ≤ 1/(δ λb), λ raised to ε·max|λ| first."""
    from array_api_compat import array_namespace

    ulp = float(np.finfo(dtype).eps)
    for w in [np.array([0.0, 0.0, 1e-4, 0.5, 1.0, 1.0, 1.0 + 1e-6, 2.0, 8.0]), np.sort(rng.exponential(size=12) ** 3)]:
        w = w.astype(dtype)
        k = np.asarray(softgap().kernel(array_namespace(w), w), dtype=np.float64)
        lam = np.maximum(w.astype(np.float64), EPS * np.max(np.abs(w.astype(np.float64))))
        d = lam[None, :] - lam[:, None]
        big = np.maximum(lam[None, :], lam[:, None])
        off = ~np.eye(w.size, dtype=bool)
        assert np.all(np.abs(k[off]) <= 1 / (DELTA * big[off]) * (1 + 4 * ulp))
        sep = off & (d != 0)
        rho, x = np.abs(d[sep]) / big[sep], 1 - np.abs(d[sep]) / big[sep]
        shrink = 1 - k[sep] * d[sep]
        rounding = 4 * ulp * (1 + x / rho)
        assert np.all(shrink <= DELTA**2 / (2 * rho**2) + rounding) and np.all(shrink >= -rounding)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradients_finite_at_ties_and_zero_eigenvalues(softgap, rng, dtype):
    inputs = [
        with_spectrum(rng, [1.0, 1.0, 1.0, 2.0, 3.0, 3.0]),
        np.eye(6),
        np.zeros((6, 6)),
        with_spectrum(rng, [0.0, 0.0, 0.0, 1.0, 2.0, 2.0]),
        covariance(rng, 6, 2),
    ]
    for a in inputs:
        a = a.astype(dtype)
        gw, gV = rng.standard_normal(6).astype(dtype), rng.standard_normal((6, 6)).astype(dtype)
        gA = sc.vjp(sc.eigh, a, backward="softgap")[1]((gw, gV))
        assert gA.dtype == dtype and np.all(np.isfinite(gA))
        s = np.max(np.abs(np.linalg.eigvalsh(a.astype(np.float64)))) or 1.0  # the zero matrix: 1
        n_gV, n_gw = np.linalg.norm(gV.astype(np.float64)), np.linalg.norm(gw.astype(np.float64))
        bound = np.hypot(n_gV / (DELTA * EPS * s), n_gw)
        assert np.linalg.norm(gA.astype(np.float64)) <= bound * (1 + 1e-3)


def test_agrees_with_exact_on_separated_spectrum(softgap, rng):
    """‖gA − gA_exact‖_F ≤ δ²/(2ρ_min²) ‖gA_exact‖_F; ρ_min = 0.225 here, bound 9.9e-6."""
    spectrum = np.array([1.0, 1.6, 2.3, 3.1, 4.0])
    bound = DELTA**2 / (2 * np.min(np.diff(spectrum) / spectrum[1:]) ** 2)
    a = with_spectrum(rng, spectrum)
    cot = (rng.standard_normal(5), rng.standard_normal((5, 5)))
    exact = sc.vjp(sc.eigh, a)[1](cot)
    err = rel_err(sc.vjp(sc.eigh, a, backward="softgap")[1](cot), exact)
    assert bound * 1e-2 <= err <= bound


def test_passes_the_conformance_suite_with_forward_mode(softgap):
    """A RatioBackward gets its JVP from the base class: the suite checks it against its VJP."""
    from spectralcore import conformance

    report = conformance.run("softgap", kind="eigh-backward", backends=["numpy", "array_api_strict"])
    assert report.passed, "\n".join(map(str, report.failures))
    transposed = [r for r in report.results if r.check == "jvp transposes vjp"]
    assert {r.case for r in transposed} == {"eigh", "sqrtm (eigenvector path)", "invsqrtm (eigenvector path)"}
    assert not report.reverse_only
