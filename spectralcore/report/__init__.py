"""``spectralcore report``: the papers' numerical results reproduced side by side with ours.

Sections (one module each in ``sections/``): the TPAMI 2021 proposition and gradient size
against the gap; ICCV 2021 Table 6; ICLR 2022 Fig. 1c/1d; NeurIPS 2019 Table 1; speed;
degenerate-input fuzzing of the bounded claim; accuracy against the condition number.
"""

from __future__ import annotations

import datetime
import importlib
import platform
from collections.abc import Callable

from .section import Claim, Config, Section

SECTIONS = ("proposition", "pade_table", "iterative", "power_iterations", "speed", "fuzzing", "conditioning")


def build(
    cfg: Config, progress: Callable[[str], None] | None = None, sections: tuple[str, ...] = SECTIONS
) -> list[Section]:
    """Run the sections and write ``report.md`` (and the PNG plots) into ``cfg.out``."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    done = []
    for name in sections:
        if progress:
            progress(name)
        done.append(importlib.import_module(f"{__name__}.sections.{name}").run(cfg))
    claims = [c for s in done for c in s.claims]
    header = (
        f"# spectralcore report\n\n{datetime.datetime.now():%Y-%m-%d %H:%M}, "
        f"{'quick' if cfg.quick else 'full'} mode, device {cfg.device}, Python {platform.python_version()} "
        f"on {platform.machine()}. Each section puts the paper's value next to ours. "
        f"{sum(c.holds for c in claims)} of {len(claims)} stated claims hold."
    )
    (cfg.out / "report.md").write_text("\n\n".join([header] + [s.markdown() for s in done]) + "\n")
    return done


__all__ = ["Claim", "Config", "SECTIONS", "Section", "build"]
