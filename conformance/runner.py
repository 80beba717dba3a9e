"""``spectralcore.conformance.run``: every selected method × backend × device × dtype × check."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

import spectralcore as sc
from spectralcore.method import Method

from .backends import available
from .checks import CHECKS, CLAIM_CHECKS, Result, suggested
from .subject import MethodError, Subject

DTYPES = ("float32", "float64")

# which methods a run tests: a registered name, an instance, a class, several of these, or all (None)
MethodSelection: TypeAlias = "str | Method | type[Method] | Iterable[Any] | None"


@dataclasses.dataclass
class Report:
    """What a conformance run found; ``passed`` is True when no check failed."""

    results: list[Result]
    opt_outs: dict[str, str] = dataclasses.field(default_factory=dict)  # method label → why agreement is not checked
    reverse_only: list[str] = dataclasses.field(default_factory=list)  # method labels without a JVP
    unclaimed: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)  # (kind, name, label)

    def suggestions(self) -> dict[str, str]:
        """For each method that states no accuracy, the ``accuracy`` to declare: twice the worst
        float64 error its agreement checks measured (:func:`~.checks.suggested`)."""
        out = {}
        for kind, name, label in self.unclaimed:
            measured = [
                r.measured
                for r in self.results
                if (r.kind, r.method, r.dtype) == (kind, name, "float64") and r.check in CLAIM_CHECKS
            ]
            if measured:
                out[label] = suggested(max(measured))
        return out

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.passed]

    @property
    def passed(self) -> bool:
        return bool(self.results) and not self.failures

    def to_json(self) -> str:
        return json.dumps(
            {
                "passed": self.passed,
                "accuracy_opt_outs": self.opt_outs,
                "reverse_only": self.reverse_only,
                "accuracy_to_declare": self.suggestions(),
                "results": [{**dataclasses.asdict(r), "margin": r.margin, "close": r.close} for r in self.results],
            },
            indent=1,
            default=float,
        )

    def summary(self) -> list[Row]:
        """One :class:`Row` per method and backend, in the order first met."""
        groups: dict[tuple[str, str, str], list[Result]] = {}
        for r in self.results:
            groups.setdefault((r.kind, r.method, f"{r.backend}/{r.device}"), []).append(r)
        return [
            Row(*key, sum(r.passed for r in rs), len(rs), max(rs, key=lambda r: r.margin)) for key, rs in groups.items()
        ]


@dataclasses.dataclass(frozen=True)
class Row:
    """A method on a backend: checks passed of checks run, and the result that came closest to (or
    furthest past) its bound — its measured ÷ allowed is the run's margin."""

    kind: str
    method: str
    backend: str
    passed: int
    total: int
    worst: Result


def subjects(method: MethodSelection = None, kind: str | None = None) -> list[Subject]:
    """The methods to test: registered ones by name (every kind with that name), instances or
    classes (configured with their defaults), or all registered methods."""
    if method is None or isinstance(method, str):
        infos = [i for i in sc.methods(kind) if method is None or i.name == method]
        if not infos:
            names = sorted({i.name for i in sc.methods(kind)})
            raise ValueError(
                f"no registered method {method!r}{f' of kind {kind}' if kind else ''}; available: {', '.join(names)}"
            )
        return [Subject(i.kind, i.cls()) for i in infos]
    if isinstance(method, type):
        return [Subject(method.kind, method())]
    if isinstance(method, Method):
        return [Subject(method.kind, method)]
    return [s for m in method for s in subjects(m, kind)]


def run(
    method: MethodSelection = None,
    *,
    kind: str | None = None,
    backends: list[str] | None = None,
    devices: list[str] | None = None,
    dtypes: Iterable[str] = DTYPES,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run the conformance suite and return a :class:`Report` (``.passed``, ``.failures``).

    ``method``: a registered name, a method instance or class, a list of those, or None for
    every registered method. ``backends``: names from ``numpy, array_api_strict, torch, jax,
    cupy`` (default: every installed one); ``devices``: ``cpu`` and/or ``cuda``.
    """
    results: list[Result] = []
    chosen = subjects(method, kind)
    opt_outs = {s.label: type(s.method).accuracy_opt_out for s in chosen if type(s.method).accuracy_opt_out}
    reverse_only = [s.label for s in chosen if not s.method.has_jvp()]
    unclaimed = [(s.kind, s.method.name, s.label) for s in chosen if s.unclaimed]
    targets = [(s, b) for s in chosen for b in available(backends, devices)]
    for s, b in targets:
        for check in CHECKS:
            if not check.applies(s, b):
                continue
            for dtype in dtypes:
                if progress:
                    progress(f"{s.label} · {b} · {dtype} · {check.name}")
                try:
                    results.extend(check.run(s, b, dtype))
                except Exception as error:  # noqa: BLE001 - a method that raises fails the check
                    why = error if isinstance(error, MethodError) else f"{type(error).__name__}: {error}"
                    results.append(
                        Result(
                            check.name,
                            s.kind,
                            s.method.name,
                            b.name,
                            b.device,
                            dtype,
                            f"raised {why}",
                            float("inf"),
                            0.0,
                            False,
                        )
                    )
    return Report(results, opt_outs, reverse_only, unclaimed)
