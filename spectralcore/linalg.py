"""Delegation point for the dense symmetric eigensolver every eigenbasis method calls.

Today this is ``xp.linalg.eigh``; a framework-specific faster solver goes here, behind
the same function, never in a method's own code.
"""

from __future__ import annotations

from typing import Any

from .method import EighResult


def symmetric_eigh(xp: Any, A: Any) -> EighResult:
    """(w, V) of symmetric A, eigenvalues ascending."""
    w, V = xp.linalg.eigh(A)
    return EighResult(w, V)
