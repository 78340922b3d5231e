"""``fastopt.sweep``: train a whole grid of small MLPs in one parallel call.

Every argument given as a *list* is a grid axis; the grid is the cartesian product of the axes
(a tuple is a value, so ``betas=[(0.9, 0.999), (0.5, 0.9)]`` is an axis of two values).
Hyperparameter axes only multiply the optimizers they apply to: ``momentum=[0, 0.9]`` with
``optimizer=["sgd", "adam"]`` gives two SGD runs and one Adam run per other setting.

Runs that share a data order (batch size and ``data_seed``) go to the grid kernel together;
threads take one run at a time and train it to its end with the single-run kernels (see
``fastopt._kernels.grid``), so a run's result is bit-identical to training it alone with
``MLP.loss_and_grad`` and ``Optimizer.step``, whatever else is in the grid.
"""

from __future__ import annotations

import inspect
import itertools
import math
import numbers
import os
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from dataclasses import dataclass, field

import numba
import numpy as np

from fastopt._kernels import fused
from fastopt._kernels import grid as _k
from fastopt._version import __version__
from fastopt.layout import FLOAT_DTYPES
from fastopt.mlp import MLP
from fastopt.optim import GC_MODES, OPTIMIZERS, Optimizer, _chunk_table
from fastopt.progress import Progress
from fastopt.results import SweepResult
from fastopt.schedules import Constant, Schedule
from fastopt.store import Store, array_digest, fingerprint

#: Optimizer names a sweep accepts, with the constructor defaults they imply.
OPTIMIZER_NAMES = {
    "sgd": (OPTIMIZERS["sgd"], {}),
    "momentum": (OPTIMIZERS["momentum"], {}),
    "nesterov": (OPTIMIZERS["momentum"], {"nesterov": True}),
    "rmsprop": (OPTIMIZERS["rmsprop"], {}),
    "adam": (OPTIMIZERS["adam"], {}),
    "adamw": (OPTIMIZERS["adamw"], {}),
    "adagrad": (OPTIMIZERS["adagrad"], {}),
}

DIVERGE_FACTOR = 1e3
"""Default divergence threshold: this many times a run's first loss."""


@dataclass
class _Run:
    """One configuration of the grid."""

    columns: dict[str, object]
    optimizer: Optimizer
    seed: int
    data_seed: int
    batch_size: int
    index: int = -1
    group: tuple = field(default=())


