"""The plan of a sweep: its validated grid, settings, data and chunks, before any training.

:func:`plan_sweep` checks every argument of :func:`fastopt.sweep`, the cheap ones first (a
million-run grid with a bad ``memory_limit`` fails at once, not after building its runs), and
returns a :class:`SweepPlan`: what to train and how it is cut into chunks. ``fastopt.sweep``
executes a plan (chunks -> kernels -> results); the plan knows nothing of threads, stores or
executors, and the executor nothing of argument checking.

Every argument given as a *list* is a grid axis; the grid is the cartesian product of the axes
(a tuple is a value, so ``betas=[(0.9, 0.999), (0.5, 0.9)]`` is an axis of two values).
Hyperparameter axes only multiply the optimizers they apply to: ``momentum=[0, 0.9]`` with
``optimizer=["sgd", "adam"]`` gives two SGD runs and one Adam run per other setting.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from fastopt._validate import check_bool, check_finite_or_none, check_int
from fastopt.layout import FLOAT_DTYPES
from fastopt.mlp import MLP
from fastopt.optim import OPTIMIZERS, Optimizer
from fastopt.schedules import Schedule
from fastopt.store import array_digest, fingerprint

#: Optimizer names a sweep accepts, with the constructor defaults they imply: every
#: optimizer's state name (``"adam"``, ``"lookahead_adam"``, ``"ranger"``, ...) and
#: ``"nesterov"`` (momentum with Nesterov's update).
OPTIMIZER_NAMES = {
    **{name: (cls, {}) for name, cls in OPTIMIZERS.items()},
    "nesterov": (OPTIMIZERS["momentum"], {"nesterov": True}),
}

KEPT_OPTIMIZERS = 4096
"""Distinct optimizer configurations a grid keeps from validating them (about 2 kB each)."""

DEFAULT_MEMORY_LIMIT = 256 * 2**20
"""Bytes a chunk of runs may hold while it trains, by default."""

MIN_CHUNKS = 64
"""Chunks a stored or distributed grid is cut into at least (when it has that many runs)."""

CONFIG_COLUMNS = ("optimizer", "seed", "data_seed", "gc", "batch_size")
"""Config columns of every sweep, besides its rate (``lr`` or ``schedule``) and hyperparameters."""


# --- mini-batch order -----------------------------------------------------------------------
def batch_indices(n: int, batch_size: int | None, data_seed: int, steps: int) -> np.ndarray:
    """The samples each step of a sweep uses, to reproduce a run outside the sweep.

    Full batch (``batch_size`` None or ``n``): every step uses ``0 .. n-1`` in order.
    Mini-batch: each epoch draws a permutation from ``numpy.random.default_rng(data_seed)``
    and takes ``n // batch_size`` consecutive batches of it (the rest of the epoch is dropped).

    Parameters
    ----------
    n : int
        Number of training samples, >= 1.
    batch_size : int or None
        Samples per step, 1 .. n; None for the full batch.
    data_seed : int
        Seed of the order, >= 0.
    steps : int
        Number of updates, >= 0 (the result has a row more: the loss at ``steps`` too).

    Returns
    -------
    ndarray of shape (steps + 1, batch_size), int64
        Row ``t`` holds the samples of step ``t`` (the loss at ``t`` uses them too).
    """
    n = check_int("n", n, 1)
    steps = check_int("steps", steps, 0)
    data_seed = check_int("data_seed", data_seed, 0)
    if batch_size is not None:
        batch_size = check_batch_size(batch_size, n)
    perms, batch = permutations(n, batch_size, data_seed, steps)
    per_epoch = n // batch
    t = np.arange(steps + 1)
    epochs = (t // per_epoch) % perms.shape[0]
    starts = (t % per_epoch) * batch
    return perms[epochs[:, None], starts[:, None] + np.arange(batch)]


def check_batch_size(batch_size: object, n: int, name: str = "batch_size") -> int:
    """A mini-batch size in 1 .. n."""
    batch_size = check_int(name, batch_size, 1)
    if batch_size > n:
        raise ValueError(f"{name} {batch_size} is larger than the data ({n} samples)")
    return batch_size


def permutations(n: int, batch_size: int | None, data_seed: int, steps: int):
    """``(perms, batch)``: the epochs' sample orders (n_epochs, n) and the batch size.

    The full batch is one ``arange(n)`` row; mini-batches draw as many epochs as ``steps + 1``
    batches need (see :func:`batch_indices`).
    """
    if batch_size is None or batch_size == n:
        return np.arange(n, dtype=np.int64)[None, :], n
    rng = np.random.default_rng(data_seed)
    epochs = math.ceil((steps + 1) / (n // batch_size))
    return np.array([rng.permutation(n) for _ in range(epochs)], dtype=np.int64), batch_size


# --- the grid -------------------------------------------------------------------------------
@dataclass
class Run:
    """One configuration of the grid, ready to train."""

    index: int
    columns: dict[str, object]
    optimizer: Optimizer
    seed: int
    data_seed: int
    batch_size: int
    group: tuple = field(default=())
    """Runs of one group share a data order (batch size and, for mini-batches, data_seed)."""


def _axis(name: str, value: object) -> list:
    """The values of an argument: a list is an axis, anything else one value."""
    if isinstance(value, list):
        if not value:
            raise ValueError(f"{name} is an empty list: a grid axis needs at least one value")
        return value
    return [value]


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


DEFAULT_GC = "default"
"""The ``gc`` value that means each optimizer's own default (None, but ``"grad"`` for Ranger)."""


