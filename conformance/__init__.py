"""The shared conformance suite: checks every registered method on every installed backend.

    report = spectralcore.conformance.run(method="taylor", backends=["numpy", "torch"])
    assert report.passed, "\\n".join(map(str, report.failures))

    fuzzed = spectralcore.conformance.fuzz(method="taylor", cases=10_000)  # the bounded claim
    assert fuzzed.passed, "\\n".join(str(r) for r in fuzzed.results if not r.passed)

Also: ``spectralcore conformance [--fuzz N]`` (CLI) and ``pytest --spectralcore-conformance
[--sc-fuzz N]``.
"""

from .backends import Backend, available
from .checks import BOUND, CHECKS, Result
from .fuzzing import FuzzReport, FuzzResult, fuzz, replay
from .runner import Report, run

__all__ = [
    "BOUND",
    "CHECKS",
    "Backend",
    "FuzzReport",
    "FuzzResult",
    "Report",
    "Result",
    "available",
    "fuzz",
    "replay",
    "run",
]
