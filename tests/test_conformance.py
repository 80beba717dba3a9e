"""The conformance suite passes every built-in method and rejects broken ones with the right check."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

import spectralcore as sc
from spectralcore import conformance
from spectralcore.plugins.eigenbasis import EighSqrtm, ExactLyapunov
from spectralcore.plugins.exact import Exact
from spectralcore.plugins.taylor import Taylor


def test_every_registered_method_passes_on_every_installed_backend():
    report = conformance.run()
    assert report.passed, "\n".join(map(str, report.failures))
    backends = {r.backend for r in report.results}
    assert {"numpy", "array_api_strict"} <= backends
    checks = {r.check for r in report.results}
    assert {
        "agreement",
        "bounded",
        "symmetric",
        "sign invariance",
        "zero cotangent",
        "linearity",
        "batch equals loop",
        "dtype, device, shape",
        "jvp transposes vjp",
        "jvp against differences",
        "scale equivariance",
        "rotation equivariance",
        "second order",
    } <= checks
    assert not report.reverse_only  # every built-in works in forward mode


def test_claims_decide_the_checks():
    """exact is never checked for boundedness; taylor (bounded, accuracy 3e-2) is."""
    exact = conformance.run("exact", kind="eigh-backward", backends=["numpy"])
    taylor = conformance.run("taylor", backends=["numpy"])
    assert "bounded" not in {r.check for r in exact.results}
    assert "bounded" in {r.check for r in taylor.results}
    assert {r.allowed for r in taylor.results if r.check == "agreement" and r.dtype == "float64"} == {3e-2}


# ------------------------------------------------------------------ deliberately broken methods
@dataclasses.dataclass(frozen=True)
class NanAtTies(Exact):
    """Claims to be bounded but is the exact kernel: inf/NaN at ties."""

    name = "nan-at-ties"
    claims = frozenset({"bounded", "traceable"})


@dataclasses.dataclass(frozen=True)
class Asymmetric(Exact):
    name = "asymmetric"

    def vjp(self, xp, A, w, V, gw, gV):
        g = super().vjp(xp, A, w, V, gw, gV)
        return g + 1e-3 * xp.triu(g, k=1)


@dataclasses.dataclass(frozen=True)
class WrongSign(Exact):
    name = "wrong-sign"

    def kernel(self, xp, w):
        return -super().kernel(xp, w)


@dataclasses.dataclass(frozen=True)
class ChangesDtype(EighSqrtm):
    """A square root that returns float64 whatever came in (gradients are cast back to A's
    dtype by the core, so a forward is where a dtype change can escape)."""

    name = "changes-dtype"

    def sqrtm(self, xp, A):
        S, eig = super().sqrtm(xp, A)
        return xp.astype(S, xp.float64), eig


@dataclasses.dataclass(frozen=True)
class InfOnSingular(EighSqrtm):
    """A square root that is infinite when A is singular (a forward has no 'bounded' claim,
    but its outputs must stay finite where the op is defined)."""

    name = "inf-on-singular"

    def sqrtm(self, xp, A):
        S, eig = super().sqrtm(xp, A)
        return S / xp.astype(eig[0][..., :1, None] > 1e-8, S.dtype), eig


@dataclasses.dataclass(frozen=True)
class MovesDevice(Exact):
    name = "moves-device"

    def vjp(self, xp, A, w, V, gw, gV):
        g = super().vjp(xp, A, w, V, gw, gV)
        devices = xp.__array_namespace_info__().devices()
        return xp.asarray(g, device=devices[min(1, len(devices) - 1)])


@dataclasses.dataclass(frozen=True)
class MixesBatch(Exact):
    name = "mixes-batch"

    def vjp(self, xp, A, w, V, gw, gV):
        g = super().vjp(xp, A, w, V, gw, gV)
        return xp.flip(g, axis=0) if g.ndim == 3 else g


@dataclasses.dataclass(frozen=True)
class IgnoresCotangent(Exact):
    name = "ignores-cotangent"

    def vjp(self, xp, A, w, V, gw, gV):
        return super().vjp(xp, A, w, V, xp.ones_like(w), V)


@dataclasses.dataclass(frozen=True)
class TooInaccurate(Taylor):
    """Taylor of degree 2 claiming 1e-6."""

    name = "too-inaccurate"
    accuracy = 1e-6
    degree: int = 2


# ------------------------------------------------------------------ holes a method could hide in
@dataclasses.dataclass(frozen=True)
class Cauchy(sc.KernelBackward):
    """The example of docs/plugins.md, bounded and traceable, declaring its accuracy (1e-4; the
    suite measures 2.9e-5): K̃ = d/(d² + ε s²), s = max|λ|, relative to each matrix's scale."""

    name = "cauchy"
    claims = frozenset({"bounded", "traceable"})
    accuracy = 1e-4
    eps: float = 1e-6

    def kernel(self, xp, w):
        d = w[..., None, :] - w[..., :, None]
        s = xp.max(xp.abs(w), axis=-1)[..., None, None]
        return d / (d * d + self.eps * s * s)