def _gc_of(cls: type, g: object) -> object:
    """The GC mode a run of ``cls`` takes for the grid's ``gc`` value ``g``."""
    return cls.spec.gc if isinstance(g, str) and g == DEFAULT_GC else g


def _optimizer_label(spec: object) -> str:
    return spec if isinstance(spec, str) else repr(spec)


def _accepted_hyperparameters(cls: type) -> list[str]:
    return [n for n in cls.spec.names if n != "lr"]


class Grid:
    """The validated axes of a sweep; runs are built lazily, a slice at a time.

    Each distinct optimizer configuration is constructed once here (so bad hyperparameters
    fail before any work starts); the first ``KEPT_OPTIMIZERS`` are kept for ``runs``, the
    rest built again there: a grid of a million runs costs its axes and those only.
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
        self.seeds = [check_int("seed", s, 0) for s in _axis("seed", seed)]
        self.data_seeds = [check_int("data_seed", s, 0) for s in _axis("data_seed", data_seed)]
        self.gcs = _axis("gc", gc)
        self.batches = [None if b is None else check_batch_size(b, n_samples)
                        for b in _axis("batch_size", batch_size)]  # fmt: skip
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
        # Seeds, data seeds and batch sizes do not change an optimizer: validate each distinct
        # optimizer once, and count the runs by multiplying.
        self.n_runs = 0
        self._kept: dict[str, Optimizer] = {}
        for _, cls, fixed in self.factories:
            names = self._names(cls)
            for rate, g, *values in itertools.product(
                self.rates, self.gcs, *(self.hyper_axes[n] for n in names)
            ):
                opt = self._optimizer(cls, fixed, names, rate, g, values)  # validates
                if len(self._kept) < KEPT_OPTIMIZERS:  # runs() need not build it again
                    self._kept[self._key(cls, fixed, rate, g, values)] = opt
                self.n_runs += len(self.seeds) * len(self.data_seeds) * len(self.batches)

    def _names(self, cls: type) -> list[str]:
        accepted = _accepted_hyperparameters(cls)
        return [n for n in self.hyper_axes if n in accepted]

    @staticmethod
    def _optimizer(cls, fixed, names, rate, g, values) -> Optimizer:
        return cls(lr=rate, gc=_gc_of(cls, g), **{**fixed, **dict(zip(names, values,
                                                                       strict=True))})  # fmt: skip

    @property
    def uses_gc(self) -> bool:
        """Some run of the grid centralizes."""
        return any(_gc_of(cls, g) is not None for _, cls, _ in self.factories for g in self.gcs)

    @staticmethod
    def _key(cls, fixed, rate, g, values) -> str:
        """What makes one optimizer configuration of this grid (``fixed``: its factory's).

        By content, so that it holds in a copy of the grid (a pickled one) too.
        """
        return repr((cls.__module__, cls.__qualname__, sorted(fixed.items()), rate, g, values))

    def _combos(self, start: int, stop: int):
        """``(spec, cls, fixed, names, values)`` of runs ``start .. stop - 1``, in grid order."""

        def combos():
            for spec, cls, fixed in self.factories:
                names = self._names(cls)
                axes = (self.rates, self.seeds, self.data_seeds, self.gcs, self.batches,
                        *(self.hyper_axes[n] for n in names))  # fmt: skip
                for values in itertools.product(*axes):
                    yield spec, cls, fixed, names, values

        return itertools.islice(combos(), start, stop)

    @property
    def config_names(self) -> list[str]:
        """The config columns of every run, in order."""
        names = ["optimizer", self.rate_name, *CONFIG_COLUMNS[1:]]
        return names + [n for n in self.hyper_axes if n not in names]

    def _columns(self, combo) -> dict[str, object]:
        spec, cls, fixed, names, (rate, s, ds, g, b, *values) = combo
        kwargs = {**fixed, **dict(zip(names, values, strict=True))}
        columns = {"optimizer": _optimizer_label(spec), self.rate_name: rate, "seed": s,
                   "data_seed": ds, "gc": _gc_of(cls, g), "batch_size": b}  # fmt: skip
        columns.update({n: kwargs.get(n) for n in self.hyper_axes})
        return columns

    def runs(self, start: int, stop: int) -> list[Run]:
        """Runs ``start .. stop - 1`` of the grid, in its order."""
        runs = []
        # Seeds, data seeds and batch sizes do not change an optimizer: runs that differ only
        # in them share one object (building one per run was a third of a 1024-run sweep's
        # Python time). Runs only read it.
        shared = self._kept.copy()
        for index, combo in enumerate(self._combos(start, stop), start):
            _, cls, fixed, names, (rate, s, ds, g, b, *values) = combo
            key = self._key(cls, fixed, rate, g, values)
            opt = shared.get(key)
            if opt is None:
                opt = shared[key] = self._optimizer(cls, fixed, names, rate, g, values)
            full = b is None or b == self.n_samples
            run = Run(index, self._columns(combo), opt, s, ds, self.n_samples if full else b)
            # Runs with one data order (full batch: any data_seed) train together.
            run.group = (run.batch_size, None if full else ds)
            runs.append(run)
        return runs

    def configs(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """The config columns of runs ``start .. stop - 1``, without building their optimizers."""
        return config_columns([self._columns(c) for c in self._combos(start, stop)],
                              self.config_names)  # fmt: skip

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


def config_columns(rows: list[dict[str, object]], names: list[str]) -> dict[str, np.ndarray]:
    """Columns from per-run dicts: numbers as numeric arrays, anything else as objects."""
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
            columns[name] = np.array(values)
        else:  # element by element: np.array would split tuples such as betas into columns
            columns[name] = np.empty(len(values), dtype=object)
            for i, value in enumerate(values):
                columns[name][i] = value
    return columns


# --- settings and the plan ------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """What every chunk of one sweep shares besides the model and data."""

    steps: int
    record_every: int
    stop: float
    diverge: float
    dtype: np.dtype
    keep_curves: bool
    return_params: bool
    kernels: tuple = ()
    """``(coefficient_dtype, hyper_dtype)`` of each optimizer kernel the grid uses: the grid
    kernel is compiled for exactly these (see ``fused.combined_records``)."""
    uses_gc: bool = True
    """Whether any run centralizes gradients: the grid kernel compiles GC loops only then."""

    @property
    def n_records(self) -> int:
        """Recorded losses per run (0 when curves are not kept)."""
        return self.steps // self.record_every + 1 if self.keep_curves else 0

    def describe(self) -> dict:
        """A JSON-able description, for the fingerprint of a stored sweep."""
        return {
            "steps": self.steps,
            "record_every": self.record_every,
            "stop": repr(self.stop),
            "diverge": repr(self.diverge),
            "dtype": self.dtype.name,
            "keep_curves": self.keep_curves,
            "return_params": self.return_params,
        }


def bytes_per_run(model: MLP, settings: Settings) -> int:
    """Bytes one run holds while its chunk trains, and in the chunk's result."""
    return (
        model.layout.size * settings.dtype.itemsize * 6  # params, gradient, 3 buffers, result
        + settings.n_records * 8 * 2  # the kernel's curves and the result's
        + 512  # configs, metrics, bookkeeping
    )


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep, cut into chunks; made by :func:`plan_sweep`, run by ``fastopt.sweep``.

    Attributes
    ----------
    model : MLP
    data, val_data : tuple
        ``(X, Y, y)`` as :meth:`MLP.training_data` returns them; ``val_data`` may be None.
    settings : Settings
    grid : Grid
    chunk_size : int
        Runs per chunk; chunk ``i`` holds runs ``bounds(i)``.
    """

    model: MLP
    data: tuple
    val_data: tuple | None
    settings: Settings
    grid: Grid
    chunk_size: int

    @property
    def n_runs(self) -> int:
        """Runs in the grid."""
        return self.grid.n_runs

    @property
    def n_chunks(self) -> int:
        """Chunks the grid is cut into."""
        return -(-self.n_runs // self.chunk_size)

    def bounds(self, index: int) -> tuple[int, int]:
        """Runs ``[start, stop)`` of chunk ``index``."""
        start = index * self.chunk_size
        return start, min(start + self.chunk_size, self.n_runs)

    def runs(self, index: int) -> list[Run]:
        """The runs of chunk ``index``, with their optimizers."""
        return self.grid.runs(*self.bounds(index))

    def configs(self, index: int) -> dict[str, np.ndarray]:
        """The config columns of chunk ``index``."""
        return self.grid.configs(*self.bounds(index))

    def with_chunk_size(self, chunk_size: int) -> SweepPlan:
        """The same plan cut otherwise (a store keeps the cut it was started with)."""
        return dataclasses.replace(self, chunk_size=int(chunk_size))

    @property
    def classifier(self) -> bool:
        """Whether the model is trained with cross-entropy (and reports accuracy)."""
        return self.model.loss_name == "cross_entropy"

    def metric_dtypes(self) -> dict[str, str]:
        """The metrics of every run and their dtypes, in the order of the result's columns."""
        metrics = {"final_loss": "float64", "best_loss": "float64", "steps_to_target": "int64",
                   "diverged": "bool", "diverged_at": "int64", "steps_done": "int64"}  # fmt: skip
        if self.classifier:
            metrics["train_accuracy"] = "float64"
        if self.val_data is not None:
            metrics["val_loss"] = "float64"
            if self.classifier:
                metrics["val_accuracy"] = "float64"
        return metrics

    def schema(self) -> dict:
        """What every chunk's result holds: the store checks each file read back against it."""
        params = self.settings.return_params
        return {
            "metrics": self.metric_dtypes(),
            "configs": self.grid.config_names,
            "n_records": self.settings.n_records,
            "n_params": self.model.layout.size if params else None,
            "params_dtype": self.settings.dtype.name if params else None,
            "record_every": self.settings.record_every,
        }

    def describe(self) -> dict:
        """Everything that decides the results, JSON-able (the data as a digest)."""
        arrays = list(self.data) + (list(self.val_data) if self.val_data is not None else [None])
        return {"model": repr(self.model), "slope": self.model.negative_slope,
                "settings": self.settings.describe(), "grid": self.grid.describe(),
                "data": array_digest(*arrays)}  # fmt: skip

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of :meth:`describe`: the identity of the grid in a store."""
        return fingerprint(self.describe())


def plan_sweep(
    model: MLP,
    X,
    Y,
    *,
    optimizer,
    lr=None,
    seed=0,
    gc=DEFAULT_GC,
    batch_size=None,
    steps: int,
    stop_below: float | None = None,
    diverge_above: float | None = None,
    record_every: int = 1,
    schedule=None,
    dtype=np.float32,
    X_val=None,
    Y_val=None,
    data_seed=0,
    return_params: bool = False,
    keep_curves: bool = True,
    memory_limit: int | None = None,
    split: bool = False,
    **hyper,
) -> SweepPlan:
    """Check the arguments of :func:`fastopt.sweep` (documented there) and plan the chunks.

    ``split``: cut into at least ``MIN_CHUNKS`` chunks (for a store or an executor).
    Cheap checks come first, then the data (O(samples)), then the grid (O(configurations)).
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a fastopt.MLP, got {type(model).__name__}")
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    settings = Settings(
        steps=check_int("steps", steps, 1),
        record_every=check_int("record_every", record_every, 1),
        stop=check_finite_or_none("stop_below", stop_below),
        diverge=check_finite_or_none("diverge_above", diverge_above, positive=True),
        dtype=dtype,
        keep_curves=check_bool("keep_curves", keep_curves),
        return_params=check_bool("return_params", return_params),
    )
    limit = DEFAULT_MEMORY_LIMIT if memory_limit is None else check_int(
        "memory_limit", memory_limit, 1)  # fmt: skip
    per_run = bytes_per_run(model, settings)
    if per_run > limit:
        raise ValueError(
            f"one run needs {per_run / 2**20:,.1f} MiB ({settings.n_records:,} recorded losses, "
            f"{model.layout.size:,} parameters) but memory_limit is {limit / 2**20:,.1f} MiB: "
            "record fewer losses (record_every=...), or keep none (keep_curves=False), or "
            "raise memory_limit"
        )
    data = model.training_data(X, Y, dtype, ("X", "Y"))
    if (X_val is None) != (Y_val is None):
        raise ValueError("give both X_val and Y_val, or neither")
    val_data = None
    if X_val is not None:
        val_data = model.training_data(X_val, Y_val, dtype, ("X_val", "Y_val"))
    grid = Grid(optimizer, lr, schedule, seed, data_seed, gc, batch_size, hyper,
                data[0].shape[0])  # fmt: skip
    _check_order_fits(data[0].shape[0], grid.batches, settings.steps, limit)
    kernels = {(cls.spec.coefficient_dtype, cls.spec.hyper_dtype): None
               for _, cls, _ in grid.factories}  # fmt: skip
    settings = dataclasses.replace(settings, kernels=tuple(kernels), uses_gc=grid.uses_gc)
    chunk_size = max(1, limit // per_run)
    if split:  # a killed process loses at most the running chunks; every worker has work
        chunk_size = min(chunk_size, max(1, -(-grid.n_runs // MIN_CHUNKS)))
    return SweepPlan(model, data, val_data, settings, grid, int(min(chunk_size, grid.n_runs)))


def _check_order_fits(n: int, batches: list, steps: int, limit: int) -> None:
    """The mini-batch orders (one permutation per epoch, int64) must fit the memory limit."""
    for b in batches:
        if b is None or b == n:
            continue
        need = math.ceil((steps + 1) / (n // b)) * n * 8
        if need > limit:
            raise ValueError(
                f"the mini-batch order of batch_size={b} over {steps:,} steps needs "
                f"{need / 2**20:,.1f} MiB but memory_limit is {limit / 2**20:,.1f} MiB: "
                "train fewer steps, use larger batches, or raise memory_limit"
            )


def check_store_and_executor(store: object, executor: object) -> None:
    """Type checks of where a sweep stores and runs, before any work."""
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"store must be a folder path, got {store!r}")
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor, got {executor!r}")
