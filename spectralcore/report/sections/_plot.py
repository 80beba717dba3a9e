"""matplotlib set-up shared by the sections (headless backend, one place)."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def save(fig: plt.Figure, path: pathlib.Path) -> pathlib.Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def subplots(ncols: int = 1, width: float = 6.0):
    return plt.subplots(1, ncols, figsize=(width * ncols, 4.0), squeeze=False)
