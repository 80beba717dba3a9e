"""Functions that compute constants from Python values only (fitted coefficients): a compiler
may run them once while tracing and keep the result, instead of tracing through their NumPy
code. An adapter adds a marker for its framework (the torch adapter:
``torch.compiler.assume_constant_result``); JAX runs Python while tracing and needs none.
Marking works in either order: functions defined later get the markers added earlier.
"""

from __future__ import annotations

from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)

_FUNCTIONS: list[Callable] = []
_MARKERS: list[Callable[[Callable], object]] = []


def trace_constant(fn: F) -> F:
    """Declare ``fn`` (a pure function of hashable Python arguments) a trace-time constant."""
    _FUNCTIONS.append(fn)
    for mark in _MARKERS:
        mark(fn)
    return fn


def add_marker(mark: Callable[[Callable], object]) -> None:
    """Apply ``mark`` to every trace-time constant, now and as they are declared."""
    _MARKERS.append(mark)
    for fn in _FUNCTIONS:
        mark(fn)