@dataclasses.dataclass(frozen=True)
class AbsoluteCauchy(Cauchy):
    """K̃ = d/(d² + 1e-6): an absolute threshold, so its answer depends on the units of A."""

    name = "absolute-cauchy"

    def kernel(self, xp, w):
        d = w[..., None, :] - w[..., :, None]
        return d / (d * d + self.eps)


@dataclasses.dataclass(frozen=True)
class BasisDependent(Exact):
    """The exact gradient plus 1e-3 of its diagonal in the standard basis: accurate to 1e-3,
    symmetric, linear and scale-free, but not rotation equivariant."""

    name = "basis-dependent"
    accuracy = 1e-2

    def vjp(self, xp, A, w, V, gw, gV):
        g = super().vjp(xp, A, w, V, gw, gV)
        return g + 1e-3 * xp.eye(g.shape[-1], dtype=g.dtype) * g


@dataclasses.dataclass(frozen=True)
class FlippedCauchy(Cauchy):
    name = "flipped-cauchy"

    def kernel(self, xp, w):
        return -super().kernel(xp, w)


@dataclasses.dataclass(frozen=True)
class ZeroKernel(Cauchy):
    name = "zero-kernel"

    def kernel(self, xp, w):
        return 0 * super().kernel(xp, w)


@dataclasses.dataclass(frozen=True)
class ScaledOptedOut(Cauchy):
    """The gradient times ``factor``, from a method that claims no accuracy: the direction
    and scale checks still apply."""

    name = "scaled-opted-out"
    accuracy_opt_out = "testing the opt-out"
    factor: float = 2.0

    def vjp(self, xp, A, w, V, gw, gV):
        return self.factor * super().vjp(xp, A, w, V, gw, gV)


@dataclasses.dataclass(frozen=True)
class InfAtZero(Cauchy):
    """Bounded at ties, but its eigenvalue gradient divides by λ: inf at a zero eigenvalue,
    which eigh's and the square root's singular inputs expose."""

    name = "inf-at-zero"

    def vjp(self, xp, A, w, V, gw, gV):
        return super().vjp(xp, A, w, V, None if gw is None else gw * (w[..., -1:] / w), gV)


@dataclasses.dataclass(frozen=True)
class HalfLyapunov(ExactLyapunov):
    """A sqrtm backward off by a factor 2 that claims nothing."""

    name = "half-lyapunov"
    claims = frozenset({"traceable"})

    def vjp(self, xp, A, S, gS, saved):
        return super().vjp(xp, A, S, gS, saved) / 2


@dataclasses.dataclass(frozen=True)
class WrongJvp(Exact):
    """The exact VJP with a forward mode whose eigenvector tangent is doubled."""

    name = "wrong-jvp"

    def jvp(self, xp, A, w, V, dA):
        dw, dV = super().jvp(xp, A, w, V, dA)
        return dw, 2 * dV


