"""Plots and output plumbing: a sweep's loss curves and heatmaps, headless figures, CSV.

:func:`plot_curves` and :func:`plot_heatmap` draw a :class:`~fastopt.results.SweepResult`
(its methods of the same names call them). Matplotlib is imported only when something is drawn;
on a headless machine (no ``DISPLAY``, no ``MPLBACKEND``) :func:`pyplot` switches it to the
``Agg`` backend first, unless pyplot was already imported (the caller has chosen a backend then).
The experiments save their figures with :func:`save` and their tables with :func:`write_csv`.
"""

from __future__ import annotations

import csv
import math
import operator
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

# The column semantics (what is a number, how values sort and print) are results.py's: the
# plots reuse them so that a heatmap's rows sort and read like table()'s.
from fastopt.results import SweepResult, _as_float, _format, _is_number, _py, _sort_key

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_curves", "plot_heatmap", "pyplot", "save", "write_csv"]


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


# --------------------------------------------------------------------------------------------
# Sweep plots
# --------------------------------------------------------------------------------------------

_REDUCERS: dict[str, Callable[[np.ndarray], Any]] = {
    "median": np.median,
    "mean": np.mean,
    "min": np.min,
    "max": np.max,
}


def _is_nan(value: Any) -> bool:
    return _is_number(value) and math.isnan(value)


def _category_key(value: Any) -> tuple[int, Any]:
    """A hashable key under which equal values (1 and 1.0, all NaNs) fall together."""
    value = _py(value)
    if value is None:
        return (0, None)
    if _is_nan(value):
        return (1, None)
    try:
        hash(value)
    except TypeError:
        return (3, repr(value))
    return (2, value)


