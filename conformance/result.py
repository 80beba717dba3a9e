"""One measurement of the suite: which check, which method, backend, dtype and input, the
measured against the allowed value."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .backends import Backend
    from .subject import Subject


@dataclasses.dataclass(frozen=True)
class Result:
    check: str
    kind: str
    method: str
    backend: str
    device: str
    dtype: str
    case: str
    measured: float
    allowed: float
    passed: bool

    @property
    def margin(self) -> float:
        """measured ÷ allowed: how much of its bound the check used (≤ 1 passes; 0 ÷ 0 is 0)."""
        if self.allowed > 0:
            return self.measured / self.allowed
        return 0.0 if self.measured <= 0 else float("inf")

    @property
    def close(self) -> bool:
        """A pass that came within 10% of its bound."""
        return self.passed and self.margin > CLOSE

    def __str__(self) -> str:
        verdict = "FAILED" if not self.passed else "passed, within 10% of its bound" if self.close else "passed"
        return (
            f"{verdict}: {self.check} — {self.kind} '{self.method}' on {self.backend}/{self.device} "
            f"{self.dtype}, input '{self.case}': measured {self.measured:.3g}, allowed {self.allowed:.3g} "
            f"(÷ {self.margin:.2g})"
        )


CLOSE = 0.9  # a pass with measured > 0.9 × allowed is reported as close to its bound


def rel(x: np.ndarray, y: np.ndarray) -> float:
    """‖x − y‖ / ‖y‖ (inf if x is not finite, ‖x‖ if y = 0)."""
    if not np.all(np.isfinite(x)):
        return float("inf")
    scale = np.linalg.norm(y)
    return float(np.linalg.norm(x - y) / (scale if scale > 0 else 1.0))


def outcome(name: str, s: Subject, b: Backend, dtype: str, case: str, measured: float, allowed: float) -> Result:
    """The result of one measurement of ``s`` on ``b``: passed when measured ≤ allowed."""
    return Result(
        name,
        s.kind,
        s.method.name,
        b.name,
        b.device,
        dtype,
        f"{case}",
        float(measured),
        allowed,
        bool(measured <= allowed),
    )