@dataclasses.dataclass(frozen=True)
class UntransposedJvp(HalfLyapunov):
    """A sqrtm backward whose JVP is its VJP without the factor: not its transpose."""

    name = "untransposed-jvp"

    def jvp(self, xp, A, S, dA, saved):
        return 2 * self.vjp(xp, A, S, dA, saved)


@dataclasses.dataclass(frozen=True)
class ReverseOnly(sc.EighBackward):
    """A whole-VJP method without a JVP: the forward-mode checks are skipped and it is listed."""

    name = "reverse-only"
    accuracy = 1e-8

    def vjp(self, xp, A, w, V, gw, gV):
        return Exact().vjp(xp, A, w, V, gw, gV)


def test_reverse_only_method_is_listed_and_its_forward_mode_not_checked():
    report = conformance.run(ReverseOnly(), backends=["numpy"], dtypes=["float64"])
    assert report.passed, "\n".join(map(str, report.failures))
    assert report.reverse_only == ["eigh-backward 'reverse-only'"]
    assert not {r.check for r in report.results} & {"jvp transposes vjp", "jvp against differences"}
    assert json.loads(report.to_json())["reverse_only"] == report.reverse_only


@pytest.mark.parametrize(
    "method,checks",
    [
        (FlippedCauchy(), {"agreement"}),
        (ZeroKernel(), {"agreement"}),
        (ScaledOptedOut(factor=2.0), {"gradient scale"}),
        (ScaledOptedOut(factor=0.0), {"gradient direction", "gradient scale"}),
        (ScaledOptedOut(factor=-1.0), {"gradient direction"}),
        (HalfLyapunov(), {"agreement", "gradient scale"}),
    ],
)
def test_wrong_gradients_fail_whatever_the_method_declares(method, checks):
    report = conformance.run(method, backends=["numpy"], dtypes=["float64"])
    failed = {r.check for r in report.failures}
    assert checks <= failed, f"{method.name}: failed {failed}"


def test_the_readme_example_passes_and_is_checked_for_agreement():
    report = conformance.run(Cauchy(), backends=["numpy"])
    assert report.passed, "\n".join(map(str, report.failures))
    assert {r.allowed for r in report.results if r.check == "agreement" and r.dtype == "float64"} == {Cauchy.accuracy}


@dataclasses.dataclass(frozen=True)
class Unclaimed(Cauchy):
    """Cauchy without a claim of its own (its parent's is set aside)."""

    name = "unclaimed-cauchy"

    @classmethod
    def claimed_accuracy(cls):
        raise sc.method.UnclaimedAccuracy(cls)


def test_a_method_without_a_claim_is_measured_and_told_what_to_declare():
    """Passed to the suite directly (registering it would raise), a method stating no accuracy fails
    its float64 agreement checks, each naming what it measured, and the report suggests twice the
    worst: a value under which the same method then passes."""
    report = conformance.run(Unclaimed(), backends=["numpy"])
    failed = {r.check for r in report.failures}
    assert failed == {"agreement"} and all(r.dtype == "float64" for r in report.failures)
    assert all("no accuracy claimed: declare accuracy = " in r.case for r in report.failures)
    worst = max(r.measured for r in report.failures)
    (suggestion,) = report.suggestions().values()
    assert 2 * worst <= float(suggestion) < 4 * worst
    assert json.loads(report.to_json())["accuracy_to_declare"] == {"eigh-backward 'unclaimed-cauchy'": suggestion}
    declared = dataclasses.make_dataclass(
        "Declared", [], bases=(Cauchy,), frozen=True, namespace={"name": "declared", "accuracy": float(suggestion)}
    )
    assert conformance.run(declared(), backends=["numpy"], dtypes=["float64"]).passed


