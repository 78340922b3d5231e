"""A one-line text progress bar for long sweeps (no tqdm dependency).

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> with Progress(total_runs=4, total_steps=400, enabled=True, stream=out) as bar:
...     bar.update(runs_done=4, steps_done=400)
>>> "sweep: 100% |####################|  4/4 runs" in out.getvalue()
True
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "format_duration", "format_rate"]

_UNITS = ("", "k", "M", "G", "T", "P")


def format_rate(value: float) -> str:
    """A count or rate in human units: ``1234 -> "1.2k"``, ``2.5e6 -> "2.5M"``.

    Parameters
    ----------
    value : float
        The number. Below 1000 it is written with three significant digits (``"999"``,
        ``"12.3"``); above, with one decimal and a k, M, G, T or P suffix.

    Returns
    -------
    str
        ``"?"`` for NaN, ``"inf"`` for infinity.
    """
    value = float(value)
    if math.isnan(value):
        return "?"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if round(value, 1) < 1000:
        return f"{sign}{value:.3g}"
    for power, unit in enumerate(_UNITS):
        scaled = value / 1000.0**power
        if round(scaled, 1) < 1000 or power == len(_UNITS) - 1:
            return f"{sign}{scaled:.1f}{unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float) -> str:
    """Seconds as ``m:ss`` or ``h:mm:ss`` (``63 -> "1:03"``); ``"?"`` when unknown.

    Parameters
    ----------
    seconds : float
        A duration; NaN, infinite or negative means unknown.

    Returns
    -------
    str
    """
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


class Progress:
    """A progress bar redrawn in place on one line, as a context manager.

    The line reads ``label: 37% |#######             | 380/1024 runs  1.2M run-steps/s
    ETA 0:03``. The percentage and ETA follow the larger of ``steps_done / total_steps`` and
    ``runs_done / total_runs``: the runs of a grid advance together, so steps move while runs
    finish late, and runs that stop early finish without doing all their steps. On exit the
    line is drawn once more with the total time and a newline, also when the block raised.

    Parameters
    ----------
    total_runs : int
        Runs in the sweep.
    total_steps : int
        Run-steps in the sweep (runs times steps per run).
    enabled : bool, optional
        True: always draw. False: never. None (default): draw when ``stream`` is a terminal
        and the code is not running under pytest (``PYTEST_CURRENT_TEST`` unset).
    stream : text stream, optional
        Where to draw; default ``sys.stderr`` at construction.
    min_interval : float
        Seconds between two redraws; :meth:`update` calls in between only store counts.
    label : str
        Text before the bar.
    width : int
        Characters inside the bar.
    clock : callable, optional
        Seconds as a float, default :func:`time.monotonic` (a fake clock makes tests exact).

    Examples
    --------
    >>> with Progress(total_runs=n, total_steps=n * steps) as bar:  # doctest: +SKIP
    ...     for s in range(steps):
    ...         bar.update(runs_done=0, steps_done=n * (s + 1))
    """

    def __init__(
        self,
        total_runs: int,
        total_steps: int,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        min_interval: float = 0.2,
        label: str = "sweep",
        width: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if total_runs < 0 or total_steps < 0:
            raise ValueError(
                f"totals must be >= 0, got total_runs={total_runs}, total_steps={total_steps}"
            )
        self.total_runs = int(total_runs)
        self.total_steps = int(total_steps)
        self.stream: TextIO = sys.stderr if stream is None else stream
        if enabled is None:
            enabled = _is_tty(self.stream) and "PYTEST_CURRENT_TEST" not in os.environ
        self.enabled = bool(enabled)
        self.min_interval = float(min_interval)
        self.label = label
        self.width = max(1, int(width))
        self._clock = clock
        self.runs_done = 0
        self.steps_done = 0
        self._start: float | None = None
        self._last_draw = -math.inf
        self._last_length = 0
        self._closed = False

    def __enter__(self) -> Progress:
        self._start = self._clock()
        self._draw(self._start)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def fraction(self) -> float:
        """Share done in [0, 1]: the larger of the step and run shares (1 if both totals are 0)."""
        shares = []
        if self.total_steps > 0:
            shares.append(self.steps_done / self.total_steps)
        if self.total_runs > 0:
            shares.append(self.runs_done / self.total_runs)
        return min(1.0, max(0.0, *shares)) if shares else 1.0

    @property
    def elapsed(self) -> float:
        """Seconds since the bar started (0 before)."""
        return 0.0 if self._start is None else max(0.0, self._clock() - self._start)

    def update(self, runs_done: int | None = None, steps_done: int | None = None) -> None:
        """Record cumulative counts; redraw if ``min_interval`` has passed since the last.

        Parameters
        ----------
        runs_done : int, optional
            Runs finished so far (unchanged when None).
        steps_done : int, optional
            Run-steps done so far (unchanged when None).
        """
        if runs_done is not None:
            self.runs_done = runs_done
        if steps_done is not None:
            self.steps_done = steps_done
        if not self.enabled or self._closed:
            return
        now = self._clock()
        if self._start is None:
            self._start = now
        if now - self._last_draw >= self.min_interval:
            self._draw(now)

    def close(self) -> None:
        """Draw the final line (total time, newline); later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            self._write("\r" + self._pad(self.render(final=True)) + "\n")

    def render(self, final: bool = False) -> str:
        """The bar's text, without the carriage return or newline.

        Parameters
        ----------
        final : bool
            End with the total time instead of the ETA.

        Returns
        -------
        str
        """
        fraction = self.fraction
        filled = int(fraction * self.width)
        bar = "#" * filled + " " * (self.width - filled)
        elapsed = self.elapsed
        rate = self.steps_done / elapsed if elapsed > 0 else math.nan
        parts = [
            f"{self.label}: {int(fraction * 100):3d}% |{bar}|",
            f"{self.runs_done}/{self.total_runs} runs",
            f"{format_rate(rate)} run-steps/s",
        ]
        if final:
            parts.append(f"in {format_duration(elapsed)}")
        else:
            remaining = math.nan
            if fraction >= 1.0:
                remaining = 0.0
            elif fraction > 0 and elapsed > 0:
                remaining = elapsed * (1.0 - fraction) / fraction
            parts.append(f"ETA {format_duration(remaining)}")
        return "  ".join(parts)

    def _pad(self, line: str) -> str:
        padded = line.ljust(self._last_length)
        self._last_length = len(line)
        return padded

    def _draw(self, now: float) -> None:
        if not self.enabled:
            return
        self._last_draw = now
        self._write("\r" + self._pad(self.render()))

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False  # a closed or broken stream must not stop the sweep
