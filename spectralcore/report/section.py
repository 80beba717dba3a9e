"""A report section: prose, Markdown tables, figures, and the checked numbers tests assert on."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

from tabulate import tabulate


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

    def markdown(self) -> str:
        return "\n\n".join([f"## {self.title}", *self.parts])
