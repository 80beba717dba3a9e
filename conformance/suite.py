"""The conformance suite as pytest tests (collected by ``pytest --spectralcore-conformance``)."""

from __future__ import annotations

import pytest

from spectralcore.conformance.backends import available
from spectralcore.conformance.checks import CHECKS
from spectralcore.conformance.fuzzing import fuzz_one
from spectralcore.conformance.runner import DTYPES, subjects


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    opt = metafunc.config.getoption
    if "fuzzed" in metafunc.fixturenames:
        chosen = [s for s in subjects(opt("sc_method"), opt("sc_kind")) if "bounded" in type(s.method).claims]
        combos = (
            [
                (s, b, op, dtype)
                for s in chosen
                for b in available(opt("sc_backend"), opt("sc_device"))
                for op in s.ops
                for dtype in DTYPES
            ]
            if opt("sc_fuzz")
            else []
        )
        metafunc.parametrize(
            "fuzzed", combos, ids=[f"fuzz:{s.method.name}-{op.name}-{b}-{dtype}" for s, b, op, dtype in combos]
        )
        return
    if "combination" not in metafunc.fixturenames:
        return
    chosen = subjects(opt("sc_method"), opt("sc_kind"))
    combos = [
        (s, b, check, dtype)
        for s in chosen
        for b in available(opt("sc_backend"), opt("sc_device"))
        for check in CHECKS
        if check.applies(s, b)
        for dtype in DTYPES
    ]
    metafunc.parametrize(
        "combination", combos, ids=[f"{s.kind}:{s.method.name}-{b}-{dtype}-{c.name}" for s, b, c, dtype in combos]
    )


def test_conformance(combination):
    subject, backend, check, dtype = combination
    failures = [r for r in check.run(subject, backend, dtype) if not r.passed]
    assert not failures, "\n".join(map(str, failures))


def test_fuzz(fuzzed, request):
    subject, backend, op, dtype = fuzzed
    opt = request.config.getoption
    result = fuzz_one(subject, op, backend, dtype, opt("sc_fuzz"), opt("sc_seed"), None)
    assert result.passed, str(result)
