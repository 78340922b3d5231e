"""Where a grid run-step's time goes: per kernel, per run-step, against its FLOPs.

Run ``python -m bench.grid_breakdown`` (``--workloads NAME ...`` to choose among
``bench.sweep_workloads.WORKLOADS``). For each workload, on one thread, it times the grid
trainer's own kernels on that workload's shapes, each in a jitted loop of its own with
run-time arguments (a constant activation would let LLVM specialize what the grid cannot):

- ``gather``: copying a mini-batch into the kernels' buffers (mini-batch workloads);
- ``forward Lk``: layer k's product ``W @ A`` with its bias and activation;
- ``head``: the loss and its gradient w.r.t. the outputs (MSE or softmax cross-entropy);
- ``backward Lk``: layer k's weight gradient, and below the first layer the gradient taken
  back through the activation (with the bias gradient);
- ``step <optimizer>``: the fused optimizer step over the run's parameters;

then a whole run-step as the grid takes it (a one-thread ``fastopt.sweep`` of the workload's
first optimizer at a rate that does not diverge, its time over its run-steps). ``other`` is
what that leaves: the run loop, the learning-rate schedule, the coefficients and the step's
chunk loop. For each product it also gives its FLOPs at NumPy's sgemm rate on one thread
(2048^3, measured here): the run-step's floor if every product ran at that rate and nothing
else took time.
"""

from __future__ import annotations

import argparse
import sys
import time