def test_bounded_is_checked_through_the_square_root_on_singular_input():
    report = conformance.run(InfAtZero(), backends=["numpy"], dtypes=["float64"])
    cases = {r.case for r in report.failures if r.check == "bounded"}
    for op in ("eigh", "sqrtm (eigenvector path)"):
        for case in ("zeros", "rank-deficient", "one sample", "dead channels"):
            assert f"{op}, {case}" in cases, cases
    assert not any(c.startswith("invsqrtm") for c in cases)  # invsqrtm is not defined there


def test_opt_out_is_listed():
    report = conformance.run(["topn", "taylor"], backends=["numpy"], dtypes=["float64"])
    assert report.passed
    assert list(report.opt_outs) == ["eigh-backward 'topn'"] and "truncation" in report.opt_outs["eigh-backward 'topn'"]
    assert "agreement" not in {r.check for r in report.results if r.method == "topn"}
    assert {"gradient direction", "gradient scale"} <= {r.check for r in report.results if r.method == "topn"}
    assert json.loads(report.to_json())["accuracy_opt_outs"] == report.opt_outs


def test_every_op_and_combination_that_reaches_a_method_is_checked():
    eigh_backward = {
        r.case.split(",")[0] for r in conformance.run("taylor", backends=["numpy"]).results if r.check == "bounded"
    }
    assert eigh_backward == {"eigh", "sqrtm (eigenvector path)", "invsqrtm (eigenvector path)"}
    forward = {
        r.case.split(",")[0]
        for r in conformance.run("mpa", backends=["numpy"], dtypes=["float64"]).results
        if r.check == "gradient direction"
    }
    backwards = [i.name for i in sc.methods("sqrtm-backward")]
    assert forward == {"sqrtm", "invsqrtm"} | {
        f"{op} with backward '{b}'" for op in ("sqrtm", "invsqrtm") for b in backwards if b != "exact"
    }


@pytest.mark.parametrize(
    "method,backend,check",
    [
        (NanAtTies(), "numpy", "bounded"),
        (Asymmetric(), "numpy", "symmetric"),
        (WrongSign(), "numpy", "agreement"),
        (ChangesDtype(), "numpy", "dtype, device, shape"),
        (InfOnSingular(), "numpy", "finite outputs"),
        (MovesDevice(), "array_api_strict", "dtype, device, shape"),
        (MixesBatch(), "numpy", "batch equals loop"),
        (IgnoresCotangent(), "numpy", "zero cotangent"),
        (IgnoresCotangent(), "numpy", "linearity"),
        (TooInaccurate(), "numpy", "agreement"),
        (WrongJvp(), "numpy", "jvp transposes vjp"),
        (WrongJvp(), "numpy", "jvp against differences"),
        (UntransposedJvp(), "array_api_strict", "jvp transposes vjp"),
        (AbsoluteCauchy(), "numpy", "scale equivariance"),
        (BasisDependent(), "numpy", "rotation equivariance"),
    ],
)
def test_broken_method_is_rejected_by_the_right_check(method, backend, check):
    report = conformance.run(method, backends=[backend], dtypes=["float32", "float64"])
    assert not report.passed
    failed = {r.check for r in report.failures}
    assert check in failed, f"{method.name}: failed {failed}"
    failure = next(r for r in report.failures if r.check == check)
    text = str(failure)
    for part in (check, method.name, backend, failure.dtype, failure.case, "measured", "allowed"):
        assert part in text


def test_failure_names_everything():
    report = conformance.run(NanAtTies(), backends=["numpy"], dtypes=["float64"])
    failure = next(r for r in report.failures if r.check == "bounded")
    assert failure.measured > failure.allowed == conformance.BOUND
    assert str(failure).startswith("FAILED: bounded — eigh-backward 'nan-at-ties' on numpy/cpu float64, input 'eigh, ")


@dataclasses.dataclass(frozen=True)
class Raises(Exact):
    name = "raises"

    def vjp(self, xp, A, w, V, gw, gV):
        raise RuntimeError("boom")


