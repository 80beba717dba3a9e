"""mkdocs-gen-files script: the "Registered methods" page, written from the registry at build time.

Its cells come from ``spectralcore.method_table``, the rows ``spectralcore methods`` prints, so
the page lists exactly what the command lists (installed third-party plugins included).
"""

from __future__ import annotations

import mkdocs_gen_files

import spectralcore as sc
from spectralcore.method_table import (
    ACCURACY_LEGEND,
    CLAIMS_LEGEND,
    PRODUCTS_LEGEND,
    MethodRow,
    markdown_table,
    method_row,
)
from spectralcore.registry import KIND_BASES, MethodInfo

PAGE = "methods/registered.md"


def anchor(info: MethodInfo) -> str:
    return f"{info.kind}-{info.name}"


def forward_mode(info: MethodInfo) -> str:
    if not info.kind.endswith("backward"):
        return "not its own: a forward method is differentiated by the backward it is paired with"
    if info.forward_mode:
        return "yes: `sc.jvp`, `sc.linearize`, `jax.jvp`, `torch.func.jvp` use its JVP"
    return "no: reverse mode only (forward mode raises `sc.ForwardModeError`)"


def accuracy(info: MethodInfo, row: MethodRow) -> str:
    return f"opted out: {info.accuracy_opt_out}" if info.accuracy is None else row.accuracy


def description(info: MethodInfo) -> str:
    """The object whose docstring describes the method: its class if it has one, else its module."""
    own = info.cls.__dict__.get("__doc__") or ""
    generated = own.startswith(f"{info.cls.__name__}(")  # a dataclass's signature, not a docstring
    return f"{info.cls.__module__}.{info.cls.__qualname__}" if own and not generated else info.cls.__module__


def details(info: MethodInfo) -> list[str]:
    row = method_row(info)
    return [
        f"### `{info.name}` {{#{anchor(info)}}}",
        "",
        f"- **kind:** {row.kind}; class `{info.cls.__module__}.{info.cls.__qualname__}`, registered by `{row.source}`",
        f"- **options (defaults):** `{row.options}`",
        f"- **claims:** {', '.join(sorted(info.claims)) or 'none'}",
        f"- **claimed accuracy:** {accuracy(info, row)}",
        f"- **matrix products at the defaults:** {row.products}",
        f"- **forward mode:** {forward_mode(info)}",
        f"- **reference:** {info.reference or '-'}",
        "",
        f"::: {description(info)}",
        "    options:",
        "      show_root_heading: false",
        "      show_root_toc_entry: false",
        "      members: false",
        "      show_bases: false",
        "      show_signature: false",
        "",
    ]


def page() -> str:
    lines = [
        "# Registered methods",
        "",
        "Generated from the registry when this site was built, from the same rows as "
        "`spectralcore methods` (`spectralcore.method_table`): every built-in method and every "
        "installed plugin's. How the methods work and how they compare: [Methods](index.md).",
        "",
        f"{CLAIMS_LEGEND}; {ACCURACY_LEGEND} (n = 5, spectrum 1 … 4; see [Conformance](../plugins.md#conformance)); "
        f"{PRODUCTS_LEGEND}.",
        "",
    ]
    for kind in KIND_BASES:
        infos = sc.methods(kind)
        table = markdown_table(infos, name=lambda i: f"[`{i.name}`](#{anchor(i)})")
        lines += [f"## {kind.replace('-', ' ')}", "", table, ""]
        for info in infos:
            lines += details(info)
    return "\n".join(lines)


with mkdocs_gen_files.open(PAGE, "w") as out:
    out.write(page())
