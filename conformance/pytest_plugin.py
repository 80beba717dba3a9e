"""pytest plugin (entry point ``pytest11``): ``pytest --spectralcore-conformance`` adds the
conformance suite to any test run, one test per method × backend × dtype × check.

Options: ``--sc-method NAME``, ``--sc-kind KIND``, ``--sc-backend NAME``, ``--sc-device cpu|cuda``
(each repeatable except kind); ``--sc-plugin MODULE[:OBJECT]`` registers a plugin that is not
installed; ``--sc-fuzz N`` adds one fuzzing test per bounded method × op ×
backend × dtype with N seeded degenerate inputs (``--sc-seed``).
"""

from __future__ import annotations

import pathlib

import pytest

SUITE = pathlib.Path(__file__).with_name("suite.py")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spectralcore")
    group.addoption(
        "--spectralcore-conformance",
        action="store_true",
        help="run the spectralcore conformance suite on the installed backends",
    )
    group.addoption("--sc-method", action="append", help="only this registered method (repeatable)")
    group.addoption("--sc-kind", help="only methods of this kind (e.g. eigh-backward)")
    group.addoption("--sc-backend", action="append", help="numpy, array_api_strict, torch, jax, cupy (repeatable)")
    group.addoption("--sc-device", action="append", choices=("cpu", "cuda"), help="repeatable")
    group.addoption(
        "--sc-plugin",
        action="append",
        default=[],
        metavar="MODULE[:OBJECT]",
        help="register a plugin that is not installed before the suite runs (repeatable)",
    )
    group.addoption(
        "--sc-fuzz",
        type=int,
        default=0,
        metavar="N",
        help="also fuzz the bounded claim with N degenerate inputs per method, op, backend and dtype",
    )
    group.addoption("--sc-seed", type=int, default=0, help="fuzzing seed")


def pytest_configure(config: pytest.Config) -> None:
    from spectralcore.registry import load_plugin

    for spec in config.getoption("sc_plugin"):
        load_plugin(spec, unclaimed=True)  # a method without a claim is measured, and told what to declare


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("spectralcore_conformance"):
        return

    def expand(node: pytest.Collector) -> list[pytest.Item]:
        out: list[pytest.Item] = []
        for child in node.collect():
            out.extend([child] if isinstance(child, pytest.Item) else expand(child))
        return out

    items.extend(expand(pytest.Module.from_parent(session, path=SUITE)))
