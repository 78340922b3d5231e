"""``fastopt.sweep``: train a whole grid of small MLPs in one parallel call.

A sweep is planned, then executed. :func:`fastopt.plan.plan_sweep` validates the arguments and
cuts the grid into chunks (see :mod:`fastopt.plan` for how lists become grid axes);
:func:`execute` trains the chunks (here, or on an executor), stores each as it finishes when
given a store, and reports progress through a callback.

Runs that share a data order (batch size and ``data_seed``) go to the grid kernel together;
threads take one run at a time and train it to its end with the single-run kernels (see
``fastopt._kernels.grid``), so a run's result does not depend on what else is in the grid,
and is bit-identical to training it alone with ``MLP.loss_and_grad`` and ``Optimizer.step``
unless it makes subnormal floats, which training flushes to zero (see
``fastopt._kernels.fpenv``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, ThreadPoolExecutor, wait

import numba
import numpy as np
from threadpoolctl import ThreadpoolController

from fastopt._compile import ensure_compiled
from fastopt._kernels import grid as _grid
from fastopt._kernels import mlp as _mlp
from fastopt._kernels.fused import combined_records
from fastopt._version import __version__
from fastopt.mlp import MLP
from fastopt.optim import GC_MODES, chunk_table
from fastopt.plan import (
    Run,
    SweepPlan,
    batch_indices,
    check_store_and_executor,
    config_columns,
    permutations,
    plan_sweep,
)
from fastopt.progress import Progress
from fastopt.results import SweepResult
from fastopt.schedules import Constant, Schedule
from fastopt.store import Store

__all__ = ["batch_indices", "execute", "sweep", "train_chunk"]

DIVERGE_FACTOR = 1e3
"""Default divergence threshold: this many times a run's first loss."""

MAX_RETRIES = 3
"""Times a chunk whose task failed on an executor is resubmitted."""

ProgressCallback = Callable[[int, int], None]
"""``callback(runs_done, steps_done)``: totals so far, called as chunks (and waves) finish."""


