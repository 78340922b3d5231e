"""Results of a hyperparameter sweep: one row per trained network.

:class:`SweepResult` holds what the grid engine returns: a table of *config* columns (the grid
axes: optimizer, lr, seed, ...) followed by *metric* columns (per-run results: final loss,
divergence, ...), the loss curve of every run recorded every ``record_every`` steps, and
optionally every run's final parameters. It selects, ranks, merges, prints and plots runs.

Matplotlib is imported only by the plot methods. On a headless machine (no ``DISPLAY``, no
``MPLBACKEND``) they switch matplotlib to the ``Agg`` backend before importing pyplot, unless
pyplot was already imported (the caller has chosen a backend then).
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fastopt.plot import pyplot

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["SweepResult"]

_REDUCERS: dict[str, Callable[[np.ndarray], Any]] = {
    "median": np.median,
    "mean": np.mean,
    "min": np.min,
    "max": np.max,
}
# Filter values of these types are sets of allowed values rather than one value.
_COLLECTIONS = (list, tuple, set, frozenset, range, np.ndarray)
_FLOAT_RTOL = 1e-6


# --------------------------------------------------------------------------------------------
# Scalar helpers
# --------------------------------------------------------------------------------------------


def _py(value: Any) -> Any:
    """A NumPy scalar as the matching Python scalar; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _is_number(value: Any) -> bool:
    """True for real numbers (Python or NumPy), False for bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_nan(value: Any) -> bool:
    return _is_number(value) and math.isnan(value)


def _scalar_equal(a: Any, b: Any) -> bool:
    """Filter equality of two Python scalars: None only equals None, floats within 1e-6."""
    if a is None or b is None:
        return a is b
    if _is_number(a) and _is_number(b):
        if isinstance(a, numbers.Integral) and isinstance(b, numbers.Integral):
            return int(a) == int(b)
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return fa == fb or abs(fa - fb) <= _FLOAT_RTOL * abs(fb)
    if isinstance(a, (bool, np.bool_)) != isinstance(b, (bool, np.bool_)):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _equal_mask(column: np.ndarray, value: Any) -> np.ndarray:
    """Which entries of a column equal ``value`` (see :meth:`SweepResult.select`).

    Parameters
    ----------
    column : numpy.ndarray, shape (n_runs,)
        One column.
    value : object
        A scalar.

    Returns
    -------
    numpy.ndarray of bool, shape (n_runs,)
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    value = _py(value)
    n = column.shape[0]
    kind = column.dtype.kind
    if kind == "f":
        if not _is_number(value):
            return np.zeros(n, dtype=bool)
        if math.isnan(value):
            return np.isnan(column)
        return np.isclose(column, float(value), rtol=_FLOAT_RTOL, atol=0.0)
    if kind in "iu":
        if not _is_number(value):
            return np.zeros(n, dtype=bool)
        return np.asarray(column == value, dtype=bool)
    if kind == "b":
        if not isinstance(value, (bool, np.bool_)):
            return np.zeros(n, dtype=bool)
        return column == bool(value)
    if kind in "US":
        if not isinstance(value, (str, bytes)):
            return np.zeros(n, dtype=bool)
        return np.asarray(column == value, dtype=bool)
    return np.fromiter((_scalar_equal(_py(v), value) for v in column), dtype=bool, count=n)


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


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Order of categories: numbers ascending (NaN last among them), then text, then None."""
    value = _py(value)
    if value is None:
        return (3, 0.0, "")
    if isinstance(value, (bool, np.bool_)) or _is_number(value):
        f = float(value)
        return (1, f, "") if math.isnan(f) else (0, f, "")
    return (2, 0.0, str(value))


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


def _format(value: Any, float_format: str = "%.4g") -> str:
    """One value as table or label text: floats through ``float_format``."""
    value = _py(value)
    if value is None:
        return "None"
    if isinstance(value, (bool, numbers.Integral)):
        return str(value)
    if isinstance(value, numbers.Real):
        return float_format % value
    return str(value)


def _as_float(column: np.ndarray, name: str) -> np.ndarray:
    """A numeric column as float64, None as NaN; ValueError for text.

    Parameters
    ----------
    column : numpy.ndarray, shape (n_runs,)
        One column.
    name : str
        Its name, for the error message.

    Returns
    -------
    numpy.ndarray of float64, shape (n_runs,)
    """
    if column.dtype.kind in "biuf":
        return column.astype(np.float64)
    out = np.empty(column.shape[0], dtype=np.float64)
    for k, v in enumerate(column):
        v = _py(v)
        if v is None:
            out[k] = np.nan
        elif isinstance(v, (bool, numbers.Real)):
            out[k] = float(v)
        else:
            raise ValueError(f"column {name!r} is not numeric: it holds {v!r}")
    return out


def _is_continuous(column: np.ndarray) -> bool:
    """Numeric columns without None are colored on a colormap; others by category."""
    if column.dtype.kind in "iuf":
        return True
    if column.dtype.kind != "O" or column.shape[0] == 0:
        return False
    return all(_is_number(_py(v)) for v in column)


def _safe_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _concat_columns(arrays: list[np.ndarray]) -> np.ndarray:
    try:
        return np.concatenate(arrays)
    except (TypeError, ValueError):
        return np.concatenate([a.astype(object) for a in arrays])


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


# --------------------------------------------------------------------------------------------
# SweepResult
# --------------------------------------------------------------------------------------------


class SweepResult:
    """The runs of a sweep: config and metric columns, loss curves, optional parameters.

    Parameters
    ----------
    configs : mapping of str to array_like, each shape (n_runs,)
        The grid axes of each run, e.g. ``{"optimizer": ["adam", "sgd"], "lr": [0.1, 0.1]}``.
        Object arrays may hold ``None`` (e.g. ``gc=None``, ``batch_size=None`` for full batch).
    metrics : mapping of str to array_like, each shape (n_runs,)
        Per-run results, e.g. ``final_loss``, ``best_loss``, ``steps_to_target`` (-1: never),
        ``diverged`` (bool), ``diverged_at`` (-1: did not). A ``diverged`` column is used by
        :meth:`best`, :meth:`plot_curves` and :meth:`plot_heatmap`.
    curves : array_like of float, shape (n_runs, n_records)
        The loss recorded every ``record_every`` steps, NaN after a run stopped. Stored as
        float64.
    record_every : int
        Steps between two records; record ``k`` was taken at step ``k * record_every``.
    params : array_like, shape (n_runs, n_params), optional
        Final parameters of every run, flat in ``layout``'s order.
    layout : fastopt.Layout, optional
        The layout of ``params``; kept as is.
    info : mapping, optional
        Free-form metadata (steps, stop thresholds, model, timings...), kept as a dict.

    Raises
    ------
    ValueError
        A column that is not 1-D, columns of different lengths, a name in both ``configs``
        and ``metrics``, ``curves`` not 2-D or with a row count other than ``n_runs``,
        ``params`` likewise, or ``record_every < 1``.

    Examples
    --------
    >>> r = SweepResult(
    ...     configs={"optimizer": ["sgd", "adam"], "lr": [0.1, 0.01]},
    ...     metrics={"final_loss": [0.5, 0.25], "diverged": [False, False]},
    ...     curves=[[1.0, 0.5], [1.0, 0.25]],
    ...     record_every=10,
    ... )
    >>> len(r), r.columns
    (2, ['optimizer', 'lr', 'final_loss', 'diverged'])
    >>> r.best()["optimizer"]
    'adam'
    >>> r.steps
    array([ 0, 10])
    """

    def __init__(
        self,
        configs: Mapping[str, Any],
        metrics: Mapping[str, Any],
        curves: Any,
        record_every: int,
        params: Any = None,
        layout: Any = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        columns: dict[str, np.ndarray] = {}
        names: dict[str, list[str]] = {"config": [], "metric": []}
        n_runs: int | None = None
        first = ""
        for kind, mapping in (("config", configs), ("metric", metrics)):
            if not isinstance(mapping, Mapping):
                raise TypeError(f"{kind}s must be a mapping of column name to values")
            for name, values in mapping.items():
                if not isinstance(name, str) or not name:
                    raise ValueError(f"{kind} column names must be non-empty strings, got {name!r}")
                if name in columns:
                    raise ValueError(f"column {name!r} is both a config and a metric")
                arr = np.asarray(values)
                if arr.ndim != 1:
                    raise ValueError(
                        f"{kind} column {name!r} must be 1-D (n_runs,), got shape {arr.shape}"
                    )
                if n_runs is None:
                    n_runs, first = arr.shape[0], name
                elif arr.shape[0] != n_runs:
                    raise ValueError(
                        f"{kind} column {name!r} has {arr.shape[0]} values, "
                        f"but column {first!r} has {n_runs}"
                    )
                columns[name] = arr
                names[kind].append(name)

        curves = np.asarray(curves, dtype=np.float64)
        if curves.ndim != 2:
            raise ValueError(f"curves must be 2-D (n_runs, n_records), got shape {curves.shape}")
        if n_runs is None:
            n_runs = curves.shape[0]
        elif curves.shape[0] != n_runs:
            raise ValueError(
                f"curves has {curves.shape[0]} rows, but column {first!r} has {n_runs} runs"
            )
        if isinstance(record_every, (bool, np.bool_)) or not isinstance(
            record_every, numbers.Integral
        ):
            raise TypeError(f"record_every must be an int, got {record_every!r}")
        if record_every < 1:
            raise ValueError(f"record_every must be at least 1, got {record_every}")
        if params is not None:
            params = np.asarray(params)
            if params.ndim != 2 or params.shape[0] != n_runs:
                raise ValueError(
                    f"params must have shape (n_runs, n_params) = ({n_runs}, n_params), "
                    f"got {params.shape}"
                )
        if info is not None and not isinstance(info, Mapping):
            raise TypeError(f"info must be a mapping or None, got {type(info).__name__}")

        self._columns = columns
        self._config_names = names["config"]
        self._metric_names = names["metric"]
        self._n_runs = int(n_runs)
        self._curves = curves
        self._record_every = int(record_every)
        self._params = params
        self._layout = layout
        self._info: dict[str, Any] = dict(info) if info is not None else {}

    # ---------------------------------------------------------------------------- accessors

    def __len__(self) -> int:
        return self._n_runs

    @property
    def columns(self) -> list[str]:
        """Config column names, then metric column names."""
        return self._config_names + self._metric_names

    @property
    def config_names(self) -> list[str]:
        """Names of the config columns (the grid axes), in order."""
        return list(self._config_names)

    @property
    def metric_names(self) -> list[str]:
        """Names of the metric columns, in order."""
        return list(self._metric_names)

    def __getitem__(self, name: str) -> np.ndarray:
        """Column ``name``, shape (n_runs,)."""
        try:
            return self._columns[name]
        except (KeyError, TypeError):
            raise KeyError(f"no column {name!r}; columns are {self.columns}") from None

    @property
    def curves(self) -> np.ndarray:
        """Loss curves, float64 of shape (n_runs, n_records); NaN after a run stopped."""
        return self._curves

    @property
    def n_records(self) -> int:
        """Number of records per curve."""
        return self._curves.shape[1]

    @property
    def record_every(self) -> int:
        """Steps between two curve records."""
        return self._record_every

    @property
    def steps(self) -> np.ndarray:
        """Step of each curve record, int64 of shape (n_records,): 0, record_every, ..."""
        return np.arange(self.n_records, dtype=np.int64) * self._record_every

    @property
    def params(self) -> np.ndarray | None:
        """Final parameters, shape (n_runs, n_params), or None when not kept."""
        return self._params

    @property
    def layout(self) -> Any:
        """The :class:`fastopt.Layout` of :attr:`params`, or None."""
        return self._layout

    @property
    def info(self) -> dict[str, Any]:
        """Free-form metadata of the sweep."""
        return self._info

    def row(self, i: int) -> dict[str, Any]:
        """Run ``i`` as a dict of column name to Python scalar (negative ``i`` counts back).

        Parameters
        ----------
        i : int
            Run index.

        Returns
        -------
        dict
            Config then metric values of run ``i``.
        """
        i = operator.index(i)
        if not -self._n_runs <= i < self._n_runs:
            raise IndexError(f"run {i} out of range for a result of {self._n_runs} runs")
        return {name: _py(self._columns[name][i]) for name in self.columns}

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each run as :meth:`row` gives it, in order."""
        for i in range(self._n_runs):
            yield self.row(i)

    def to_pandas(self) -> pd.DataFrame:
        """The config and metric columns as a pandas DataFrame (one row per run, no curves).

        Returns
        -------
        pandas.DataFrame
            Shape (n_runs, n_columns).

        Raises
        ------
        ImportError
            When pandas is not installed (``pip install "fastopt[pandas]"``).
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                'SweepResult.to_pandas needs pandas; install it with pip install "fastopt[pandas]"'
            ) from exc
        return pd.DataFrame({name: self._columns[name] for name in self.columns})

    # -------------------------------------------------------------------- selecting, ranking

    def _require(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self._columns:
            raise ValueError(f"unknown column {name!r}; columns are {self.columns}")
        return self._columns[name]

    def _take(self, index: np.ndarray) -> SweepResult:
        index = np.asarray(index, dtype=np.intp)
        return SweepResult(
            configs={name: self._columns[name][index] for name in self._config_names},
            metrics={name: self._columns[name][index] for name in self._metric_names},
            curves=self._curves[index],
            record_every=self._record_every,
            params=None if self._params is None else self._params[index],
            layout=self._layout,
            info=self._info,
        )

    def select(self, **filters: Any) -> SweepResult:
        """The runs that match every filter, as a new result (curves and params follow).

        Parameters
        ----------
        **filters
            ``column=condition``. A condition is

            - a scalar: equality. ``None`` matches only None; on float columns a number
              matches within a relative 1e-6 (``np.isclose(..., rtol=1e-6, atol=0)``), so
              ``lr=0.1`` finds an lr stored as ``float(np.float32(0.1))``;
            - a list, tuple, set, range or array: any of these values;
            - a callable: a predicate called with each run's value as a Python scalar.

        Returns
        -------
        SweepResult
            The matching runs in their original order; empty (``len == 0``) when none match.

        Raises
        ------
        ValueError
            An unknown column.

        Examples
        --------
        >>> r.select(optimizer=["adam", "sgd"], lr=lambda lr: lr <= 0.01)  # doctest: +SKIP
        """
        mask = np.ones(self._n_runs, dtype=bool)
        for name, condition in filters.items():
            column = self._require(name)
            if callable(condition):
                hit = np.fromiter(
                    (bool(condition(_py(v))) for v in column), dtype=bool, count=self._n_runs
                )
            elif isinstance(condition, _COLLECTIONS) and not (
                isinstance(condition, np.ndarray) and condition.ndim == 0
            ):
                hit = np.zeros(self._n_runs, dtype=bool)
                for value in condition:
                    hit |= _equal_mask(column, value)
            else:
                hit = _equal_mask(column, condition)
            mask &= hit
        return self._take(np.flatnonzero(mask))

    def _ranking(self, by: str, lower: bool) -> tuple[np.ndarray, str]:
        """Indices of the rankable runs, best first, and a reason when there are none."""
        values = _as_float(self._require(by), by)
        finite = np.isfinite(values)
        if by == "steps_to_target":
            finite &= values >= 0  # -1: the target was never reached
        diverged = np.zeros(self._n_runs, dtype=bool)
        if "diverged" in self._columns and by != "diverged":
            diverged = _as_float(self._columns["diverged"], "diverged") > 0
        valid = finite & ~diverged
        candidates = np.flatnonzero(valid)
        key = values[candidates] if lower else -values[candidates]
        order = candidates[np.argsort(key, kind="stable")]
        if self._n_runs == 0:
            reason = "the result has no runs"
        else:
            reason = (
                f"no run can be ranked by {by!r}: of {self._n_runs} runs, "
                f"{int(diverged.sum())} diverged and {int((~finite & ~diverged).sum())} more "
                f"have no finite {by}"
            )
        return order, reason

    def best(
        self, by: str = "final_loss", n: int | None = None, lower: bool = True
    ) -> dict[str, Any] | SweepResult:
        """The best run, or the ``n`` best runs, by one column.

        Runs whose ``by`` value is NaN or infinite, and runs flagged in a ``diverged`` column,
        are never ranked. For ``by="steps_to_target"`` a negative value (-1: never reached)
        counts as missing too. Ties keep run order.

        Parameters
        ----------
        by : str
            The numeric column to rank by.
        n : int, optional
            None: return the single best run as a dict. An int: return up to ``n`` best
            runs (fewer when fewer can be ranked) as a :class:`SweepResult`, best first.
        lower : bool
            True: lower is better (losses). False: higher is better (accuracies).

        Returns
        -------
        dict or SweepResult
            ``row()`` of the best run when ``n`` is None, else a result of ``min(n, k)`` runs.

        Raises
        ------
        ValueError
            An unknown or non-numeric column, ``n < 1``, or no run that can be ranked
            (all diverged or NaN, or no runs at all).
        """
        order, reason = self._ranking(by, lower)
        if n is not None:
            n = operator.index(n)
            if n < 1:
                raise ValueError(f"n must be at least 1, got {n}")
        if order.size == 0:
            raise ValueError(reason)
        if n is None:
            return self.row(int(order[0]))
        return self._take(order[:n])

    # ------------------------------------------------------------------------------ merging

    def with_info(self, info: Mapping[str, Any], layout: Any = None) -> SweepResult:
        """The same runs with ``info`` (and ``layout``, if given) in place of this one's."""
        return SweepResult(
            {name: self[name] for name in self.config_names},
            {name: self[name] for name in self.metric_names},
            self.curves,
            self.record_every,
            self.params,
            self.layout if layout is None else layout,
            info,
        )

    @classmethod
    def concat(cls, results: Iterable[SweepResult]) -> SweepResult:
        """Several results as one, runs in the given order (e.g. chunks of one sweep).

        Parameters
        ----------
        results : iterable of SweepResult
            Results with the same config and metric columns (column order is taken from the
            first) and the same ``record_every``.

        Returns
        -------
        SweepResult
            All runs. Curves shorter than the longest are padded with NaN. ``params`` are
            concatenated when every result has them (same ``n_params``), else None. The
            layout is the first one given. ``info`` keeps the entries equal in all results,
            plus ``info["chunks"]``, the list of every result's info, when there are several.

        Raises
        ------
        ValueError
            No results, different columns or ``record_every``, or params of different widths.
        """
        results = list(results)
        if not results:
            raise ValueError("concat needs at least one SweepResult")
        for k, r in enumerate(results):
            if not isinstance(r, SweepResult):
                raise TypeError(f"result {k} is a {type(r).__name__}, not a SweepResult")
        first = results[0]
        for k, r in enumerate(results[1:], start=1):
            for what, mine, theirs in (
                ("config", first._config_names, r._config_names),
                ("metric", first._metric_names, r._metric_names),
            ):
                if set(mine) != set(theirs):
                    missing = sorted(set(mine) - set(theirs))
                    extra = sorted(set(theirs) - set(mine))
                    raise ValueError(
                        f"result {k} has other {what} columns than result 0: "
                        f"missing {missing}, extra {extra}"
                    )
            if r._record_every != first._record_every:
                raise ValueError(
                    f"result {k} records every {r._record_every} steps, "
                    f"result 0 every {first._record_every}"
                )

        n_records = max(r.n_records for r in results)
        n_runs = sum(len(r) for r in results)
        curves = np.full((n_runs, n_records), np.nan)
        start = 0
        for r in results:
            curves[start : start + len(r), : r.n_records] = r._curves
            start += len(r)

        params = None
        if all(r._params is not None for r in results):
            widths = {r._params.shape[1] for r in results}
            if len(widths) > 1:
                raise ValueError(f"params have different widths across results: {sorted(widths)}")
            params = np.concatenate([r._params for r in results])
        layout = next((r._layout for r in results if r._layout is not None), None)

        info = {
            key: value
            for key, value in first._info.items()
            if all(key in r._info and _safe_equal(r._info[key], value) for r in results[1:])
        }
        if len(results) > 1:
            info["chunks"] = [dict(r._info) for r in results]

        def merged(names: list[str]) -> dict[str, np.ndarray]:
            return {name: _concat_columns([r._columns[name] for r in results]) for name in names}

        return cls(
            configs=merged(first._config_names),
            metrics=merged(first._metric_names),
            curves=curves,
            record_every=first._record_every,
            params=params,
            layout=layout,
            info=info,
        )

    # ----------------------------------------------------------------------------- printing

    def __repr__(self) -> str:
        return (
            f"SweepResult(n_runs={self._n_runs}, columns={self.columns!r}, "
            f"n_records={self.n_records})"
        )

    def table(
        self,
        max_rows: int | None = 20,
        sort_by: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> str:
        """The runs as a plain-text table, one line per run, floats as ``%.4g``.

        Parameters
        ----------
        max_rows : int or None
            Show at most this many runs (a last line says how many were left out);
            None shows all.
        sort_by : str, optional
            Sort runs by this column, ascending with NaN and None last; prefix ``-`` for
            descending (``"-val_accuracy"``). Default: run order.
        columns : sequence of str, optional
            The columns to show; default all.

        Returns
        -------
        str
            Header, rule, one line per run; the first column is the run index.
        """
        names = self.columns if columns is None else list(columns)
        for name in names:
            self._require(name)
        order = np.arange(self._n_runs)
        if sort_by is not None:
            descending = sort_by.startswith("-") and sort_by not in self._columns
            key_name = sort_by[1:] if descending else sort_by
            column = self._require(key_name)
            keys = [_sort_key(v) for v in column]
            # Missing values (None, NaN) stay last in both directions.
            missing = [k[0] in (1, 3) for k in keys]
            present = [i for i in range(self._n_runs) if not missing[i]]
            present.sort(key=lambda i: keys[i], reverse=descending)
            order = np.array(present + [i for i in range(self._n_runs) if missing[i]], dtype=int)
        shown = order if max_rows is None else order[: max(0, int(max_rows))]

        header = ["run", *names]
        right = [True] + [self._columns[n].dtype.kind in "biuf" for n in names]
        body = [[str(i)] + [_format(self._columns[n][i]) for n in names] for i in shown]
        widths = [max(len(row[c]) for row in [header, *body]) for c in range(len(header))]

        def line(cells: list[str]) -> str:
            return "  ".join(
                cell.rjust(w) if r else cell.ljust(w)
                for cell, w, r in zip(cells, widths, right, strict=True)
            ).rstrip()

        lines = [line(header), "  ".join("-" * w for w in widths)]
        lines += [line(row) for row in body]
        if self._n_runs == 0:
            lines.append("(no runs)")
        elif len(shown) < self._n_runs:
            lines.append(f"... {self._n_runs - len(shown)} more runs ({self._n_runs} in all)")
        return "\n".join(lines)

    # ----------------------------------------------------------------------------- plotting

    def plot_curves(
        self,
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
        plt = pyplot()
        import matplotlib
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import LogNorm, Normalize, to_rgba
        from matplotlib.lines import Line2D

        if color_by is not None:
            self._require(color_by)
        label_names = [label_by] if isinstance(label_by, str) else list(label_by or [])
        for name in label_names:
            self._require(name)
        if max_runs is not None and operator.index(max_runs) < 0:
            raise ValueError(f"max_runs must be >= 0 or None, got {max_runs}")
        if ax is None:
            _, ax = plt.subplots(layout="constrained")

        n_shown = self._n_runs if max_runs is None else min(self._n_runs, int(max_runs))
        colors: list[Any] = [None] * n_shown
        legend_handles: list[Line2D] = []
        if color_by is not None and n_shown > 0:
            column = self._columns[color_by][:n_shown]
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
        steps = self.steps
        diverged = self._columns.get("diverged")
        marks: list[tuple[float, float, Any]] = []
        all_positive, drawn = True, False
        for i in range(n_shown):
            curve = self._curves[i]
            finite = np.flatnonzero(np.isfinite(curve))
            if finite.size == 0:
                continue
            last = finite[-1]
            kw = dict(kwargs)
            if colors[i] is not None:
                kw["color"] = colors[i]
            if label_names:
                kw["label"] = ", ".join(
                    f"{name}={_format(self._columns[name][i], '%g')}" for name in label_names
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
        diverged_handle = Line2D(
            [], [], color="0.2", marker="x", linestyle="none", label="diverged"
        )
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
        if n_shown < self._n_runs:
            note = f"first {n_shown} of {self._n_runs} runs shown"
            title = ax.get_title()
            ax.set_title(f"{title}\n{note}" if title else note)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        return ax

    def plot_heatmap(
        self,
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
        ValueError
            Unknown columns, ``x == y``, an unknown ``reduce``, a non-numeric ``value``, no
            runs, or ``logx`` set for a non-numeric (or, for True, non-positive) ``x``.
        """
        plt = pyplot()
        import matplotlib
        from matplotlib.colors import LogNorm, Normalize
        from matplotlib.patches import Rectangle
        from matplotlib.ticker import NullLocator

        x_column, y_column = self._require(x), self._require(y)
        if x == y:
            raise ValueError(f"x and y must be different columns, got {x!r} twice")
        if reduce not in _REDUCERS:
            raise ValueError(f"reduce must be one of {sorted(_REDUCERS)}, got {reduce!r}")
        values = _as_float(self._require(value), value)
        if self._n_runs == 0:
            raise ValueError("the result has no runs to plot")

        x_cats, x_codes = _categories(x_column)
        y_cats, y_codes = _categories(y_column)
        nx, ny = len(x_cats), len(y_cats)
        diverged = np.zeros(self._n_runs, dtype=bool)
        if "diverged" in self._columns and value != "diverged":
            diverged = _as_float(self._columns["diverged"], "diverged") > 0
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