def _categories(column: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """The sorted distinct values of a column and each run's index among them.

    Parameters
    ----------
    column : numpy.ndarray, shape (n_runs,)
        One column.

    Returns
    -------
    categories : list
        Distinct values as Python scalars, sorted by :func:`_sort_key`.
    codes : numpy.ndarray of int64, shape (n_runs,)
        ``categories[codes[i]]`` is run ``i``'s value.
    """
    first: dict[tuple[int, Any], Any] = {}
    keys = []
    for v in column:
        key = _category_key(v)
        keys.append(key)
        first.setdefault(key, _py(v))
    ordered = sorted(first, key=lambda k: _sort_key(first[k]))
    index = {key: k for k, key in enumerate(ordered)}
    codes = np.fromiter((index[key] for key in keys), dtype=np.int64, count=len(keys))
    return [first[key] for key in ordered], codes


def _is_continuous(column: np.ndarray) -> bool:
    """Numeric columns without None are colored on a colormap; others by category."""
    if column.dtype.kind in "iuf":
        return True
    if column.dtype.kind != "O" or column.shape[0] == 0:
        return False
    return all(_is_number(_py(v)) for v in column)


def _palette(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinct colors: tab10, tab20, then samples of a continuous map."""
    import matplotlib

    if n <= 10:
        colors = matplotlib.colormaps["tab10"].colors
    elif n <= 20:
        colors = matplotlib.colormaps["tab20"].colors
    else:
        cmap = matplotlib.colormaps["turbo"]
        return [cmap(t) for t in np.linspace(0.05, 0.95, n)]
    return [(*c[:3], 1.0) for c in colors[:n]]


def _cell_edges(centers: np.ndarray) -> np.ndarray:
    """Edges half way between sorted cell centers, the outer ones mirrored."""
    if centers.size == 1:
        return np.array([centers[0] - 0.5, centers[0] + 0.5])
    mid = (centers[1:] + centers[:-1]) / 2
    return np.concatenate(([2 * centers[0] - mid[0]], mid, [2 * centers[-1] - mid[-1]]))


def _check_result(result: Any) -> None:
    if not isinstance(result, SweepResult):
        raise TypeError(f"result must be a SweepResult, got {type(result).__name__}")


def _column(result: SweepResult, name: Any) -> np.ndarray:
    """Column ``name``; unlike ``result[name]`` a ValueError (a bad argument) when unknown."""
    if not isinstance(name, str) or name not in result.columns:
        raise ValueError(f"unknown column {name!r}; columns are {result.columns}")
    return result[name]


def plot_curves(
    result: SweepResult,
    ax: Axes | None = None,
    color_by: str | None = None,
    label_by: str | Sequence[str] | None = None,
    logy: bool = True,
    ylim: tuple[float, float] | None = None,
    max_runs: int | None = 200,
    **line_kwargs: Any,
) -> Axes:
    """Every run's loss curve against the step.

    One line per run with at least one finite record, drawn up to its last finite
    record (the NaN tail after a run stopped is not drawn). A run flagged in the
    ``diverged`` column gets an ``x`` on its last finite point.

    Parameters
    ----------
    result : SweepResult
        The runs; ``result.plot_curves(...)`` is the same call.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure (constrained layout).
    color_by : str, optional
        Color runs by this column. Numeric columns (without None) use the viridis
        colormap with a colorbar, logarithmic when all values are positive and span a
        factor of 100 or more (learning rates); other columns get one color per value
        and a legend.
    label_by : str or sequence of str, optional
        Label each line ``"name=value"`` (several columns joined by ", ") and draw a
        legend of the distinct labels.
    logy : bool
        Logarithmic loss axis, when every drawn loss is positive (else linear).
    ylim : (float, float), optional
        Loss-axis limits.
    max_runs : int or None
        Draw only the first ``max_runs`` runs and say so in the title; None draws all.
    **line_kwargs
        Passed to ``Axes.plot`` (defaults: ``linewidth=1``, ``alpha=0.8``); ``color`` is
        overridden by ``color_by``.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, with one ``Line2D`` per drawn run in ``ax.lines`` and the divergence
        marks as one collection in ``ax.collections``.
    """
    _check_result(result)
    plt = pyplot()
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm, Normalize, to_rgba
    from matplotlib.lines import Line2D

    n_runs, curves = len(result), result.curves
    if color_by is not None:
        _column(result, color_by)
    label_names = [label_by] if isinstance(label_by, str) else list(label_by or [])
    for name in label_names:
        _column(result, name)
    if max_runs is not None and operator.index(max_runs) < 0:
        raise ValueError(f"max_runs must be >= 0 or None, got {max_runs}")
    if ax is None:
        _, ax = plt.subplots(layout="constrained")

    n_shown = n_runs if max_runs is None else min(n_runs, int(max_runs))
    colors: list[Any] = [None] * n_shown
    legend_handles: list[Line2D] = []
    if color_by is not None and n_shown > 0:
        column = result[color_by][:n_shown]
        if _is_continuous(column):
            values = _as_float(column, color_by)
            finite = values[np.isfinite(values)]
            lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
            norm = LogNorm(lo, hi) if lo > 0 and hi >= 100 * lo else Normalize(lo, hi)
            cmap = matplotlib.colormaps["viridis"]
            colors = [cmap(norm(v)) if np.isfinite(v) else "0.5" for v in values]
            mappable = ScalarMappable(norm=norm, cmap=cmap)
            ax.figure.colorbar(mappable, ax=ax, label=color_by)
        else:
            categories, codes = _categories(column)
            palette = _palette(len(categories))
            colors = [palette[c] for c in codes]
            legend_handles = [
                Line2D([], [], color=palette[k], label=_format(cat, "%g"))
                for k, cat in enumerate(categories)
            ]

    kwargs = dict(line_kwargs)
    if "lw" not in kwargs:
        kwargs.setdefault("linewidth", 1.0)
    kwargs.setdefault("alpha", 0.8)
    steps = result.steps
    diverged = result["diverged"] if "diverged" in result.columns else None
    marks: list[tuple[float, float, Any]] = []
    all_positive, drawn = True, False
    for i in range(n_shown):
        curve = curves[i]
        finite = np.flatnonzero(np.isfinite(curve))
        if finite.size == 0:
            continue
        last = finite[-1]
        kw = dict(kwargs)
        if colors[i] is not None:
            kw["color"] = colors[i]
        if label_names:
            kw["label"] = ", ".join(
                f"{name}={_format(result[name][i], '%g')}" for name in label_names
            )
        (line,) = ax.plot(steps[: last + 1], curve[: last + 1], **kw)
        all_positive = all_positive and bool(np.all(curve[finite] > 0))
        drawn = True
        if diverged is not None and bool(diverged[i]):
            marks.append((steps[last], curve[last], line.get_color()))

    if marks:
        ax.scatter(
            [m[0] for m in marks],
            [m[1] for m in marks],
            marker="x",
            c=np.array([to_rgba(m[2]) for m in marks]),
            s=40,
            linewidths=1.5,
            zorder=3,
        )
    diverged_handle = Line2D([], [], color="0.2", marker="x", linestyle="none", label="diverged")
    if label_names:
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        handles = list(unique.values()) + ([diverged_handle] if marks else [])
        ax.legend(handles=handles, fontsize="small")
    elif legend_handles:
        handles = legend_handles + ([diverged_handle] if marks else [])
        ax.legend(handles=handles, title=color_by, fontsize="small")

    if logy and drawn and all_positive:
        ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(ylim)
    if n_shown < n_runs:
        note = f"first {n_shown} of {n_runs} runs shown"
        title = ax.get_title()
        ax.set_title(f"{title}\n{note}" if title else note)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    return ax


def plot_heatmap(
    result: SweepResult,
    x: str = "lr",
    y: str = "optimizer",
    value: str = "final_loss",
    reduce: str = "median",
    ax: Axes | None = None,
    logx: bool | None = None,
    cmap: Any = "viridis",
    annotate: bool = True,
    log_color: bool = True,
) -> Axes:
    """A grid of ``value`` over two columns, aggregated over all other columns.

    Each cell holds ``reduce`` of ``value`` over the runs with that ``x`` and ``y``,
    leaving out runs whose value is not finite and runs flagged in the ``diverged``
    column (unless ``value`` is ``"diverged"`` itself: ``reduce="mean"`` then maps
    divergence rates). A cell whose runs all diverged is grey and reads ``div``; a cell
    with no runs, or no finite value, is left blank.

    Parameters
    ----------
    result : SweepResult
        The runs; ``result.plot_heatmap(...)`` is the same call.
    x, y : str
        Columns along the horizontal and vertical axes. Their distinct values are sorted
        (numbers numerically, then text, then None) and labelled ``%g`` for numbers.
        Text ``y`` reads top-down; numeric ``y`` increases upwards.
    value : str
        The numeric column to aggregate.
    reduce : {"median", "mean", "min", "max"}
        How a cell aggregates its runs.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure (constrained layout).
    logx : bool, optional
        None (default): the ``x`` values are evenly spaced categories. True / False:
        ``x`` must be numeric and cells sit at their values on a logarithmic / linear
        axis, each reaching half way to its neighbours.
    cmap : str or matplotlib.colors.Colormap
        Colormap of the values.
    annotate : bool
        Write each cell's value (``%.3g``) in it.
    log_color : bool
        Logarithmic color scale when every cell value is positive.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``. ``ax.collections[0]`` is the ``QuadMesh`` whose array, shape
        (n_y, n_x), holds the cell values (masked where blank or diverged); the ``div``
        cells are ``Rectangle`` patches in ``ax.patches``.

    Raises
    ------
    TypeError
        ``result`` is not a SweepResult.
    ValueError
        Unknown columns, ``x == y``, an unknown ``reduce``, a non-numeric ``value``, no
        runs, or ``logx`` set for a non-numeric (or, for True, non-positive) ``x``.
    """
    _check_result(result)
    plt = pyplot()
    import matplotlib
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import NullLocator

    n_runs = len(result)
    x_column, y_column = _column(result, x), _column(result, y)
    if x == y:
        raise ValueError(f"x and y must be different columns, got {x!r} twice")
    if reduce not in _REDUCERS:
        raise ValueError(f"reduce must be one of {sorted(_REDUCERS)}, got {reduce!r}")
    values = _as_float(_column(result, value), value)
    if n_runs == 0:
        raise ValueError("the result has no runs to plot")

    x_cats, x_codes = _categories(x_column)
    y_cats, y_codes = _categories(y_column)
    nx, ny = len(x_cats), len(y_cats)
    diverged = np.zeros(n_runs, dtype=bool)
    if "diverged" in result.columns and value != "diverged":
        diverged = _as_float(result["diverged"], "diverged") > 0
    ok = np.isfinite(values) & ~diverged
    grid = np.full((ny, nx), np.nan)
    div_only = np.zeros((ny, nx), dtype=bool)
    most_runs = 0
    cell = y_codes * nx + x_codes
    for c in np.unique(cell):
        in_cell = cell == c
        j, i = divmod(int(c), nx)
        good = values[in_cell & ok]
        most_runs = max(most_runs, good.size)
        if good.size:
            grid[j, i] = float(_REDUCERS[reduce](good))
        elif diverged[in_cell].all():
            div_only[j, i] = True

    if logx is None:
        x_centers = np.arange(nx, dtype=np.float64)
        x_edges = np.arange(nx + 1, dtype=np.float64) - 0.5
    else:
        if not all(_is_number(v) and not math.isnan(v) for v in x_cats):
            raise ValueError(f"logx needs a numeric x column; {x!r} holds {x_cats}")
        x_centers = np.array(x_cats, dtype=np.float64)
        if logx:
            if np.any(x_centers <= 0):
                raise ValueError(f"logx=True needs positive {x!r} values, got {x_cats}")
            x_edges = 10.0 ** _cell_edges(np.log10(x_centers))
        else:
            x_edges = _cell_edges(x_centers)
    y_edges = np.arange(ny + 1, dtype=np.float64) - 0.5

    filled = grid[np.isfinite(grid)]
    if filled.size == 0:
        norm: Normalize = Normalize(0.0, 1.0)
    elif log_color and filled.min() > 0:
        norm = LogNorm(filled.min(), filled.max())
    else:
        norm = Normalize(filled.min(), filled.max())
    colormap = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    colormap = colormap.with_extremes(bad=(1.0, 1.0, 1.0, 0.0))

    if ax is None:
        _, ax = plt.subplots(layout="constrained")
    mesh = ax.pcolormesh(
        x_edges, y_edges, np.ma.masked_invalid(grid), cmap=colormap, norm=norm, shading="flat"
    )
    if logx:
        ax.set_xscale("log")
    for j, i in zip(*np.nonzero(div_only), strict=True):
        ax.add_patch(
            Rectangle(
                (x_edges[i], y_edges[j]),
                x_edges[i + 1] - x_edges[i],
                1.0,
                facecolor="0.75",
                edgecolor="none",
            )
        )
        ax.text(x_centers[i], j, "div", ha="center", va="center", color="0.2", fontsize=8)
    if annotate:
        for j, i in zip(*np.nonzero(np.isfinite(grid)), strict=True):
            level = np.ma.filled(np.ravel(norm(grid[j, i])), 0.0)[0]  # vmin == vmax: masked
            r, g, b, _ = colormap(float(level))
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            ax.text(
                x_centers[i],
                j,
                f"{grid[j, i]:.3g}",
                ha="center",
                va="center",
                color="white" if dark else "black",
                fontsize=8,
            )

    ax.set_xticks(x_centers, labels=[_format(v, "%g") for v in x_cats])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yticks(np.arange(ny), labels=[_format(v, "%g") for v in y_cats])
    ax.set_xlim(x_edges[0], x_edges[-1])
    if all(_is_number(v) for v in y_cats):
        ax.set_ylim(y_edges[0], y_edges[-1])
    else:
        ax.set_ylim(y_edges[-1], y_edges[0])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    label = value if most_runs <= 1 else f"{value} ({reduce})"
    ax.figure.colorbar(mesh, ax=ax, label=label)
    return ax
