"""Griffe extension for the API reference: spectralcore's docstrings as Markdown.

The docstrings are prose in reST habits: Sphinx roles (:func:`eigh`), doctest examples (``>>>``)
and ``::`` before a literal block. This turns roles into code spans, doctests into fenced
``pycon`` blocks and a closing ``::`` into ``:``. It also fills in the docstrings a module assigns
at import time (``sqrtm.__doc__ = _DOC.format(...)``), which static analysis cannot see.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|exc|obj):`~?([^`]+)`")
LITERAL_MARKER = re.compile(r"::$", re.MULTILINE)


def fence_doctests(text: str) -> str:
    """Wrap each run of doctest lines (``>>>`` up to the next blank line) in a ``pycon`` fence."""
    out: list[str] = []
    indent = None  # the open fence's indentation, None outside a doctest
    for line in text.splitlines():
        if indent is None and line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
        elif indent is not None and not line.strip():
            out.append(f"{indent}```")
            indent = None
        out.append(line)
    if indent is not None:
        out.append(f"{indent}```")
    return "\n".join(out)


def markdown(text: str) -> str:
    """A reST-flavoured docstring as Markdown."""
    return fence_doctests(LITERAL_MARKER.sub(":", ROLE.sub(r"`\1`", text)))


class DocstringsAsMarkdown(griffe.Extension):
    """Converts every docstring with :func:`markdown`; takes a public module-level function's
    docstring from the imported function when the source has none."""

    def on_instance(self, *, obj: griffe.Object, agent: griffe.Visitor | griffe.Inspector, **kwargs: Any) -> None:
        if obj.docstring is None and obj.is_function and obj.parent is not None and obj.parent.is_module:
            if not obj.name.startswith("_"):
                obj.docstring = self._runtime(obj, agent)
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)

    @staticmethod
    def _runtime(obj: griffe.Object, agent: griffe.Visitor | griffe.Inspector) -> griffe.Docstring | None:
        try:
            doc = getattr(griffe.dynamic_import(obj.path), "__doc__", None)
        except ImportError:
            return None
        if not doc:
            return None
        return griffe.Docstring(
            inspect.cleandoc(doc), parent=obj, parser=agent.docstring_parser, parser_options=agent.docstring_options
        )
