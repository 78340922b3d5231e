"""The progress bar of long sweeps, drawn by tqdm (a text line, or a widget in a notebook).

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> with Progress(total_runs=4, total_steps=400, enabled=True, stream=out) as bar:
...     bar.update(runs_done=4, steps_done=400)
>>> "sweep: 100%" in out.getvalue() and "4/4 runs" in out.getvalue()
True
"""

from __future__ import annotations

import math
import os
import sys
from types import TracebackType
from typing import Any, TextIO

__all__ = ["Progress"]

# tqdm's own [elapsed<remaining], then the postfix (", " included by tqdm) that
# Progress.update writes: runs finished and run-steps per second.
_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def _in_notebook() -> bool:
    """Whether ``tqdm.auto`` draws a notebook widget here (a Jupyter kernel with ipywidgets)."""
    import tqdm.auto  # noqa: F401  (imports tqdm.autonotebook with its warning silenced)
    from tqdm.autonotebook import tqdm as chosen
    from tqdm.std import tqdm as text

    return chosen is not text


def _tqdm_class(text: bool) -> type:
    """The text bar of tqdm, or the choice of ``tqdm.auto`` (a notebook's widget, else text).

    Imported on use, not with this module, so that ``import fastopt`` does not pay for tqdm
    (and the asyncio that ``tqdm.auto`` imports) when no bar is drawn.
    """
    if text:
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm


class Progress:
    """A sweep's progress bar, as a context manager: a tqdm bar fed absolute counts.

    The line reads ``sweep:  37%|███▋      | [00:10<00:16, 380/1024 runs, 3.80k run-steps/s]``
    (elapsed < ETA, runs finished / runs in the grid, run-steps trained per second); in a
    Jupyter notebook (``tqdm.auto``) it is a widget instead. The percentage and ETA follow the
    larger of ``steps_done / total_steps`` and ``runs_done / total_runs``: the runs of a grid
    advance together, so steps move while runs finish late, and runs that stop early finish
    without doing all their steps. On exit the bar is drawn once more and closed, also when
    the block raised.

    Parameters
    ----------
    total_runs : int
        Runs in the sweep.
    total_steps : int
        Run-steps in the sweep (runs times steps per run).
    enabled : bool, optional
        True: always draw. False: never (tqdm is not even imported). None (default): draw when
        ``stream`` is a terminal, or when it is not given and the code runs in a Jupyter
        kernel (where stderr is no terminal), and never under pytest
        (``PYTEST_CURRENT_TEST`` set).
    stream : text stream, optional
        Draw a text bar there (tqdm's ``file``). Default: ``tqdm.auto`` on ``sys.stderr``,
        i.e. a widget in a notebook and a text line elsewhere.
    min_interval : float
        Seconds between two redraws (tqdm's ``mininterval``); :meth:`update` calls in between
        only store counts.
    label : str
        Text before the bar (tqdm's ``desc``).

    Raises
    ------
    ValueError
        A negative total.

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
    ) -> None:
        if total_runs < 0 or total_steps < 0:
            raise ValueError(
                f"totals must be >= 0, got total_runs={total_runs}, total_steps={total_steps}"
            )
        self.total_runs = int(total_runs)
        self.total_steps = int(total_steps)
        self.runs_done = 0
        self.steps_done = 0
        self.min_interval = float(min_interval)
        self.label = label
        self._stream = stream
        # tqdm's counter runs to this many units: steps when known, else runs (shares are
        # turned into whole units because a notebook's widget holds an int).
        self._units = self.total_steps or self.total_runs or 1
        self._bar: Any = None
        self._closed = False
        if enabled is None:
            enabled = "PYTEST_CURRENT_TEST" not in os.environ and (
                _is_tty(sys.stderr if stream is None else stream)
                or (stream is None and _in_notebook())
            )
        self.enabled = bool(enabled)
        self._base = _tqdm_class(text=stream is not None) if self.enabled else None

    def __enter__(self) -> Progress:
        if self.enabled and self._bar is None and not self._closed:
            self._bar = self._base(
                total=self._units,
                desc=self.label,
                file=self._stream,
                bar_format=_BAR_FORMAT,
                postfix=self._postfix(math.nan),
                mininterval=self.min_interval,
                miniters=0,  # every update may redraw, given min_interval (no guessed step)
                smoothing=0,  # ETA from the average rate: sweep updates come in uneven waves
                dynamic_ncols=True,
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _postfix(self, rate: float) -> str:
        rate_text = "?" if math.isnan(rate) else self._base.format_sizeof(rate)
        return f"{self.runs_done}/{self.total_runs} runs, {rate_text} run-steps/s"

    @property
    def fraction(self) -> float:
        """Share done in [0, 1]: the larger of the step and run shares (1 if both totals are 0)."""
        shares = []
        if self.total_steps > 0:
            shares.append(self.steps_done / self.total_steps)
        if self.total_runs > 0:
            shares.append(self.runs_done / self.total_runs)
        return min(1.0, max(0.0, *shares)) if shares else 1.0

    def update(self, runs_done: int, steps_done: int) -> None:
        """Record cumulative counts (not increments); redraw when ``min_interval`` has passed.

        The sweep's progress callback: ``callback(runs_done, steps_done)``.

        Parameters
        ----------
        runs_done : int
            Runs finished so far.
        steps_done : int
            Run-steps trained so far.
        """
        self.runs_done = int(runs_done)
        self.steps_done = int(steps_done)
        bar = self._bar
        if bar is None:
            return
        # tqdm's counter holds the share done, which counts a run that stopped early as
        # finished; the rate must count only the steps trained, so it is worked out here.
        elapsed = bar.format_dict["elapsed"]
        bar.set_postfix_str(
            self._postfix(self.steps_done / elapsed if elapsed > 0 else math.nan), refresh=False
        )
        # tqdm counts increments and is given totals here: pass the difference (tqdm takes
        # a negative one, should a count go back).
        bar.update(round(self.fraction * self._units) - bar.n)

    def close(self) -> None:
        """Draw the final state and end the line; later calls do nothing."""
        self._closed = True
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.close()
