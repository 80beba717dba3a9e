"""The documentation's python blocks run as tests (tests/markdown_examples.py): none is skipped
without a reason, none is left out by its language tag, and a failing block fails the run."""

from __future__ import annotations

import ast
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
from sybil import Document
from sybil.evaluators.skip import Skipper
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

from markdown_examples import ROOT, SYBIL, example_documents

PYTHON_TAGS = {"py", "py3", "python", "python3", "pycon", "ipython"}  # only "python" blocks are run


def _literal_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(node.value.strip())


def skip_has_reason(action: str, arguments: str | None) -> bool:
    """Whether a ``skip: ACTION ARGUMENTS`` directive that skips gives its reason as a string:
    ``next "why"``, ``start "why"`` or ``next if(condition, reason="why")``; ``end`` skips nothing."""
    if action == "end":
        return True
    text = (arguments or "").strip()
    try:
        node = ast.parse("if_" + text[2:] if text.startswith("if") else text, mode="eval").body
    except SyntaxError:
        return False
    if isinstance(node, ast.Call):  # if(condition, reason="why"): without one Sybil's reason is the condition's text
        return (
            isinstance(node.func, ast.Name)
            and node.func.id == "if_"
            and len(node.args) == 1
            and [k.arg for k in node.keywords] == ["reason"]
            and _literal_text(node.keywords[0].value)
        )
    return _literal_text(node)


def test_there_are_documents_with_python_blocks():
    documents = example_documents()
    assert ROOT / "README.md" in documents
    assert sum(1 for _ in SYBIL.parse(ROOT / "README.md").examples()) >= 5  # the parser finds the README's blocks


@pytest.mark.parametrize("path", example_documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_skip_gives_a_reason(path: pathlib.Path):
    document = SYBIL.parse(path)
    reasonless = [
        f"line {example.line}: skip: {' '.join(filter(None, example.parsed))}"
        for example in document.examples()
        if isinstance(example.region.evaluator, Skipper) and not skip_has_reason(*example.parsed)
    ]
    assert not reasonless, f"a skip must say why, as in 'skip: next if(not cuda, reason=\"...\")': {reasonless}"


@pytest.mark.parametrize("path", example_documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_are_tagged_python(path: pathlib.Path):
    """A block tagged ```py, ```python3 or ```python title="x" would not run: Sybil runs ```python only."""
    document = Document(path.read_text(encoding="utf-8"), str(path))
    tags = [region.lexemes["language"] for region in FencedCodeBlockLexer(language=r".+")(document)]
    assert all(tag == "python" for tag in tags if tag.split()[0].lower() in PYTHON_TAGS), tags


@pytest.mark.parametrize(
    ("action", "arguments", "ok"),
    [
        ("next", '"needs a GPU"', True),
        ("next", 'if(not cuda, reason="needs a CUDA GPU")', True),
        ("start", "'the same'", True),
        ("end", None, True),
        ("next", None, False),
        ("start", None, False),
        ("next", "if(not cuda)", False),
        ("next", 'if(not cuda, reason="")', False),
        ("next", "reason", False),
    ],
)
def test_skip_reason_check(action, arguments, ok):
    assert skip_has_reason(action, arguments) is ok


DOCUMENTS = {
    "README.md": """
        ```python
        x = 1
        ```

        <!-- skip: next "left out, with a reason" -->
        ```python
        1 / 0
        ```

        ```python
        assert x == 1  # one namespace per document
        ```

        <!-- script: next -->
        ```python
        assert "x" not in globals()  # a fresh interpreter
        ```

        ```bash
        exit 1
        ```

        ```python
        import spectralcore as sc


        class Plugin:
            @sc.hookimpl
            def spectralcore_eigh_backward(self):
                return []


        sc.register(Plugin(), name="from-the-readme")
        ```
        """,
    "docs/guide/page.md": """
        ```python
        from spectralcore.registry import REGISTRY

        assert REGISTRY.manager.get_plugin("from-the-readme") is None  # unregistered after the README
        ```

        ```python
        1 / 0
        ```

        <!-- script: next -->
        ```python
        raise SystemExit("the script stopped")
        ```
        """,
}


def test_a_failing_block_fails_a_plain_pytest_run(tmp_path):
    """pytest with no arguments, in a copy of the project's configuration, collects README.md and
    docs/**/*.md: passing, skipped and failing blocks are reported as such, and the run fails."""
    for name in ("conftest.py", "pyproject.toml", "tests/markdown_examples.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    for name, text in DOCUMENTS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    # README: 4 blocks pass, 1 is skipped, its 2 directives pass; docs: 1 block and 1 directive pass, 2 blocks fail
    assert re.search(r"\b2 failed, 8 passed, 1 skipped\b", output), output
    assert "ZeroDivisionError" in output and "the script stopped" in output, output
    assert "SKIPPED [1] README.md:6: left out, with a reason" in output, output
