"""eigh forward ``eigh``: the dense symmetric eigensolver (``xp.linalg.eigh``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from spectralcore import EighForward, EighResult, hookimpl
from spectralcore.linalg import symmetric_eigh


@dataclasses.dataclass(frozen=True)
class Eigh(EighForward):
    """A = V diag(w) Vᵀ by the namespace's ``linalg.eigh``; eigenvalues ascending."""

    name = "eigh"
    claims = frozenset({"exact", "traceable"})
    reference = "xp.linalg.eigh"

    def __call__(self, xp: Any, A: Any) -> EighResult:
        return symmetric_eigh(xp, A)


@hookimpl
def spectralcore_eigh_forward() -> list[type]:
    return [Eigh]
