"""Trace-time constants: memoised per argument tuple, and marked by every adapter marker, whether
the marker or the function came first. (That torch.compile then traces the built-in ones as
constants, with no graph break, is tested in test_torch_adapter.py.)"""

from __future__ import annotations

from spectralcore import trace_constants


def test_memoised_and_marked_in_either_order(monkeypatch):
    monkeypatch.setattr(trace_constants, "_FUNCTIONS", [])
    monkeypatch.setattr(trace_constants, "_MARKERS", [])
    calls, marked = [], []

    @trace_constants.trace_constant
    def early(a, b):
        calls.append((a, b))
        return a + b

    trace_constants.add_marker(marked.append)

    @trace_constants.trace_constant
    def late(a):
        return -a

    assert early(1, 2) == early(1, 2) == 3 and calls == [(1, 2)]
    assert early(2, 2) == 4 and len(calls) == 2
    assert late(5) == -5
    assert marked == [early, late]
    assert early.__name__ == "early" and early.__wrapped__(1, 1) == 2
