"""``spectralcore`` command line: ``methods`` lists the registry."""

from __future__ import annotations

import argparse

from . import methods


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spectralcore")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("methods", help="list every registered method")
    args = parser.parse_args(argv)
    if args.command == "methods":
        for info in methods():
            print(info)
    return 0