def test_an_exception_is_a_failure_not_a_crash():
    report = conformance.run(Raises(), backends=["numpy"], dtypes=["float64"])
    assert not report.passed
    assert all("RuntimeError: boom" in r.case for r in report.failures)
    assert "symmetric" in {r.check for r in report.failures}


def test_report_json_and_summary(tmp_path):
    report = conformance.run("lyapunov", backends=["numpy"])
    data = json.loads(report.to_json())
    assert data["passed"] is True and len(data["results"]) == len(report.results)
    (row,) = report.summary()
    assert (row.kind, row.method, row.backend, row.passed, row.total) == (
        "sqrtm-backward",
        "lyapunov",
        "numpy/cpu",
        len(report.results),
        len(report.results),
    )
    margins = [r["measured"] / r["allowed"] for r in data["results"] if r["allowed"] > 0]
    assert row.worst.margin == max(margins) == max(r["margin"] for r in data["results"]) and 0 < row.worst.margin <= 1
    assert all(r["close"] == (r["passed"] and r["margin"] > 0.9) for r in data["results"])


def test_a_result_states_its_margin():
    result = conformance.Result("agreement", "eigh-backward", "m", "numpy", "cpu", "float64", "x", 0.095, 0.1, True)
    assert result.margin == pytest.approx(0.95) and result.close
    assert str(result).startswith("passed, within 10% of its bound: agreement") and "(÷ 0.95)" in str(result)
    far = dataclasses.replace(result, measured=0.01)
    assert not far.close and str(far).startswith("passed: agreement")
    failed = dataclasses.replace(result, measured=0.2, passed=False)
    assert failed.margin == pytest.approx(2.0) and not failed.close and str(failed).startswith("FAILED")
    assert dataclasses.replace(result, measured=0.0, allowed=0.0).margin == 0.0


def test_unknown_method_and_backend():
    with pytest.raises(ValueError, match="no registered method 'nope'"):
        conformance.run("nope")
    with pytest.raises(ValueError, match="unknown backend"):
        conformance.run("taylor", backends=["tensorflow"])


