"""The shared conformance suite: checks every registered method on every installed backend.

    report = spectralcore.conformance.run(method="taylor", backends=["numpy", "torch"])
    assert report.passed, "\\n".join(map(str, report.failures))

Also: ``spectralcore conformance`` (CLI) and ``pytest --spectralcore-conformance``.
"""

from .backends import Backend, available
from .checks import BOUND, CHECKS, Result
from .runner import Report, run

__all__ = ["BOUND", "CHECKS", "Backend", "Report", "Result", "available", "run"]