def sweep(
    model: MLP,
    X,
    Y,
    *,
    optimizer,
    lr=None,
    seed=0,
    gc="default",
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
        ``"adagrad"``, ``"nadam"``, ``"radam"``, ``"adamax"``, ``"adadelta"``, ``"rprop"``,
        ``"lion"``, ``"lookahead_<name>"`` (Lookahead around any of these, hyperparameters
        ``lookahead_k`` and ``lookahead_alpha``), ``"ranger"``, or optimizer objects whose
        hyperparameters (not lr, gc) are the defaults.
    lr : float or list of float
        Learning rate(s), > 0. Give ``schedule`` instead for learning-rate schedules.
    seed : int or list of int
        Weight-initialization seed(s), ``model.init(seed=...)``.
    gc : {"default", None, "grad", "update"} or a list of them
        Gradient centralization (see :mod:`fastopt.optim`). ``"default"``: each optimizer's
        own default, None for all but ``"ranger"`` (``"grad"``); the ``gc`` column of the
        result holds the mode each run took.
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
        Progress bar (runs, run-steps/s, ETA); default: on for a terminal or a notebook,
        off under pytest.
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
        A single run that does not fit is an error (record fewer losses, or none).
    store : path, optional
        Folder for finished chunks (see :mod:`fastopt.store`): each is written atomically as it
        completes; calling the same sweep again resumes and recomputes nothing stored; another
        grid on the same folder is an error. One sweep writes to a folder at a time (a lock):
        the same grid started twice waits, then resumes. :func:`fastopt.load_sweep` reads it.
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
        run stopped (no columns with ``keep_curves=False``). ``info`` says how it ran.
    """
    check_store_and_executor(store, executor)
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    plan = plan_sweep(
        model, X, Y, optimizer=optimizer, lr=lr, seed=seed, gc=gc, batch_size=batch_size,
        steps=steps, stop_below=stop_below, diverge_above=diverge_above,
        record_every=record_every, schedule=schedule, dtype=dtype, X_val=X_val, Y_val=Y_val,
        data_seed=data_seed, return_params=return_params, keep_curves=keep_curves,
        memory_limit=memory_limit, split=store is not None or executor is not None, **hyper,
    )  # fmt: skip
    total_steps = plan.n_runs * plan.settings.steps
    with Progress(total_runs=plan.n_runs, total_steps=total_steps, enabled=progress) as bar:
        result = execute(plan, store=store, executor=executor, on_progress=bar.update)
    info = {**result.info, "stop_below": stop_below, "diverge_above": diverge_above}
    return result.replace(info=info)


def execute(
    plan: SweepPlan,
    *,
    store: str | os.PathLike | None = None,
    executor: Executor | None = None,
    on_progress: ProgressCallback | None = None,
) -> SweepResult:
    """Train the chunks of a plan and gather their results, in grid order.

    Parameters
    ----------
    plan : SweepPlan
        From :func:`fastopt.plan.plan_sweep`.
    store : path, optional
        A store folder (see :mod:`fastopt.store`): chunks already in it are not trained
        again, each new one is written as it finishes; the folder is locked meanwhile.
    executor : concurrent.futures.Executor, optional
        Where chunks run (default: here, on this process's Numba threads).
    on_progress : callable, optional
        ``on_progress(runs_done, steps_done)`` with totals, as work finishes.
    """
    started = time.perf_counter()
    if store is None:
        parts, resumed = _execute_chunks(plan, None, executor, on_progress)
        rejected = []
    else:

        def waiting() -> None:
            print(
                f"fastopt: store {os.fspath(store)!r} is being written by another process; "
                "waiting for it to finish, then resuming from its chunks",
                file=sys.stderr,
            )

        with Store(store, plan.fingerprint, plan.n_runs, plan.chunk_size, __version__,
                   plan.describe(), plan.schema(), on_wait=waiting) as chunk_store:  # fmt: skip
            plan = plan.with_chunk_size(chunk_store.chunk_size)
            parts, resumed = _execute_chunks(plan, chunk_store, executor, on_progress)
            rejected = list(chunk_store.rejected)
    result = SweepResult.concat(parts) if len(parts) > 1 else parts[0]
    info = {
        "model": repr(plan.model),
        "steps": plan.settings.steps,
        "dtype": plan.settings.dtype.name,
        "n_chunks": plan.n_chunks,
        "resumed_chunks": resumed,
        "rejected_files": rejected,
        "seconds": time.perf_counter() - started,
        "threads": numba.get_num_threads(),
    }
    return result.replace(info=info, layout=plan.model.layout)


def _execute_chunks(plan, chunk_store, executor, on_progress) -> tuple[list[SweepResult], int]:
    """Every chunk's result, from the store where it holds a valid one, else trained."""
    parts: list[SweepResult | None] = [None] * plan.n_chunks
    if chunk_store is not None:
        for i in range(plan.n_chunks):
            stored = chunk_store.load(i)  # None when missing, or rejected against the schema
            if stored is not None:  # the configs come from the plan, exact, not from JSON
                parts[i] = stored.replace(configs=plan.configs(i))
    pending = [i for i in range(plan.n_chunks) if parts[i] is None]
    done = {"runs": sum(len(p) for p in parts if p is not None), "steps": 0}
    report = on_progress if on_progress is not None else (lambda runs, steps: None)

    def finished(i: int, part: SweepResult) -> None:
        parts[i] = part
        if chunk_store is not None:
            chunk_store.save(i, part)
        done["runs"] += len(part)
        done["steps"] += int(part["steps_done"].sum())
        report(done["runs"], done["steps"])

    args = (plan.model, plan.data, plan.val_data, plan.settings)
    if executor is None:
        for i in pending:

            def wave(runs: int, steps: int) -> None:
                report(done["runs"] + runs, done["steps"] + steps)

            finished(i, train_chunk(*args, plan.runs(i), on_wave=wave))
    else:
        _run_on_executor(executor, plan, pending, args, finished)
    return parts, plan.n_chunks - len(pending)


def _run_on_executor(executor, plan, pending, args, finished) -> None:
    """Submit the pending chunks; hand each to ``finished`` as it completes, in any order."""
    attempts: dict[int, int] = {}
    futures = {executor.submit(train_chunk, *args, plan.runs(i)): i for i in pending}
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
                futures[executor.submit(train_chunk, *args, plan.runs(i))] = i
                continue
            finished(i, part)


# --- one chunk ------------------------------------------------------------------------------
def train_chunk(model: MLP, data: tuple, val_data: tuple | None, settings, runs: list[Run],
                on_wave: ProgressCallback | None = None) -> SweepResult:  # fmt: skip
    """Train one chunk of runs (all on this process's threads) and return its results.

    A top-level function of picklable arguments, so that executors can run it anywhere.
    ``on_wave(runs_done, steps_done)`` gets this chunk's totals as it trains (every
    ``POLL_SECONDS``).
    """
    n_runs, n_params = len(runs), model.layout.size
    dtype = settings.dtype
    classifier = model.loss_name == "cross_entropy"
    curves = np.full((n_runs, settings.n_records), np.nan)
    metrics = {
        "final_loss": np.full(n_runs, np.nan),
        "best_loss": np.full(n_runs, np.nan),
        "steps_to_target": np.full(n_runs, -1, dtype=np.int64),
        "diverged": np.zeros(n_runs, dtype=bool),
        "diverged_at": np.full(n_runs, -1, dtype=np.int64),
        "steps_done": np.zeros(n_runs, dtype=np.int64),
    }
    if classifier:
        metrics["train_accuracy"] = np.full(n_runs, np.nan)
    if val_data is not None:
        metrics["val_loss"] = np.full(n_runs, np.nan)
        if classifier:
            metrics["val_accuracy"] = np.full(n_runs, np.nan)
    final_params = np.empty((n_runs, n_params), dtype=dtype) if settings.return_params else None
    offset = runs[0].index if runs else 0

    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.group, []).append(run)
    model_args = model.kernel_arguments(dtype)
    loss_kind = _mlp.LOSS_CROSS_ENTROPY if classifier else _mlp.LOSS_MSE
    # No GC table when no run uses GC: the kernel is then compiled without GC loops.
    chunk_tables = (chunk_table(model.layout, False),
                    chunk_table(model.layout, True) if settings.uses_gc else None)  # fmt: skip
    n_samples = data[0].shape[0]
    runs_before = 0
    steps_before = 0
    for members in groups.values():
        batch = _Batch(members, model, settings)
        first = members[0]
        perms, size = permutations(n_samples, first.batch_size, first.data_seed, settings.steps)
        XT = _feature_major(data[0], model_args[0], size)
        args = (
            data[0], XT, *data[1:], loss_kind, *model_args, perms, size, batch.kinds,
            batch.hyper, batch.coefficients, batch.sched_code, batch.sched_params,
            batch.gc_modes, *chunk_tables, batch.params, batch.state, settings.steps,
            settings.record_every, settings.stop, settings.diverge, DIVERGE_FACTOR,
            batch.curves, batch.steps_to_target, batch.diverged_at, batch.best_loss,
            batch.steps_done,
        )  # fmt: skip

        def poll(runs_done: int, before=(runs_before, steps_before), batch=batch) -> None:
            on_wave(before[0] + runs_done, before[1] + int(batch.steps_done.sum()))

        on_threads(_grid.train_runs, args, len(members), f"grid/{dtype}",
                   poll if on_wave is not None else None)  # fmt: skip
        runs_before += len(members)
        steps_before += int(batch.steps_done.sum())
        rows = np.array([run.index - offset for run in members])
        batch.scatter(rows, curves, metrics, final_params)
        _evaluate(batch.params, data, loss_kind, model_args, rows, metrics, "final_loss",
                  "train_accuracy")  # fmt: skip
        if val_data is not None:
            _evaluate(batch.params, val_data, loss_kind, model_args, rows, metrics, "val_loss",
                      "val_accuracy")  # fmt: skip
    metrics["diverged"] = metrics["diverged_at"] >= 0
    configs = config_columns([run.columns for run in runs], list(runs[0].columns))
    return SweepResult(configs, metrics, curves, settings.record_every, final_params)


class _Batch:
    """The runs of one group as the kernel's arrays, one row per run."""

    def __init__(self, runs: list[Run], model: MLP, settings):
        self.runs = runs
        dtype, n_records = settings.dtype, settings.n_records
        n, n_params = len(runs), model.layout.size
        n_buffers = max(len(run.optimizer.buffer_names) for run in runs)
        self.params = np.empty((n, n_params), dtype=dtype)
        self.state = np.zeros((n, n_buffers, n_params), dtype=dtype)
        # Records holding the sweep's optimizer kernels': run k's optimizer is kernel kinds[k],
        # its hyperparameters field f"k{kind}" (see fused.combined_records).
        hyper, coefficients = combined_records(settings.kernels)
        self.hyper = np.zeros(n, dtype=hyper)
        self.coefficients = np.zeros(n, dtype=coefficients)
        kind_of = {coefficients: i for i, (coefficients, _) in enumerate(settings.kernels)}
        self.kinds = np.empty(n, dtype=np.int64)
        self.gc_modes = np.empty(n, dtype=np.int64)
        self.sched_code = np.empty(n, dtype=np.int64)
        self.sched_params = np.empty((n, 4), dtype=np.float64)
        # Per seed and per optimizer object, not per run: runs share both (see Grid.runs).
        starts: dict[int, np.ndarray] = {}
        records: dict[int, tuple[int, np.ndarray]] = {}
        for k, run in enumerate(runs):
            opt = run.optimizer
            if run.seed not in starts:
                starts[run.seed] = model.init(seed=run.seed, dtype=dtype)
            self.params[k] = starts[run.seed]
            opt.fill_initial_buffers(self.state[k], self.params[k])
            if id(opt) not in records:
                records[id(opt)] = (kind_of[opt.spec.coefficient_dtype], opt.hyper_record()[0])
            self.kinds[k], record = records[id(opt)]
            self.hyper[k][f"k{self.kinds[k]}"] = record
            self.gc_modes[k] = GC_MODES[opt.gc]
            rate = opt.lr if isinstance(opt.lr, Schedule) else Constant(opt.lr)
            self.sched_code[k] = rate.code
            self.sched_params[k] = rate.params
        self.curves = np.full((n, n_records), np.nan)
        self.steps_to_target = np.full(n, -1, dtype=np.int64)
        self.diverged_at = np.full(n, -1, dtype=np.int64)
        self.best_loss = np.full(n, np.nan)
        self.steps_done = np.zeros(n, dtype=np.int64)

    def scatter(self, rows, curves, metrics, final_params) -> None:
        """Copy each run's results to its row ``rows[k]`` of the chunk."""
        curves[rows] = self.curves
        metrics["best_loss"][rows] = self.best_loss
        metrics["steps_to_target"][rows] = self.steps_to_target
        metrics["diverged_at"][rows] = self.diverged_at
        metrics["steps_done"][rows] = self.steps_done
        if final_params is not None:
            final_params[rows] = self.params


POLL_SECONDS = 0.25
"""How often ``on_threads`` reports progress while its threads train."""

_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}
"""Grid threads by (process, count): a forked child must not inherit its parent's pool, whose
threads do not exist in it."""
_BLAS: list[ThreadpoolController] = []


