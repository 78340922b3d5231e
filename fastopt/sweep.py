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
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numba
import numpy as np

from fastopt._kernels import fused
from fastopt._kernels import grid as _k
from fastopt.layout import FLOAT_DTYPES
from fastopt.mlp import MLP
from fastopt.optim import GC_MODES, OPTIMIZERS, Optimizer, _chunk_table
from fastopt.progress import Progress
from fastopt.results import SweepResult
from fastopt.schedules import Constant, Schedule

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


def _make_runs(
    optimizer, lr, schedule, seed, data_seed, gc, batch_size, hyper, n_samples
) -> list[_Run]:
    optimizers = _axis("optimizer", optimizer)
    if schedule is not None and lr is not None:
        raise ValueError("give lr or schedule, not both (a schedule holds its own lr)")
    if schedule is None and lr is None:
        raise ValueError("lr is required (or a schedule)")
    rates = _axis("schedule", schedule) if schedule is not None else _axis("lr", lr)
    for rate in rates:
        if schedule is not None and not isinstance(rate, Schedule):
            raise TypeError(f"schedule values must be fastopt.schedules objects, got {rate!r}")
    seeds = [_check_int("seed", s, 0) for s in _axis("seed", seed)]
    data_seeds = [_check_int("data_seed", s, 0) for s in _axis("data_seed", data_seed)]
    gcs = _axis("gc", gc)
    batches = []
    for b in _axis("batch_size", batch_size):
        if b is not None:
            b = _check_int("batch_size", b, 1)
            if b > n_samples:
                raise ValueError(f"batch_size {b} is larger than the data ({n_samples} samples)")
        batches.append(b)
    hyper_axes = {name: _axis(name, value) for name, value in hyper.items()}

    factories = [(spec, *_optimizer_factory(spec)) for spec in optimizers]
    accepted_any = set().union(*(_accepted_hyperparameters(cls) for _, cls, _ in factories))
    unknown = sorted(set(hyper_axes) - accepted_any)
    if unknown:
        raise ValueError(
            f"unknown hyperparameter(s) {unknown} for optimizer(s) "
            f"{[_optimizer_label(s) for s in optimizers]}; they accept {sorted(accepted_any)}"
        )

    runs = []
    rate_name = "schedule" if schedule is not None else "lr"
    for spec, cls, fixed in factories:
        accepted = _accepted_hyperparameters(cls)
        names = [n for n in hyper_axes if n in accepted]
        for rate, s, ds, g, b, *values in itertools.product(
            rates, seeds, data_seeds, gcs, batches, *(hyper_axes[n] for n in names)
        ):
            kwargs = {**fixed, **dict(zip(names, values, strict=True))}
            opt = cls(lr=rate, gc=g, **kwargs)
            columns = {"optimizer": _optimizer_label(spec), rate_name: rate, "seed": s}
            columns.update({"data_seed": ds, "gc": g, "batch_size": b})
            columns.update({n: kwargs.get(n) for n in hyper_axes})
            full = b is None or b == n_samples
            runs.append(_Run(columns, opt, s, ds, n_samples if full else b))
    for index, run in enumerate(runs):
        run.index = index
        data_seed_key = None if run.batch_size == n_samples else run.data_seed  # unused when full
        run.group = (run.batch_size, data_seed_key)
    return runs


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
    steps = _check_int("steps", steps, 1)
    record_every = _check_int("record_every", record_every, 1)
    stop = _finite_or_nan("stop_below", stop_below)
    diverge = _finite_or_nan("diverge_above", diverge_above, positive=True)
    data = _check_data(model, X, Y, dtype, "X", "Y")
    if (X_val is None) != (Y_val is None):
        raise ValueError("give both X_val and Y_val, or neither")
    if X_val is not None:
        val_data = _check_data(model, X_val, Y_val, dtype, "X_val", "Y_val")
    n_samples = data[0].shape[0]
    runs = _make_runs(optimizer, lr, schedule, seed, data_seed, gc, batch_size, hyper, n_samples)

    n_runs, n_params = len(runs), model.layout.size
    n_records = steps // record_every + 1
    curves = np.full((n_runs, n_records), np.nan)
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
    if X_val is not None:
        metrics["val_loss"] = np.full(n_runs, np.nan)
        if classifier:
            metrics["val_accuracy"] = np.full(n_runs, np.nan)
    final_params = np.empty((n_runs, n_params), dtype=dtype) if return_params else None

    groups: dict[tuple, list[_Run]] = {}
    for run in runs:
        groups.setdefault(run.group, []).append(run)
    model_args = (model._sizes, model._act, dtype.type(model.negative_slope))
    loss_kind = _k.LOSS_CROSS_ENTROPY if classifier else _k.LOSS_MSE
    chunk_tables = (_chunk_table(model.layout, False), _chunk_table(model.layout, True))
    started = time.perf_counter()
    with Progress(total_runs=n_runs, total_steps=n_runs * steps, enabled=progress) as bar:
        done_runs = done_steps = 0
        for members in groups.values():
            batch = _Batch(members, model, dtype, n_records)
            first = members[0]
            perms, size = _permutations(n_samples, first.batch_size, first.data_seed, steps)
            for wave in batch.waves():
                _k.train_runs(
                    *data, loss_kind, *model_args, perms, size, batch.kinds[wave],
                    batch.hyper[wave], batch.sched_code[wave], batch.sched_params[wave],
                    batch.gc_modes[wave], *chunk_tables, batch.params[wave], batch.state[wave],
                    steps, record_every, stop, diverge, DIVERGE_FACTOR, batch.curves[wave],
                    batch.steps_to_target[wave], batch.diverged_at[wave], batch.best_loss[wave],
                    batch.steps_done[wave],
                )  # fmt: skip
                done_runs += wave.stop - wave.start
                done_steps += int(batch.steps_done[wave].sum())
                bar.update(runs_done=done_runs, steps_done=done_steps)
            batch.scatter(curves, metrics, final_params)
            _evaluate(batch, data, loss_kind, model_args, metrics, "final_loss", "train_accuracy")
            if X_val is not None:
                _evaluate(batch, val_data, loss_kind, model_args, metrics, "val_loss",
                          "val_accuracy")  # fmt: skip
    metrics["diverged"] = metrics["diverged_at"] >= 0

    configs = _config_columns(runs)
    info = {
        "model": repr(model),
        "steps": steps,
        "stop_below": stop_below,
        "diverge_above": diverge_above,
        "dtype": dtype.name,
        "n_groups": len(groups),
        "seconds": time.perf_counter() - started,
        "threads": numba.get_num_threads(),
    }
    return SweepResult(configs, metrics, curves, record_every, final_params, model.layout, info)


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
        columns[name] = np.array(values) if numeric else np.array(values, dtype=object)
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

    def scatter(self, curves, metrics, final_params) -> None:
        """Copy each run's results to its row of the whole grid."""
        rows = np.array([run.index for run in self.runs])
        curves[rows] = self.curves
        metrics["best_loss"][rows] = self.best_loss
        metrics["steps_to_target"][rows] = self.steps_to_target
        metrics["diverged_at"][rows] = self.diverged_at
        metrics["steps_done"][rows] = self.steps_done
        if final_params is not None:
            final_params[rows] = self.params


def _evaluate(batch, data, loss_kind, model_args, metrics, loss_name, accuracy_name) -> None:
    n = len(batch.runs)
    loss, accuracy = np.empty(n), np.full(n, np.nan)
    _k.evaluate_runs(*data, loss_kind, *model_args, batch.params, loss, accuracy)
    rows = np.array([run.index for run in batch.runs])
    metrics[loss_name][rows] = loss
    if accuracy_name in metrics:
        metrics[accuracy_name][rows] = accuracy
