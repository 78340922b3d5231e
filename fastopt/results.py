"""Results of a hyperparameter sweep: one row per trained network.

:class:`SweepResult` holds what the grid engine returns: a table of *config* columns (the grid
axes: optimizer, lr, seed, ...) followed by *metric* columns (per-run results: final loss,
divergence, ...), the loss curve of every run recorded every ``record_every`` steps, and
optionally every run's final parameters. It selects, ranks, merges and prints runs; its plots
live in :mod:`fastopt.plot` (``plot_curves``, ``plot_heatmap``), which the methods of the same
names call, so that matplotlib is imported only when something is drawn.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import EllipsisType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["SweepResult"]

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


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Order of categories: numbers ascending (NaN last among them), then text, then None."""
    value = _py(value)
    if value is None:
        return (3, 0.0, "")
    if isinstance(value, (bool, np.bool_)) or _is_number(value):
        f = float(value)
        return (1, f, "") if math.isnan(f) else (0, f, "")
    return (2, 0.0, str(value))


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
        return self.replace(
            configs={name: self._columns[name][index] for name in self._config_names},
            metrics={name: self._columns[name][index] for name in self._metric_names},
            curves=self._curves[index],
            params=None if self._params is None else self._params[index],
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

    def replace(
        self,
        *,
        configs: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        curves: Any = None,
        record_every: int | None = None,
        params: Any = ...,
        layout: Any = ...,
        info: Mapping[str, Any] | None | EllipsisType = ...,
    ) -> SweepResult:
        """A new result with the given parts in place of this one's, the rest kept.

        Like :func:`dataclasses.replace`: what is not given is kept, ``layout`` and ``info``
        included, and the new result is validated as the constructor validates. This result
        is not modified; the parts kept are shared with it, not copied.

        Parameters
        ----------
        configs, metrics : mapping of str to array_like, each shape (n_runs,), optional
            All the config (metric) columns, in order; None keeps this result's.
        curves : array_like of float, shape (n_runs, n_records), optional
            None keeps this result's.
        record_every : int, optional
            None keeps this result's.
        params : array_like, shape (n_runs, n_params), or None, optional
            ``...`` (default) keeps this result's; None drops them.
        layout : fastopt.Layout or None, optional
            ``...`` (default) keeps this result's; None drops it.
        info : mapping or None, optional
            ``...`` (default) keeps this result's; None leaves an empty dict.

        Returns
        -------
        SweepResult

        Raises
        ------
        ValueError, TypeError
            As the constructor: e.g. ``configs`` for another number of runs than the curves.

        Examples
        --------
        >>> r = SweepResult({"lr": [0.1, 1.0]}, {"final_loss": [0.5, 0.2]}, [[1.0], [1.0]], 10,
        ...                 info={"steps": 10})
        >>> r2 = r.replace(metrics={"final_loss": r["final_loss"], "score": [1.0, 2.0]})
        >>> r2.metric_names, r2.info, r.metric_names
        (['final_loss', 'score'], {'steps': 10}, ['final_loss'])
        >>> r.replace(info={**r.info, "note": "rerun"}).info
        {'steps': 10, 'note': 'rerun'}
        """

        def kept(names: list[str]) -> dict[str, np.ndarray]:
            return {name: self._columns[name] for name in names}

        return type(self)(
            configs=kept(self._config_names) if configs is None else configs,
            metrics=kept(self._metric_names) if metrics is None else metrics,
            curves=self._curves if curves is None else curves,
            record_every=self._record_every if record_every is None else record_every,
            params=self._params if params is ... else params,
            layout=self._layout if layout is ... else layout,
            info=self._info if info is ... else info,
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

    def plot_curves(self, *args: Any, **kwargs: Any) -> Axes:
        """Every run's loss curve against the step: :func:`fastopt.plot.plot_curves` of this."""
        from fastopt.plot import plot_curves

        return plot_curves(self, *args, **kwargs)

    def plot_heatmap(self, *args: Any, **kwargs: Any) -> Axes:
        """``value`` over two columns as a grid: :func:`fastopt.plot.plot_heatmap` of this."""
        from fastopt.plot import plot_heatmap

        return plot_heatmap(self, *args, **kwargs)