def batch_indices(n: int, batch_size: int | None, data_seed: int, steps: int) -> np.ndarray:
    """The samples each step of a sweep uses, to reproduce a run outside the sweep.

    Full batch (``batch_size`` None or ``n``): every step uses ``0 .. n-1`` in order.
    Mini-batch: each epoch draws a permutation from ``numpy.random.default_rng(data_seed)``
    and takes ``n // batch_size`` consecutive batches of it (the rest of the epoch is dropped).

    Returns
    -------
    ndarray of shape (steps + 1, batch_size), int64
        Row ``t`` holds the samples of step ``t`` (the loss at ``t`` uses them too).
    """
    perms, batch = _permutations(n, batch_size, data_seed, steps)
    per_epoch = n // batch
    rows = []
    for t in range(steps + 1):
        epoch = (t // per_epoch) % perms.shape[0]
        start = (t % per_epoch) * batch
        rows.append(perms[epoch, start : start + batch])
    return np.array(rows, dtype=np.int64)


def _permutations(n: int, batch_size: int | None, data_seed: int, steps: int):
    if batch_size is None or batch_size == n:
        return np.arange(n, dtype=np.int64)[None, :], n
    rng = np.random.default_rng(data_seed)
    epochs = math.ceil((steps + 1) / (n // batch_size))
    return np.array([rng.permutation(n) for _ in range(epochs)], dtype=np.int64), batch_size


def _axis(name: str, value: object) -> list:
    """The values of an argument: a list is an axis, anything else one value."""
    if isinstance(value, list):
        if not value:
            raise ValueError(f"{name} is an empty list: a grid axis needs at least one value")
        return value
    return [value]


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _optimizer_factory(spec: object):
    """(class, fixed kwargs) for an optimizer name or object."""
    if isinstance(spec, str):
        if spec not in OPTIMIZER_NAMES:
            raise ValueError(f"unknown optimizer {spec!r}; known: {sorted(OPTIMIZER_NAMES)}")
        return OPTIMIZER_NAMES[spec]
    if isinstance(spec, Optimizer):
        fixed = dict(spec.hyperparameters())
        fixed.pop("lr")
        fixed.pop("gc")
        return type(spec), fixed
    raise TypeError(f"optimizer must be a name or a fastopt optimizer, got {spec!r}")


def _optimizer_label(spec: object) -> str:
    return spec if isinstance(spec, str) else repr(spec)


def _accepted_hyperparameters(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self", "lr", "gc"}


class _Grid:
    """The validated axes of a sweep; runs are built lazily, a slice at a time.

    Every configuration's optimizer is constructed once here (so bad hyperparameters fail
    before any work starts) but not kept: a grid of a million runs costs its axes only.
    """

    def __init__(self, optimizer, lr, schedule, seed, data_seed, gc, batch_size, hyper,
                 n_samples):  # fmt: skip
        optimizers = _axis("optimizer", optimizer)
        if schedule is not None and lr is not None:
            raise ValueError("give lr or schedule, not both (a schedule holds its own lr)")
        if schedule is None and lr is None:
            raise ValueError("lr is required (or a schedule)")
        self.rate_name = "schedule" if schedule is not None else "lr"
        self.rates = _axis("schedule", schedule) if schedule is not None else _axis("lr", lr)
        for rate in self.rates:
            if schedule is not None and not isinstance(rate, Schedule):
                raise TypeError(f"schedule values must be fastopt.schedules objects, got {rate!r}")
        self.seeds = [_check_int("seed", s, 0) for s in _axis("seed", seed)]
        self.data_seeds = [_check_int("data_seed", s, 0) for s in _axis("data_seed", data_seed)]
        self.gcs = _axis("gc", gc)
        self.batches = []
        for b in _axis("batch_size", batch_size):
            if b is not None:
                b = _check_int("batch_size", b, 1)
                if b > n_samples:
                    raise ValueError(
                        f"batch_size {b} is larger than the data ({n_samples} samples)"
                    )
            self.batches.append(b)
        self.hyper_axes = {name: _axis(name, value) for name, value in hyper.items()}
        self.n_samples = n_samples
        self.factories = [(spec, *_optimizer_factory(spec)) for spec in optimizers]
        accepted_any = set().union(*(_accepted_hyperparameters(c) for _, c, _ in self.factories))
        unknown = sorted(set(self.hyper_axes) - accepted_any)
        if unknown:
            raise ValueError(
                f"unknown hyperparameter(s) {unknown} for optimizer(s) "
                f"{[_optimizer_label(s) for s in optimizers]}; they accept {sorted(accepted_any)}"
            )
        self.n_runs = 0
        for combo in self._combos():
            self._optimizer(combo)  # validates; not kept
            self.n_runs += 1

    def _combos(self):
        for spec, cls, fixed in self.factories:
            accepted = _accepted_hyperparameters(cls)
            names = [n for n in self.hyper_axes if n in accepted]
            for values in itertools.product(
                self.rates,
                self.seeds,
                self.data_seeds,
                self.gcs,
                self.batches,
                *(self.hyper_axes[n] for n in names),
            ):
                yield spec, cls, fixed, names, values  # fmt: skip

    @staticmethod
    def _optimizer(combo) -> Optimizer:
        _, cls, fixed, names, (rate, _, _, g, _, *values) = combo
        return cls(lr=rate, gc=g, **{**fixed, **dict(zip(names, values, strict=True))})

    def runs(self, start: int, stop: int) -> list[_Run]:
        """Runs ``start .. stop - 1`` of the grid, in its order."""
        runs = []
        for index, combo in enumerate(itertools.islice(self._combos(), start, stop), start):
            spec, _, fixed, names, (rate, s, ds, g, b, *values) = combo
            opt = self._optimizer(combo)
            kwargs = {**fixed, **dict(zip(names, values, strict=True))}
            columns = {"optimizer": _optimizer_label(spec), self.rate_name: rate, "seed": s}
            columns.update({"data_seed": ds, "gc": g, "batch_size": b})
            columns.update({n: kwargs.get(n) for n in self.hyper_axes})
            full = b is None or b == self.n_samples
            run = _Run(columns, opt, s, ds, self.n_samples if full else b, index)
            # Runs with one data order (full batch: any data_seed) train together.
            run.group = (run.batch_size, None if full else ds)
            runs.append(run)
        return runs

    def describe(self) -> dict:
        """A JSON-able description, for the fingerprint of a stored sweep."""
        return {
            "optimizer": [repr(spec) for spec, _, _ in self.factories],
            self.rate_name: [repr(r) for r in self.rates],
            "seed": self.seeds,
            "data_seed": self.data_seeds,
            "gc": self.gcs,
            "batch_size": self.batches,
            "hyper": {k: [repr(v) for v in vs] for k, vs in self.hyper_axes.items()},
            "n_runs": self.n_runs,
        }


def _check_data(model: MLP, X, Y, dtype: np.dtype, name_x: str, name_y: str):
    """Canonical (X, Y, y) for the kernels.

    X (n, d) of dtype; for MSE, Y (n, m) of dtype and y zeros (n,); for cross-entropy,
    Y empty (n, 0) and y the int64 labels (n,).
    """
    X = np.asarray(X)
    if X.dtype.kind not in "iuf":
        raise TypeError(f"{name_x} must hold numbers, got dtype {X.dtype}")
    if X.ndim != 2 or X.shape[1] != model.sizes[0] or X.shape[0] < 1:
        raise ValueError(
            f"{name_x} must have shape (n_samples >= 1, {model.sizes[0]}), got {X.shape}"
        )
    X = np.ascontiguousarray(X, dtype=dtype)
    if not np.isfinite(X).all():
        raise ValueError(f"{name_x} holds NaN or inf")
    n, m = X.shape[0], model.sizes[-1]
    Y = np.asarray(Y)
    if model.loss_name == "mse":
        if Y.dtype.kind not in "iuf":
            raise TypeError(f"{name_y} must hold numbers, got dtype {Y.dtype}")
        if Y.shape != (n, m):
            raise ValueError(
                f"{name_y} must have shape ({n}, {m}) to match {name_x}, got {Y.shape}"
            )
        Y = np.ascontiguousarray(Y, dtype=dtype)
        if not np.isfinite(Y).all():
            raise ValueError(f"{name_y} holds NaN or inf")
        return X, Y, np.zeros(n, dtype=np.int64)
    if Y.dtype.kind not in "iu":
        raise TypeError(f"{name_y} must hold integer class labels, got dtype {Y.dtype}")
    if Y.shape != (n,):
        raise ValueError(f"{name_y} must have shape ({n},) to match {name_x}, got {Y.shape}")
    if Y.min() < 0 or Y.max() >= m:
        raise ValueError(f"{name_y} holds class labels outside [0, {m})")
    return X, np.empty((n, 0), dtype=dtype), np.ascontiguousarray(Y, dtype=np.int64)


def sweep(
    model: MLP,
    X,
    Y,
    *,
    optimizer,
    lr=None,
    seed=0,
    gc=None,
    batch_size=None,
    steps: int,
    stop_below: float | None = None,
    diverge_above: float | None = None,
    record_every: int = 1,
    schedule=None,
    dtype=np.float32,
    X_val=None,
    Y_val=None,
    progress: bool | None = None,
    data_seed=0,
    return_params: bool = False,
    keep_curves: bool = True,
    memory_limit: int | None = None,
    store: str | os.PathLike | None = None,
    executor: Executor | None = None,
    **hyper,
) -> SweepResult:
    """Train one MLP per configuration of a hyperparameter grid, all at once.

    Parameters
    ----------
    model : MLP
        The architecture every run trains (its ``init(seed)`` gives each run's start).
    X : array_like of shape (n, model.sizes[0])
        Training inputs, finite; cast to ``dtype``.
    Y : array_like
        Targets: (n, model.sizes[-1]) floats for ``loss="mse"``, (n,) integer labels for
        ``loss="cross_entropy"``.
    optimizer : str or Optimizer, or a list of them
        ``"sgd"``, ``"momentum"`` (0.9), ``"nesterov"``, ``"rmsprop"``, ``"adam"``, ``"adamw"``,
        ``"adagrad"``, or optimizer objects whose hyperparameters (not lr, gc) are the defaults.
    lr : float or list of float
        Learning rate(s), > 0. Give ``schedule`` instead for learning-rate schedules.
    seed : int or list of int
        Weight-initialization seed(s), ``model.init(seed=...)``.
    gc : {None, "grad", "update"} or a list of them
        Gradient centralization (see :mod:`fastopt.optim`).
    batch_size : int, None or a list of them
        Mini-batch size (None: full batch); see :func:`batch_indices` for the order.
    steps : int
        Maximum number of updates per run (>= 1).
    stop_below : float, optional
        A run stops at the first step whose loss is below this target.
    diverge_above : float, optional
        A run is marked diverged at the first step whose loss is above this (or NaN/inf).
        Default: ``1e3`` times the run's first loss.
    record_every : int
        Keep the loss of every ``record_every``-th step in the curves.
    schedule : Schedule or list of Schedule, optional
        Learning-rate schedules from :mod:`fastopt.schedules`, in place of ``lr``.
    dtype : {numpy.float32, numpy.float64}
        Precision of the whole computation.
    X_val, Y_val : array_like, optional
        Validation data: each run also reports ``val_loss`` (and ``val_accuracy``).
    progress : bool, optional
        Progress bar on stderr; default: on for a terminal, off under pytest.
    data_seed : int or list of int
        Seed(s) of the mini-batch order.
    return_params : bool
        Keep every run's final parameters in ``result.params`` (n_runs, n_params).
    keep_curves : bool
        Keep the loss curves; False keeps only the per-run summaries (``curves`` then has no
        columns), which with ``record_every`` bounds the memory of huge grids.
    memory_limit : int, optional
        Bytes a chunk of runs may hold while it trains (default 256 MiB): the grid is cut into
        chunks of at most that size, so peak memory depends on the chunk, not on the grid.
    store : path, optional
        Folder for finished chunks (see :mod:`fastopt.store`): each is written atomically as it
        completes; calling the same sweep again resumes and recomputes nothing stored; another
        grid on the same folder is an error. :func:`fastopt.load_sweep` reads it back.
    executor : concurrent.futures.Executor, optional
        Run chunks on it (e.g. ``ProcessPoolExecutor``, or Dask's ``Client.get_executor()``),
        storing each as it completes; a chunk whose task fails is resubmitted (up to 3 times).
        The result is the same table as a local run.
    **hyper
        Other hyperparameters, scalars or lists (axes): ``momentum``, ``betas``, ``eps``,
        ``weight_decay``, ``alpha``, ``dampening``, ``amsgrad``, ``centered``, ...

    Returns
    -------
    SweepResult
        One row per run: its configuration and ``final_loss`` (full training set, final
        parameters), ``best_loss`` (lowest recorded batch loss), ``steps_to_target`` (first step
        below ``stop_below``, or -1), ``diverged``, ``diverged_at`` (or -1), ``steps_done``;
        ``train_accuracy`` for classifiers; ``val_loss``/``val_accuracy`` with validation data.
        ``curves`` (n_runs, steps // record_every + 1) holds the recorded losses, NaN after a
        run stopped.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a fastopt.MLP, got {type(model).__name__}")
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    settings = _Settings(
        steps=_check_int("steps", steps, 1),
        record_every=_check_int("record_every", record_every, 1),
        stop=_finite_or_nan("stop_below", stop_below),
        diverge=_finite_or_nan("diverge_above", diverge_above, positive=True),
        dtype=dtype,
        keep_curves=bool(keep_curves),
        return_params=bool(return_params),
    )
    data = _check_data(model, X, Y, dtype, "X", "Y")
    if (X_val is None) != (Y_val is None):
        raise ValueError("give both X_val and Y_val, or neither")
    val_data = None if X_val is None else _check_data(model, X_val, Y_val, dtype, "X_val", "Y_val")
    grid = _Grid(optimizer, lr, schedule, seed, data_seed, gc, batch_size, hyper,
                 data[0].shape[0])  # fmt: skip
    if memory_limit is not None:
        memory_limit = _check_int("memory_limit", memory_limit, 1)
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor, got {executor!r}")

    chunk_size = _chunk_size(
        model, settings, grid.n_runs, memory_limit, split=executor is not None or store is not None
    )
    chunk_store = None
    if store is not None:
        description = {"model": repr(model), "slope": model.negative_slope,
                       "settings": settings.describe(), "grid": grid.describe(),
                       "data": _data_digest(data, val_data)}  # fmt: skip
        chunk_store = Store(store, fingerprint(description), grid.n_runs, chunk_size,
                            __version__, description)  # fmt: skip
        chunk_size = chunk_store.chunk_size
    n_chunks = -(-grid.n_runs // chunk_size)
    bounds = [(i * chunk_size, min((i + 1) * chunk_size, grid.n_runs)) for i in range(n_chunks)]

    started = time.perf_counter()
    parts: list[SweepResult | None] = [None] * n_chunks
    if chunk_store is not None:
        for i in range(n_chunks):
            stored = chunk_store.load(i)
            if stored is not None:  # the configs come back exact from the grid, not from JSON
                configs = _config_columns(grid.runs(*bounds[i]))
                parts[i] = _with_configs(stored, configs)
    pending = [i for i in range(n_chunks) if parts[i] is None]
    total_steps = grid.n_runs * settings.steps
    with Progress(total_runs=grid.n_runs, total_steps=total_steps, enabled=progress) as bar:
        done = {"runs": sum(len(p) for p in parts if p is not None), "steps": 0}

        def finished(i: int, part: SweepResult) -> None:
            parts[i] = part
            if chunk_store is not None:
                chunk_store.save(i, part)
            done["runs"] += len(part)
            done["steps"] += int(part["steps_done"].sum())
            bar.update(runs_done=done["runs"], steps_done=done["steps"])

        args = (model, data, val_data, settings)
        if executor is None:
            for i in pending:
                finished(i, train_chunk(*args, grid.runs(*bounds[i]), bar=bar, done=done))
        else:
            _run_on_executor(executor, pending, bounds, grid, args, finished)

    result = SweepResult.concat(parts) if len(parts) > 1 else parts[0]
    info = {
        "model": repr(model),
        "steps": settings.steps,
        "stop_below": stop_below,
        "diverge_above": diverge_above,
        "dtype": dtype.name,
        "n_chunks": n_chunks,
        "resumed_chunks": n_chunks - len(pending),
        "rejected_files": chunk_store.rejected if chunk_store is not None else [],
        "seconds": time.perf_counter() - started,
        "threads": numba.get_num_threads(),
    }
    return result.with_info(info, layout=model.layout)


@dataclass(frozen=True)
class _Settings:
    """What every chunk of one sweep shares besides the model and data."""

    steps: int
    record_every: int
    stop: float
    diverge: float
    dtype: np.dtype
    keep_curves: bool
    return_params: bool

    @property
    def n_records(self) -> int:
        return self.steps // self.record_every + 1

    def describe(self) -> dict:
        return {
            "steps": self.steps,
            "record_every": self.record_every,
            "stop": repr(self.stop),
            "diverge": repr(self.diverge),
            "dtype": self.dtype.name,
            "keep_curves": self.keep_curves,
            "return_params": self.return_params,
        }


DEFAULT_MEMORY_LIMIT = 256 * 2**20
"""Bytes a chunk of runs may hold while it trains, by default."""

MAX_RETRIES = 3
"""Times a chunk whose task failed on an executor is resubmitted."""


def _chunk_size(model, settings, n_runs, memory_limit, split) -> int:
    """Runs per chunk: what fits the memory limit; at least ``MIN_CHUNKS`` chunks when split.

    Chunks are split finer when they are stored (a killed process loses at most the running
    ones) or sent to an executor (so that every worker has work until the end).
    """
    itemsize = settings.dtype.itemsize
    per_run = (
        model.layout.size * itemsize * 6  # params, gradient, up to 3 state buffers, result copy
        + (settings.n_records * 8 if settings.keep_curves else 0) * 2  # kernel + result
        + 512  # configs, metrics, bookkeeping
    )
    size = max(1, (memory_limit or DEFAULT_MEMORY_LIMIT) // per_run)
    if split:
        size = min(size, max(1, -(-n_runs // MIN_CHUNKS)))
    return int(min(size, n_runs))


MIN_CHUNKS = 64
"""Chunks a stored or distributed grid is cut into at least (when it has that many runs)."""


def _data_digest(data, val_data) -> str:
    arrays = list(data) + (list(val_data) if val_data is not None else [None])
    return array_digest(*arrays)


def _with_configs(part: SweepResult, configs: dict) -> SweepResult:
    return SweepResult(configs, {n: part[n] for n in part.metric_names}, part.curves,
                       part.record_every, part.params)  # fmt: skip


def _run_on_executor(executor, pending, bounds, grid, args, finished) -> None:
    """Submit the pending chunks; hand each to ``finished`` as it completes, in any order."""
    attempts: dict[int, int] = {}
    futures = {executor.submit(train_chunk, *args, grid.runs(*bounds[i])): i for i in pending}
    while futures:
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        for future in done:
            i = futures.pop(future)
            try:
                part = future.result()
            except Exception as exc:  # a dead worker, a lost task: try again elsewhere
                attempts[i] = attempts.get(i, 0) + 1
                if attempts[i] > MAX_RETRIES:
                    raise RuntimeError(f"chunk {i} failed {attempts[i]} times") from exc
                futures[executor.submit(train_chunk, *args, grid.runs(*bounds[i]))] = i
                continue
            finished(i, part)


def train_chunk(model, data, val_data, settings, runs, bar=None, done=None) -> SweepResult:
    """Train one chunk of runs (all on this process's threads) and return its results.

    A top-level function of picklable arguments, so that executors can run it anywhere.
    """
    n_runs, n_params = len(runs), model.layout.size
    dtype = settings.dtype
    curves = np.full((n_runs, settings.n_records), np.nan)
    metrics = {
        "final_loss": np.full(n_runs, np.nan),
        "best_loss": np.full(n_runs, np.nan),
        "steps_to_target": np.full(n_runs, -1, dtype=np.int64),
        "diverged": np.zeros(n_runs, dtype=bool),
        "diverged_at": np.full(n_runs, -1, dtype=np.int64),
        "steps_done": np.zeros(n_runs, dtype=np.int64),
    }
    classifier = model.loss_name == "cross_entropy"
    if classifier:
        metrics["train_accuracy"] = np.full(n_runs, np.nan)
    if val_data is not None:
        metrics["val_loss"] = np.full(n_runs, np.nan)
        if classifier:
            metrics["val_accuracy"] = np.full(n_runs, np.nan)
    final_params = np.empty((n_runs, n_params), dtype=dtype) if settings.return_params else None
    offset = runs[0].index if runs else 0

    groups: dict[tuple, list[_Run]] = {}
    for run in runs:
        groups.setdefault(run.group, []).append(run)
    model_args = (model._sizes, model._act, dtype.type(model.negative_slope))
    loss_kind = _k.LOSS_CROSS_ENTROPY if classifier else _k.LOSS_MSE
    chunk_tables = (_chunk_table(model.layout, False), _chunk_table(model.layout, True))
    n_samples = data[0].shape[0]
    for members in groups.values():
        batch = _Batch(members, model, dtype, settings.n_records)
        first = members[0]
        perms, size = _permutations(n_samples, first.batch_size, first.data_seed, settings.steps)
        XT = _feature_major(data[0], model_args[0], size)
        for wave in batch.waves():
            _k.train_runs(
                data[0], XT, *data[1:], loss_kind, *model_args, perms, size, batch.kinds[wave],
                batch.hyper[wave], batch.sched_code[wave], batch.sched_params[wave],
                batch.gc_modes[wave], *chunk_tables, batch.params[wave], batch.state[wave],
                settings.steps, settings.record_every, settings.stop, settings.diverge,
                DIVERGE_FACTOR, batch.curves[wave], batch.steps_to_target[wave],
                batch.diverged_at[wave], batch.best_loss[wave], batch.steps_done[wave],
            )  # fmt: skip
            if bar is not None:
                steps_so_far = int(batch.steps_done[: wave.stop].sum())
                bar.update(runs_done=done["runs"] + wave.stop,
                           steps_done=done["steps"] + steps_so_far)  # fmt: skip
        batch.scatter(curves, metrics, final_params, offset)
        _evaluate(batch, data, loss_kind, model_args, metrics, "final_loss", "train_accuracy",
                  offset)  # fmt: skip
        if val_data is not None:
            _evaluate(batch, val_data, loss_kind, model_args, metrics, "val_loss",
                      "val_accuracy", offset)  # fmt: skip
    metrics["diverged"] = metrics["diverged_at"] >= 0
    if not settings.keep_curves:
        curves = curves[:, :0]
    return SweepResult(_config_columns(runs), metrics, curves, settings.record_every, final_params)


def _finite_or_nan(name: str, value: object, positive: bool = False) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number or None, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{name} must be finite{' and > 0' if positive else ''}, got {value!r}")
    return value


def _config_columns(runs: Sequence[_Run]) -> dict[str, np.ndarray]:
    names: list[str] = []
    for run in runs:
        names.extend(n for n in run.columns if n not in names)
    columns = {}
    for name in names:
        values = [run.columns.get(name) for run in runs]
        numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
        if numeric:
            columns[name] = np.array(values)
        else:  # element by element: np.array would split tuples such as betas into columns
            columns[name] = np.empty(len(values), dtype=object)
            for i, value in enumerate(values):
                columns[name][i] = value
    return columns


class _Batch:
    """The runs of one group as the kernel's arrays, one row per run."""

    WAVE_PER_THREAD = 16
    """Runs per thread in one kernel call: the progress bar moves between calls."""

    def __init__(self, runs: list[_Run], model: MLP, dtype: np.dtype, n_records: int):
        self.runs = runs
        n, n_params = len(runs), model.layout.size
        n_buffers = max(len(run.optimizer.buffer_names) for run in runs)
        self.params = np.empty((n, n_params), dtype=dtype)
        self.state = np.zeros((n, n_buffers, n_params), dtype=dtype)
        self.hyper = np.empty((n, fused.N_HYPER), dtype=np.float64)
        self.kinds = np.empty(n, dtype=np.int64)
        self.gc_modes = np.empty(n, dtype=np.int64)
        self.sched_code = np.empty(n, dtype=np.int64)
        self.sched_params = np.empty((n, 4), dtype=np.float64)
        for k, run in enumerate(runs):
            opt = run.optimizer
            self.params[k] = model.init(seed=run.seed, dtype=dtype)
            opt._initial_buffers(self.state[k])
            self.hyper[k] = opt.hyper_vector()
            self.kinds[k] = opt.kind
            self.gc_modes[k] = GC_MODES[opt.gc]
            rate = opt.lr if isinstance(opt.lr, Schedule) else Constant(opt.lr)
            self.sched_code[k] = rate.code
            self.sched_params[k] = rate.params
        self.curves = np.full((n, n_records), np.nan)
        self.steps_to_target = np.full(n, -1, dtype=np.int64)
        self.diverged_at = np.full(n, -1, dtype=np.int64)
        self.best_loss = np.full(n, np.nan)
        self.steps_done = np.zeros(n, dtype=np.int64)

    def waves(self):
        """Slices of runs per kernel call."""
        per_call = self.WAVE_PER_THREAD * numba.get_num_threads()
        for start in range(0, len(self.runs), per_call):
            yield slice(start, min(start + per_call, len(self.runs)))

    def scatter(self, curves, metrics, final_params, offset: int) -> None:
        """Copy each run's results to its row of the chunk (grid index minus ``offset``)."""
        rows = np.array([run.index - offset for run in self.runs])
        curves[rows] = self.curves
        metrics["best_loss"][rows] = self.best_loss
        metrics["steps_to_target"][rows] = self.steps_to_target
        metrics["diverged_at"][rows] = self.diverged_at
        metrics["steps_done"][rows] = self.steps_done
        if final_params is not None:
            final_params[rows] = self.params


def _feature_major(X: np.ndarray, sizes: np.ndarray, batch: int) -> np.ndarray:
    """X transposed for the grid kernels.

    As ``MLP.loss_and_grad`` gives a batch of this size to the first layer: the view ``X.T``
    (read in place) or a C-ordered copy. Only the kernels for the layout in use get compiled.
    """
    if _k._reads_X_in_place(sizes[1], sizes[0], batch):
        return X.T
    return np.ascontiguousarray(X.T)


def _evaluate(batch, data, loss_kind, model_args, metrics, loss_name, accuracy_name,
              offset) -> None:  # fmt: skip
    n = len(batch.runs)
    loss, accuracy = np.empty(n), np.full(n, np.nan)
    XT = _feature_major(data[0], model_args[0], data[0].shape[0])
    _k.evaluate_runs(XT, *data[1:], loss_kind, *model_args, batch.params, loss, accuracy)
    rows = np.array([run.index - offset for run in batch.runs])
    metrics[loss_name][rows] = loss
    if accuracy_name in metrics:
        metrics[accuracy_name][rows] = accuracy