import numba
import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (Numba's BLAS: loaded, so threadpoolctl limits it)
from numba import njit
from threadpoolctl import threadpool_limits

import fastopt
from bench import sweep_peers, sweep_workloads
from fastopt._kernels import grid as _grid
from fastopt._kernels import mlp as _mlp
from fastopt._kernels.fused import GC_NONE, STEP_SERIAL
from fastopt.optim import chunk_table
from fastopt.plan import OPTIMIZER_NAMES
from fastopt.sweep import _feature_major

REPEATS = 2000
"""Calls of a kernel per timed loop (the best of 5 loops is kept)."""


@njit
def _time_forward(reps, W, b, A, Z, act, slope):
    for _ in range(reps):
        _mlp._dense_forward(W, b, A, Z, act, slope)


@njit
def _time_backward(reps, W, A, dZ, dW, dA, act, slope, db, scratch):
    for _ in range(reps):
        _mlp._dense_backward(W, A, dZ, dW, dA, act, slope, db, scratch)


@njit
def _time_mse(reps, out, Y, d_out):
    for _ in range(reps):
        _mlp._mse_head(out, Y, d_out)


@njit
def _time_softmax(reps, out, y, d_out, scratch):
    for _ in range(reps):
        _mlp._softmax_cross_entropy_head(out, y, d_out, scratch)


@njit
def _time_gather(reps, X, Y, y, rows, XT, Yb, yb):
    for _ in range(reps):
        _grid._gather(X, Y, y, rows, XT, Yb, yb)


@njit
def _time_step(reps, run, h, lr, c, p, g, S, chunks):
    for t in range(reps):
        run(h, t, lr, c, p, g, S, chunks)


def _best(loop, *args) -> float:
    """Microseconds per call: the best of 5 timed loops of ``REPEATS`` calls."""
    loop(3, *args)  # compile
    best = np.inf
    for _ in range(5):
        start = time.perf_counter()
        loop(REPEATS, *args)
        best = min(best, time.perf_counter() - start)
    return best / REPEATS * 1e6


def sgemm_one_thread() -> float:
    """NumPy float32 matrix product rate on one thread, GFLOP/s (``sgemm_gflops``, 1024^3)."""
    with threadpool_limits(1):
        return sweep_peers.sgemm_gflops(1024)


def breakdown(w: sweep_workloads.Workload, sgemm: float) -> list[tuple[str, float, float]]:
    """``(component, microseconds per run-step, floor microseconds)`` rows for one workload.

    The floor is the component's FLOPs at ``sgemm`` GFLOP/s (0 for what is not a product).
    The last rows are the measured run-step and ``other`` (run-step minus the components).
    """
    model = w.model
    sizes, act, slope = model.kernel_arguments(np.float32)
    n_samples = w.X.shape[0]
    n = w.grid.get("batch_size") or n_samples
    classifier = model.loss_name == "cross_entropy"
    rows: list[tuple[str, float, float]] = []
    floor = 2.0 / (sgemm * 1e3)  # microseconds per multiply-add

    if n < n_samples:
        XT = np.empty((sizes[0], n), dtype=np.float32)
        if _mlp.reads_X_in_place(sizes[1], sizes[0], n):
            XT = np.empty((n, sizes[0]), dtype=np.float32).T
        Y = np.zeros((0, 0), np.float32) if classifier else w.Y
        y = w.Y.astype(np.int64) if classifier else np.zeros(0, np.int64)
        Yb = np.empty((n, Y.shape[1]), np.float32)
        yb = np.empty(n, np.int64)
        order = np.random.default_rng(0).permutation(n_samples)[:n].astype(np.int64)
        rows.append(("gather", _best(_time_gather, w.X, Y, y, order, XT, Yb, yb), 0.0))
        _grid._gather(w.X, Y, y, order, XT, Yb, yb)
    else:
        XT = _feature_major(w.X, sizes, n)
        Yb = w.Y if not classifier else np.zeros((0, 0), np.float32)
        yb = w.Y.astype(np.int64) if classifier else np.zeros(0, np.int64)

    params = model.init(seed=0, dtype=np.float32)
    grad = np.empty_like(params)
    work = np.empty(_mlp._workspace_size(sizes, n), dtype=np.float32)
    _mlp._loss(params, XT, Yb, yb, sizes, act, slope, int(classifier), work)
    views = model.layout.views(params)
    grads = model.layout.views(grad)
    n_layers = len(sizes) - 1
    inputs = [XT]
    offset = 0
    for k in range(n_layers):  # every layer's output, as the forward pass left them
        width = sizes[k + 1] * n
        inputs.append(work[offset : offset + width].reshape(sizes[k + 1], n))
        offset += width
    scratch = np.empty(max(sizes[:-1].max(), 2) * n, dtype=np.float32)
    for k in range(n_layers):
        layer_act = act if k < n_layers - 1 else _mlp.IDENTITY
        Z = inputs[k + 1].copy()
        us = _best(_time_forward, views[f"W{k + 1}"], views[f"b{k + 1}"], inputs[k], Z, layer_act,
                   slope)  # fmt: skip
        rows.append((f"forward L{k + 1} {sizes[k + 1]}x{sizes[k]}", us,
                     sizes[k + 1] * sizes[k] * n * floor))  # fmt: skip
    out = inputs[-1].copy()
    d_out = np.empty_like(out)
    if classifier:
        head = _best(_time_softmax, out, yb, d_out, np.empty(2 * n, np.float32))
    else:
        head = _best(_time_mse, out, Yb, d_out)
    rows.append(("head (loss and its gradient)", head, 0.0))
    empty = np.zeros((0, 0), np.float32)
    for k in range(n_layers - 1, -1, -1):
        dZ = np.random.default_rng(k).standard_normal((sizes[k + 1], n)).astype(np.float32)
        dA = np.empty((sizes[k], n), np.float32) if k > 0 else empty
        db = grads[f"b{k}"] if k > 0 else np.zeros(0, np.float32)
        us = _best(_time_backward, views[f"W{k + 1}"], inputs[k], dZ, grads[f"W{k + 1}"], dA,
                   act, slope, db, scratch)  # fmt: skip
        macs = sizes[k + 1] * sizes[k] * n * (2 if k > 0 else 1)
        rows.append((f"backward L{k + 1} {sizes[k + 1]}x{sizes[k]}", us, macs * floor))

    optimizers = w.grid["optimizer"]
    optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
    for name in optimizers:
        cls, fixed = OPTIMIZER_NAMES[name]
        opt = cls(lr=1e-3, **fixed)
        state = opt.init(params.copy(), model.layout)
        coefficients = np.empty(1, dtype=opt.spec.coefficient_dtype)
        chunks = chunk_table(model.layout, False)
        us = _best(_time_step, STEP_SERIAL[GC_NONE], opt._hyper, 1e-3, coefficients,
                   params.copy(), grad, state.buffers, chunks)  # fmt: skip
        rows.append((f"step {name} ({params.size} parameters)", us, 0.0))

    run_step = _run_step(w, optimizers[0])
    rows.append((f"run-step as the grid takes it ({optimizers[0]})", run_step, 0.0))
    counted = sum(us for label, us, _ in rows[:-1] if not label.startswith("step ")) + next(
        us for label, us, _ in rows if label == f"step {optimizers[0]} ({params.size} parameters)"
    )
    rows.append(("other (run loop, schedule, coefficients, chunks)", run_step - counted, 0.0))
    return rows


def _run_step(w: sweep_workloads.Workload, optimizer: str) -> float:
    """Microseconds per run-step of a one-thread sweep of ``optimizer`` at lr 1e-3.

    32 runs of 5 times the workload's steps: the sweep's own costs (planning, the final
    evaluation) are then a small part.
    """
    grid = {**w.grid, "optimizer": optimizer, "lr": [1e-3] * 32, "seed": 0,
            "steps": 5 * w.grid["steps"]}  # fmt: skip
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        fastopt.sweep(w.model, w.X, w.Y, progress=False, **{**grid, "steps": 2})
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            result = fastopt.sweep(w.model, w.X, w.Y, progress=False, **grid)
            best = min(best, (time.perf_counter() - start) / result["steps_done"].sum())
    finally:
        numba.set_num_threads(threads)
    return best * 1e6


def print_breakdown(name: str, rows: list[tuple[str, float, float]]) -> None:
    total = rows[-2][1]
    floor = sum(f for _, _, f in rows)
    print(f"== {name}: {total:.2f} us per run-step on one thread; its products at the "
          f"one-thread sgemm rate: {floor:.2f} us ({floor / total * 100:.0f}%)")  # fmt: skip
    for label, us, f in rows:
        extra = f"  (sgemm floor {f:.2f} us, {f / us * 100:.0f}% of it)" if f > 0 else ""
        print(f"  {label:52} {us:8.2f} us  {us / total * 100:5.1f}%{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [n for n in sweep_workloads.WORKLOADS]
    parser.add_argument("--workloads", nargs="+", choices=names, default=names)
    args = parser.parse_args()
    print(f"command: python -m bench.grid_breakdown {' '.join(sys.argv[1:])}")
    sgemm = sgemm_one_thread()
    print(f"NumPy sgemm 1024^3 float32, one thread: {sgemm:.1f} GFLOP/s\n")
    with threadpool_limits(1):
        for name in args.workloads:
            try:
                w = sweep_workloads.make(name)
            except ImportError as e:
                print(f"== {name}: {sweep_workloads.missing(e)} not installed\n")
                continue
            print_breakdown(w.name, breakdown(w, sgemm))
            print()


if __name__ == "__main__":
    main()
