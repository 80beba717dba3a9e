"""The rows of ``spectralcore methods``: one source for its table, its ``--json`` records and the
documentation's list of methods, so the three cannot drift apart."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from .registry import MethodInfo

CLAIM_LETTERS = {"exact": "E", "bounded": "B", "traceable": "T"}
CLAIMS_LEGEND = "claims: E exact, B bounded, T traceable, F forward mode (a backward with a JVP)"
ACCURACY_LEGEND = "accuracy: the relative error claimed on the conformance suite's separated input"
PRODUCTS_LEGEND = (
    "products: n × n matrix products of one call at the defaults (a forward's sqrtm; a backward's vjp "
    "after a forward whose saved values it reuses; - where not stated)"
)


@dataclasses.dataclass(frozen=True)
class MethodRow:
    """One registered method as text: the cells of the ``spectralcore methods`` table."""

    name: str
    kind: str  # "eigh backward"
    options: str  # "degree=9, eps=0.01", or "-" without options
    claims: str  # "B T F": CLAIM_LETTERS in their order, other claims by name, F for a backward with a JVP
    accuracy: str  # "0.03", or "opted out"
    products: str  # "47", or "-" where the method states none (Method.products)
    source: str  # the plugin that registered it


def method_row(info: MethodInfo) -> MethodRow:
    """The table cells of one method."""
    order = list(CLAIM_LETTERS)
    claims = sorted(info.claims, key=lambda c: order.index(c) if c in order else len(order))
    letters = [CLAIM_LETTERS.get(c, c) for c in claims] + ["F"] * (info.forward_mode and info.kind.endswith("backward"))
    return MethodRow(
        name=info.name,
        kind=info.kind.replace("-", " "),
        options=", ".join(f"{k}={v!r}" for k, v in info.options.items()) or "-",
        claims=" ".join(letters),
        accuracy=f"{info.accuracy:g}" if info.accuracy is not None else "opted out",
        products="-" if stated_products(info) is None else str(stated_products(info)),
        source=info.source,
    )


def stated_products(info: MethodInfo) -> int | None:
    """The method's :meth:`~spectralcore.Method.products` at its defaults (None: not stated)."""
    return info.cls().products()


def method_record(info: MethodInfo) -> dict[str, Any]:
    """One method as ``spectralcore methods --json`` prints it."""
    return {
        "kind": info.kind,
        "name": info.name,
        "options": info.options,
        "claims": sorted(info.claims),
        "accuracy": info.accuracy,
        "accuracy_opt_out": info.accuracy_opt_out,
        "products": stated_products(info),
        "forward_mode": info.forward_mode,
        "reference": info.reference,
        "source": info.source,
    }


def has_third_party(infos: Iterable[MethodInfo]) -> bool:
    """Whether a method comes from outside spectralcore (the table then shows each one's source)."""
    return any(i.cls.__module__.split(".")[0] != "spectralcore" for i in infos)


def markdown_table(infos: Iterable[MethodInfo], name: Callable[[MethodInfo], str] | None = None) -> str:
    """The rows as a Markdown table with each method's reference (``spectralcore methods
    --markdown``; the README's and the documentation's tables); ``name`` formats the name cell
    (default: the name as code)."""
    infos = list(infos)
    source = has_third_party(infos)
    lines = [
        "| kind | name | options (defaults) | claims | accuracy | products | reference |"
        + (" source |" if source else ""),
        "|---|---|---|---|---|---|---|" + ("---|" if source else ""),
    ]
    for info in infos:
        row = method_row(info)
        cells = [row.kind, name(info) if name else f"`{row.name}`", f"`{row.options}`", row.claims, row.accuracy]
        cells.append(row.products)
        cells += [info.reference or "-"] + ([row.source] if source else [])
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)