def test_cli_exit_codes_and_json(tmp_path):
    out = tmp_path / "r.json"
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "spectralcore",
            "conformance",
            "--method",
            "clip",
            "--backend",
            "numpy",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "clip" in ok.stdout and json.loads(out.read_text())["passed"]
    bad = subprocess.run(
        [sys.executable, "-m", "spectralcore", "conformance", "--method", "nope"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bad.returncode != 0


def test_pytest_plugin_runs_the_suite(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--spectralcore-conformance",
            "--sc-method",
            "pade",
            "--sc-backend",
            "numpy",
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-2000:]
    assert "passed" in out.stdout and "failed" not in out.stdout


def test_pytest_plugin_reports_a_broken_third_party_method(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "import dataclasses, spectralcore as sc\n"
        "from spectralcore.plugins.exact import Exact\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class Broken(Exact):\n"
        "    name = 'broken-third-party'\n"
        "    def kernel(self, xp, w):\n"
        "        return 2 * super().kernel(xp, w)\n"
        "class Plugin:\n"
        "    @sc.hookimpl\n"
        "    def spectralcore_eigh_backward(self):\n"
        "        return [Broken]\n"
        "sc.register(Plugin(), name='my-plugin')\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--spectralcore-conformance",
            "--sc-method",
            "broken-third-party",
            "--sc-backend",
            "numpy",
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 1
    assert "FAILED: agreement — eigh-backward 'broken-third-party' on numpy/cpu" in out.stdout


def test_an_absolute_threshold_fails_the_scale_check_by_name_and_its_relative_form_passes():
    absolute = conformance.run(AbsoluteCauchy(), backends=["numpy"])
    failed = [r for r in absolute.failures if r.check == "scale equivariance"]
    assert {r.check for r in absolute.failures} == {"scale equivariance"}  # units are all that is wrong
    small = next(r for r in failed if r.case == "eigh gA, separated ×1e-04" and r.dtype == "float64")
    assert small.measured > 0.1 and small.allowed < 1e-11  # d² ≈ 4e-9 against ε = 1e-6: a different kernel
    assert str(small).startswith(
        "FAILED: scale equivariance — eigh-backward 'absolute-cauchy' on numpy/cpu float64, "
        "input 'eigh gA, separated ×1e-04': measured"
    )
    big = next(r for r in failed if r.case == "eigh gA, separated ×1e+08" and r.dtype == "float64")
    assert 1e-7 < big.measured < 1e-4  # ε's share at c = 1, ε/d² ≈ 3e-6, is gone at c = 1e8
    relative = conformance.run(Cauchy(), backends=["numpy"])
    assert relative.passed, "\n".join(map(str, relative.failures))
    cases = {r.case for r in relative.results if r.check == "scale equivariance"}
    assert {"sqrtm (eigenvector path) gA, near-1e-03 ×1e-08", "eigh dweighted projector, separated ×1e+08"} <= cases


def test_the_bounded_claim_is_in_units_of_A():
    """The exact near-tie gradient grows as 1/(c gap): bounded at c = 1 and c = 1e-8 alike once
    measured as ‖gA‖ s / ‖G‖ (the old absolute ratio would be 1e8 times larger)."""
    from spectralcore.conformance.checks import units_ratio

    A = conformance.cases.with_spectrum([1.0, 1.0 + 1e-6, 2.0, 3.0, 4.0])
    cot = conformance.cases.Cotangent.for_shape(A.shape)
    ratios = []
    for c in (1.0, 1e-8):
        s = conformance.cases.spectral_scale(c * A)
        units = cot.in_units(s)
        (w, V), pullback = sc.vjp(sc.eigh, c * A)
        gA = pullback(units.eigh(V))
        ratios.append(float(units_ratio(gA, units.G, s, 0.0)))
        assert np.linalg.norm(gA) / np.linalg.norm(cot.G) > 1e4 / c  # the raw ratio grows as 1/c
    assert ratios[1] == pytest.approx(ratios[0], rel=1e-6)


def test_second_order_covers_ties_and_rejects_a_wrong_hessian():
    """On NumPy the HVP is sc.hvp: checked at ties for the Daleckii–Krein configurations, on the
    separated input only through an eigh backward; a backend whose HVP is off by 1e-4 fails."""
    report = conformance.run("exact", kind="sqrtm-backward", backends=["numpy"], dtypes=["float64"])
    second = {r.case for r in report.results if r.check == "second order"}
    assert second == {
        f"{op}, {c}"
        for op in ("sqrtm", "invsqrtm")
        for c in ("separated", "near tie 1e-07", "2I", "rotated triple tie")
    }
    assert report.passed, "\n".join(map(str, report.failures))
    torch = pytest.importorskip("torch")
    from spectralcore.conformance.second_order import second_order

    b = next(conformance.available(["torch"]))
    off = dataclasses.replace(b, hvp=lambda loss, A, dA: b.hvp(loss, A, dA) * (1 + 1e-4 * torch.eye(A.shape[-1])))
    subject = conformance.runner.subjects("exact", "sqrtm-backward")[0]
    results = list(second_order(subject, off, "float64"))
    assert results and not any(r.passed for r in results)
    assert {r.case for r in results} == second
    eigh_path = {
        r.case
        for r in conformance.run("exact", kind="eigh-backward", backends=["torch"], dtypes=["float64"]).results
        if r.check == "second order"
    }
    assert eigh_path == {
        f"{op}, separated"
        for op in (
            "eigh",
            "sqrtm (eigenvector path)",
            "invsqrtm (eigenvector path)",
            "logm (eigenvector path)",
            "expm (eigenvector path)",
            "matrix_power 0.3 (eigenvector path)",
        )
    }
