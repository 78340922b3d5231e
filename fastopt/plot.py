"""Output plumbing of the experiments: headless matplotlib figures saved as PNG, and CSV."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """Matplotlib's pyplot, on the Agg backend when there is no display to draw on.

    The switch happens only before pyplot is first imported, so that figures a user already
    has open are left alone.
    """
    import matplotlib

    headless = not (
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("MPLBACKEND")
    )
    if (
        headless
        and sys.platform not in ("darwin", "win32")
        and "matplotlib.pyplot" not in sys.modules
    ):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG (folders created), close it, and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


def write_csv(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write ``header`` and ``rows`` as a CSV file (folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path
