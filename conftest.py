"""At the root so that pytest collects README.md too: the python blocks of README.md and
docs/**/*.md run as tests (tests/markdown_examples.py)."""

from markdown_examples import pytest_collect_file, pytest_runtest_makereport

__all__ = ["pytest_collect_file", "pytest_runtest_makereport"]
