"""``spectralcore`` command line: ``methods`` lists the registry, ``conformance`` runs the suite,
``report`` reproduces the papers' numbers."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pathlib
import sys

from . import __version__, methods
from .method_table import (
    ACCURACY_LEGEND,
    CLAIMS_LEGEND,
    PRODUCTS_LEGEND,
    has_third_party,
    markdown_table,
    method_record,
    method_row,
)
from .registry import load_plugin

KINDS = ("eigh-forward", "eigh-backward", "sqrtm-forward", "sqrtm-backward")


def _methods(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    infos = methods(args.kind)
    if args.json:
        print(json.dumps([method_record(i) for i in infos], indent=1, default=repr))
        return 0
    if args.markdown:
        print(markdown_table(infos))
        return 0
    show_source = has_third_party(infos)
    console = Console()
    show_products = bool(args.kind) or console.width >= 100  # else the options column has no room
    legends = [CLAIMS_LEGEND, ACCURACY_LEGEND] + [PRODUCTS_LEGEND] * show_products
    table = Table(
        title="registered methods",
        caption="; ".join(legends) + " (--json adds references" + ("" if show_products else " and products") + ")",
    )
    table.add_column("name", no_wrap=True)
    if not args.kind:
        table.add_column("kind", no_wrap=True)
    table.add_column("options (defaults)")
    table.add_column("claims", no_wrap=True)
    table.add_column("accuracy")
    if show_products:
        table.add_column("products", justify="right", no_wrap=True)
    if show_source:
        table.add_column("source")
    for row in map(method_row, infos):
        cells = [row.name] + ([] if args.kind else [row.kind]) + [row.options, row.claims, row.accuracy]
        cells += [row.products] * show_products + [row.source] * show_source
        table.add_row(*cells)
    console.print(table)
    return 0


def _conformance(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from .conformance import fuzz, run

    console = Console()
    dtypes = args.dtype or ["float32", "float64"]
    why = _empty_selection(args)
    if why:
        console.print(f"[red]nothing to run: {why}")
        return 2
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("conformance", total=None)
        report = run(
            args.method,
            kind=args.kind,
            backends=args.backend,
            devices=args.device,
            dtypes=dtypes,
            progress=lambda label: progress.update(task, description=label, advance=1),
        )
    table = Table(
        "kind",
        "method",
        "backend/device",
        "passed",
        "worst measured ÷ allowed",
        "in check (dtype, input)",
        title="spectralcore conformance",
    )
    for row in report.summary():
        worst = row.worst
        colour = "red" if not worst.passed else "yellow" if worst.close else "green"
        table.add_row(
            row.kind,
            row.method,
            row.backend,
            f"[{'green' if row.passed == row.total else 'red'}]{row.passed}/{row.total}",
            f"[{colour}]{worst.margin:.2g}" + (" (within 10%)" if worst.close else ""),
            f"{worst.check} ({worst.dtype}, {worst.case}): {worst.measured:.3g} of {worst.allowed:.3g}",
        )
    console.print(table)
    if args.verbose:
        for result in report.results:
            console.print(str(result), style="red" if not result.passed else "yellow" if result.close else None)
    for label, why in report.opt_outs.items():
        console.print(
            f"[yellow]agreement not checked for {label} (it opts out: {why}); its gradient's direction and scale were"
        )
    for label, value in report.suggestions().items():
        console.print(
            f"[red]{label} states no accuracy claim: its agreement checks measured a worst float64 error that "
            f'suggests declaring `accuracy = {value}` (or `accuracy_opt_out = "<reason>"` if it promises none)'
        )
    for label in report.reverse_only:
        console.print(f"[yellow]forward mode not checked for {label}: it defines no jvp (reverse mode only)")
    for failure in report.failures:
        console.print(f"[red]{failure}")
    if args.json:
        pathlib.Path(args.json).write_text(report.to_json())
        console.print(f"results written to {args.json}")
    console.print(f"{len(report.results) - len(report.failures)} passed, {len(report.failures)} failed")
    passed = report.passed
    if args.fuzz:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("fuzz", total=None)
            fuzzed = fuzz(
                args.method,
                kind=args.kind,
                cases=args.fuzz,
                seed=args.seed,
                backends=args.backend,
                devices=args.device,
                dtypes=dtypes,
                save_dir=args.fuzz_dir,
                progress=lambda label: progress.update(task, description=label, advance=1),
            )
        table = Table(
            "method",
            "op",
            "backend",
            "dtype",
            "cases",
            "non-finite",
            "over bound",
            "worst ‖gA‖/‖g‖",
            title=f"degenerate-input fuzzing (seed {args.seed})",
        )
        for r in fuzzed.results:
            colour = "green" if r.passed else "red"
            table.add_row(
                r.method,
                r.op,
                f"{r.backend}/{r.device}",
                r.dtype,
                str(r.cases),
                f"[{colour}]{r.nonfinite}",
                f"[{colour}]{r.over_bound}",
                f"{r.worst_ratio:.2g}",
            )
        console.print(table)
        for r in fuzzed.results:
            if not r.passed:
                console.print(f"[red]{r}")
        passed = passed and fuzzed.passed
    return 0 if passed else 1


def _empty_selection(args: argparse.Namespace) -> str:
    """Why the selected methods × backends × devices is empty ("" when it is not)."""
    from .conformance import available
    from .conformance.backends import NAMES

    if not methods(args.kind):
        return f"no registered method of kind {args.kind!r}"
    if not list(available(args.backend, args.device)):
        asked = ", ".join(args.backend or NAMES)
        return (
            f"none of the backends ({asked}) is installed with a device in {args.device or ['cpu', 'cuda']} "
            "here (a CUDA device needs a GPU that the backend sees)"
        )
    return ""


def _no_cuda() -> str:
    """Why torch cannot time on CUDA here ("" when it can)."""
    try:
        timing = importlib.import_module("spectralcore.adapters.torch_timing")
    except ImportError:
        return "torch is not installed (the speed section times torch)"
    return timing.no_cuda()


def _report(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from .report import SECTIONS, Config, build

    cfg = Config(
        pathlib.Path(args.out).resolve(),
        quick=not args.full,
        device=args.device,
        backends=tuple(args.backend) if args.backend else None,
    )
    console = Console()
    if args.device == "cuda" and "torch" in (args.backend or ["torch"]) and (why := _no_cuda()):
        console.print(f"[red]--device cuda: {why}; run without --device for the CPU report")
        return 2
    with Progress(console=console) as progress:
        task = progress.add_task("report", total=len(SECTIONS))
        sections = build(cfg, progress=lambda name: progress.update(task, description=f"section: {name}", advance=1))
        progress.update(task, completed=len(SECTIONS), description="done")
    table = Table("section", "claim", "measured", "allowed", "holds", title="spectralcore report: stated claims")
    for section in sections:
        for c in section.claims:
            table.add_row(
                section.title.split(":")[0],
                c.name,
                f"{c.measured:.3g}",
                f"{c.allowed:.3g}",
                "[green]yes" if c.holds else "[red]no",
            )
    console.print(table)
    console.print(f"report written to {cfg.out / 'report.md'} (plots beside it)")
    return 0 if all(c.holds for s in sections for c in s.claims) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spectralcore")
    parser.add_argument("--version", action="version", version=f"spectralcore {__version__}")
    plugins = argparse.ArgumentParser(add_help=False)
    plugins.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE[:OBJECT]",
        help="register a plugin that is not installed (repeatable), e.g. my_pkg.plugin, imported from the "
        "current folder or sys.path",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    meth = sub.add_parser("methods", help="list every registered method", parents=[plugins])
    meth.add_argument("--kind", choices=KINDS, help="only methods of this kind")
    meth.add_argument("--json", action="store_true", help="print JSON instead of a table")
    meth.add_argument("--markdown", action="store_true", help="print a Markdown table with references")
    conf = sub.add_parser("conformance", help="run the conformance suite on the installed backends", parents=[plugins])
    conf.add_argument("--method", action="append", help="a registered method name (repeatable; default: all)")
    conf.add_argument("--kind", choices=KINDS, help="only methods of this kind")
    conf.add_argument("--backend", action="append", help="numpy, array_api_strict, torch, jax, cupy (repeatable)")
    conf.add_argument("--device", action="append", choices=("cpu", "cuda"), help="repeatable; default: all")
    conf.add_argument("--dtype", action="append", choices=("float32", "float64"), help="repeatable; default: both")
    conf.add_argument("--json", help="also write every result to this JSON file")
    conf.add_argument(
        "-v", "--verbose", action="store_true", help="list every check with its measured and allowed value"
    )
    conf.add_argument(
        "--fuzz",
        type=int,
        default=0,
        metavar="N",
        help="also fuzz the bounded claim with N seeded degenerate inputs per op, backend and dtype",
    )
    conf.add_argument("--seed", type=int, default=0, help="fuzzing seed (default 0)")
    conf.add_argument(
        "--fuzz-dir",
        default="spectralcore-fuzz",
        help="where the first failing input of each fuzzed combination is saved (default ./spectralcore-fuzz)",
    )
    rep = sub.add_parser(
        "report", help="reproduce the papers' numerical results (Markdown + PNG plots)", parents=[plugins]
    )
    size = rep.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes, < 3 minutes on 2 CPU cores (default)")
    size.add_argument("--full", action="store_true", help="the papers' sizes")
    rep.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    rep.add_argument(
        "--backend",
        action="append",
        choices=("torch", "jax"),
        help="framework timed in the speed section (repeatable; default: each one installed)",
    )
    rep.add_argument("--out", default="spectralcore-report", help="output folder (default: ./spectralcore-report)")
    args = parser.parse_args(argv)
    if args.plugin:  # found where the author works, as `python -m` and pytest find them
        sys.path.insert(0, os.getcwd())
    try:
        for spec in args.plugin:
            load_plugin(spec, unclaimed=args.command == "conformance")  # conformance measures a missing claim
        if args.command == "methods":
            return _methods(args)
        if args.command == "report":
            return _report(args)
        return _conformance(args)
    except ValueError as error:  # unknown method, backend, plugin or option: one line, no traceback
        print(f"spectralcore {args.command}: error: {error}", file=sys.stderr)
        return 2
