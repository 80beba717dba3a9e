"""A report section: prose, Markdown tables, figures, and the checked numbers tests assert on."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import warnings
from collections.abc import Iterator
from typing import Any

from tabulate import tabulate

from ..dispatch import _WARNED
from ..validation import AccuracyWarning


@dataclasses.dataclass(frozen=True)
class Config:
    """Where and how big: ``quick`` (default, < 3 min on 2 CPU cores) or the papers' sizes."""

    out: pathlib.Path
    quick: bool = True
    device: str = "cpu"
    backends: tuple[str, ...] | None = None


@dataclasses.dataclass
class Claim:
    """A number the report states with the tolerance it claims (tests check measured ≤ allowed)."""

    name: str
    measured: float
    allowed: float

    @property
    def holds(self) -> bool:
        return bool(self.measured <= self.allowed)


@dataclasses.dataclass
class Section:
    title: str
    parts: list[str] = dataclasses.field(default_factory=list)
    claims: list[Claim] = dataclasses.field(default_factory=list)
    figures: list[pathlib.Path] = dataclasses.field(default_factory=list)

    def text(self, paragraph: str) -> None:
        self.parts.append(paragraph)

    def table(self, headers: list[str], rows: list[list[Any]], floatfmt: str = ".3g") -> None:
        self.parts.append(tabulate(rows, headers=headers, tablefmt="github", floatfmt=floatfmt))

    def figure(self, path: pathlib.Path, caption: str) -> None:
        self.figures.append(path)
        self.parts.append(f"![{caption}]({path.name})\n\n*{caption}*")

    def claim(self, name: str, measured: float, allowed: float) -> Claim:
        c = Claim(name, float(measured), float(allowed))
        self.claims.append(c)
        return c

    def warned(self, messages: list[str], why: str) -> None:
        """State the warnings that :func:`provoking` collected, beside the numbers they explain."""
        if messages:
            self.text(f"*Warned on purpose:* {'; '.join(f'`{m}`' for m in messages)} — expected: {why}.")

    def markdown(self) -> str:
        return "\n\n".join([f"## {self.title}", *self.parts])


@contextlib.contextmanager
def provoking() -> Iterator[list[str]]:
    """Collect the AccuracyWarnings raised inside, which a section provokes on purpose, as short
    messages for :meth:`Section.warned`; other warnings pass through. Each op and forward warns
    once inside, as in a fresh process, and the block leaves the once-per-process record as it was."""
    messages: list[str] = []
    held = set(_WARNED)
    _WARNED.clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
    finally:
        _WARNED.clear()
        _WARNED.update(held)
    for w in caught:
        if issubclass(w.category, AccuracyWarning):
            messages.append(str(w.message).split(";")[0])  # what and how far, without the advice
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
