"""Functions that compute constants from Python values only (coefficients, fits): memoised per
argument tuple, and a compiler may run them once while tracing and keep the result, instead of
tracing through their Fraction or NumPy code. An adapter adds a marker for its framework (the
torch adapter: ``torch.compiler.assume_constant_result``); JAX runs Python while tracing and
needs none. Marking works in either order: functions defined later get the markers added earlier.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable)

_FUNCTIONS: list[Callable] = []
_MARKERS: list[Callable[[Callable], object]] = []


def trace_constant(fn: F) -> F:
    """Declare ``fn`` (a pure function of hashable positional Python arguments) a trace-time
    constant: the returned function memoises it (a dict, not ``functools.lru_cache``, whose
    wrapper torch.compile traces through) and carries the adapters' markers."""
    memo: dict[tuple, Any] = {}

    @functools.wraps(fn)
    def constant(*args: Any) -> Any:
        if args not in memo:
            memo[args] = fn(*args)
        return memo[args]

    _FUNCTIONS.append(constant)
    for mark in _MARKERS:
        mark(constant)
    return constant  # type: ignore[return-value]


def add_marker(mark: Callable[[Callable], object]) -> None:
    """Apply ``mark`` to every trace-time constant, now and as they are declared."""
    _MARKERS.append(mark)
    for fn in _FUNCTIONS:
        mark(fn)