def on_threads(kernel, args: tuple, n_runs: int, label: str,
               poll: Callable[[int], None] | None = None) -> None:  # fmt: skip
    """Run a grid kernel over ``n_runs`` runs on ``numba.get_num_threads()`` threads.

    Each thread calls ``kernel(counter, *args)``; the kernels release the GIL and claim runs
    one at a time from the shared ``counter`` (``_grid.claim_next``), so a thread never waits
    on another's share. Compiled first (``ensure_compiled``, the notice on a terminal).
    ``poll(runs_done)``, if given, is called every ``POLL_SECONDS`` meanwhile and once at
    the end; ``runs_done`` counts runs claimed and not in flight (at the end: ``n_runs``).

    BLAS is held to one thread meanwhile (threadpoolctl): the threads are the parallelism,
    and OpenBLAS's own threads, which it starts for products from about 64 x 64 x 64,
    fought them (a 32-128-128-10 grid at batch 64: 2.6k run-steps/s, against 4.7k with BLAS
    held to one thread around the sweep and 8.3-9.3k with it held here). The
    threads live on between calls (starting them took 3 ms each).
    """
    n_threads = max(1, min(numba.get_num_threads(), n_runs))
    counter = np.zeros(1, dtype=np.int64)
    ensure_compiled(label, [(kernel, (counter, *args))])
    if not _BLAS:
        import scipy.linalg.cython_blas  # noqa: F401  Numba's BLAS: loaded, so that it is limited

        _BLAS.append(ThreadpoolController())
    # Always on fastopt's own threads, never the caller's: the training kernel changes its
    # thread's floating-point flags (fpenv) while it runs.
    with _BLAS[0].limit(limits=1, user_api="blas"):
        key = (os.getpid(), n_threads)
        if key not in _POOLS:
            _POOLS[key] = ThreadPoolExecutor(n_threads, thread_name_prefix="fastopt-grid")
        futures = [_POOLS[key].submit(kernel, counter, *args) for _ in range(n_threads)]
        running = set(futures)
        while running:
            _, running = wait(running, timeout=POLL_SECONDS)
            if poll is not None and running:
                poll(max(0, min(int(counter[0]), n_runs) - n_threads))
        for future in futures:
            future.result()  # a kernel's exception is raised here
    if poll is not None:
        poll(n_runs)


def _feature_major(X: np.ndarray, sizes: np.ndarray, batch: int) -> np.ndarray:
    """X transposed for the grid kernels.

    As ``MLP.loss_and_grad`` gives a batch of this size to the first layer: the view ``X.T``
    (read in place) or a C-ordered copy. Only the kernels for the layout in use get compiled.
    """
    if _mlp.reads_X_in_place(sizes[1], sizes[0], batch):
        return X.T
    return np.ascontiguousarray(X.T)


def _evaluate(params, data, loss_kind, model_args, rows, metrics, loss_name,
              accuracy_name) -> None:  # fmt: skip
    """Full-batch loss (and accuracy) of each run's final ``params`` on ``data``."""
    n = params.shape[0]
    loss, accuracy = np.empty(n), np.full(n, np.nan)
    XT = _feature_major(data[0], model_args[0], data[0].shape[0])
    args = (XT, *data[1:], loss_kind, *model_args, params, loss, accuracy)
    on_threads(_grid.evaluate_runs, args, n, f"evaluation/{params.dtype}")
    metrics[loss_name][rows] = loss
    if accuracy_name in metrics:
        metrics[accuracy_name][rows] = accuracy
