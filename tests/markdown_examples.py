"""The ```python blocks of README.md and docs/**/*.md, run as tests by Sybil.

The root ``conftest.py`` installs the two pytest hooks below. A document's blocks run in order
in one namespace. Directives, in HTML comments right before a block:

* ``<!-- skip: next if(not cuda, reason="needs a CUDA GPU") -->`` skips it where the condition,
  evaluated in the namespace (``cuda`` set by an earlier block), holds: Sybil's skip;
  ``tests/test_docs_examples.py`` requires a reason on every skip;
* ``<!-- script: next -->`` runs it as a script in a fresh interpreter, for examples that set up
  their own process (``XLA_FLAGS`` before jax is imported, ``mp.spawn`` re-importing ``__main__``);
* ``<!-- clear-namespace -->`` empties the namespace.

Plugins a document registers are unregistered after it, so they do not reach other tests.
"""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Generator, Iterable
from typing import Any

import pytest
from sybil import Document, Example, Region, Sybil
from sybil.evaluators.python import PythonEvaluator, pad
from sybil.integration.pytest import SybilItem
from sybil.parsers.markdown import ClearNamespaceParser, PythonCodeBlockParser, SkipParser
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT_TIMEOUT = 300  # seconds for a `script: next` block


def is_example_document(path: pathlib.Path) -> bool:
    """README.md at the root and every .md file under docs/."""
    path = path.resolve()
    return path == ROOT / "README.md" or (path.suffix == ".md" and ROOT / "docs" in path.parents)


def example_documents() -> list[pathlib.Path]:
    return sorted(path for path in [ROOT / "README.md", *ROOT.glob("docs/**/*.md")] if path.is_file())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_script(example: Example) -> str | None:
    """Run a python block as a script in a fresh interpreter; its output on failure, else None.

    It runs in an empty temporary folder, with the block's own line numbers in tracebacks and a
    free ``MASTER_PORT`` (torch.distributed examples take it with ``os.environ.setdefault``)."""
    with tempfile.TemporaryDirectory() as folder:
        script = pathlib.Path(folder) / f"{pathlib.Path(example.path).name}.py"
        script.write_text(pad(example.parsed, example.line + example.parsed.line_offset), encoding="utf-8")
        env = dict(os.environ, MASTER_PORT=str(_free_port()))
        command = [sys.executable, str(script)]
        with subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                stdout, stderr = process.communicate(timeout=SCRIPT_TIMEOUT)
                failure = None if process.returncode == 0 else f"exited with {process.returncode}"
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the script and the processes it started
                stdout, stderr = process.communicate()
                failure = f"timed out after {SCRIPT_TIMEOUT} s"
    return failure and f"the block run as a script {failure}\nstdout:\n{stdout[-3000:]}\nstderr:\n{stderr[-6000:]}"


class ScriptParser:
    """``<!-- script: next -->``: the next example, a python block, runs through :func:`run_script`."""

    def __init__(self) -> None:
        self.lexer = DirectiveInHTMLCommentLexer("script")

    def __call__(self, document: Document) -> Iterable[Region]:
        for lexed in self.lexer(document):
            if lexed.lexemes["arguments"] != "next":
                raise ValueError(
                    f"{document.path}: expected 'script: next', got 'script: {lexed.lexemes['arguments']}'"
                )
            yield Region(lexed.start, lexed.end, None, self.evaluate)

    def evaluate(self, example: Example) -> str | None:
        if example.region.evaluator == self.evaluate:  # the directive: take over the next example
            example.document.push_evaluator(self.evaluate)
            return None
        example.document.pop_evaluator(self.evaluate)
        if not isinstance(example.region.evaluator, PythonEvaluator):
            raise ValueError(f"'script: next' must come right before a python block, not {example.region!r}")
        return run_script(example)


_plugins_before: dict[int, set[Any]] = {}


def _registry() -> Any:
    # imported here, not when the conftest loads: test modules import torch before spectralcore
    from spectralcore.registry import REGISTRY

    return REGISTRY


def setup(namespace: dict[str, Any]) -> None:
    _plugins_before[id(namespace)] = set(_registry().manager.get_plugins())


def teardown(namespace: dict[str, Any]) -> None:
    registry = _registry()
    for plugin in set(registry.manager.get_plugins()) - _plugins_before.pop(id(namespace)):
        registry.unregister(plugin)
    namespace.clear()


SYBIL = Sybil(
    parsers=[SkipParser(), ClearNamespaceParser(), ScriptParser(), PythonCodeBlockParser()],
    patterns=["*.md"],  # which .md files: is_example_document
    path=str(ROOT),
    setup=setup,
    teardown=teardown,
)
_collect = SYBIL.pytest()


def pytest_collect_file(file_path: pathlib.Path, parent: Any) -> Any:
    """pytest hook (the root conftest.py re-exports the hooks): Sybil collects the example documents."""
    return _collect(file_path, parent) if is_example_document(file_path) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """pytest hook: a skipped block is reported at its own line, not where Sybil raised the skip."""
    report = yield
    if report.skipped and isinstance(item, SybilItem) and isinstance(report.longrepr, tuple):
        report.longrepr = (item.example.path, item.example.line, report.longrepr[2])
    return report
