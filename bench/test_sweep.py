"""Grid throughput: ``fastopt.sweep`` against the per-configuration ``fastopt.reference`` loop.

Run: ``pytest bench/test_sweep.py``. The two workloads of issue 4 (see ``sweep_workloads``);
the reference trains 4 of the configurations for 50 steps, so the table at the end compares
run-steps per second. torch and JAX: ``python -m bench.sweep_peers``.
"""

import numpy as np
import pytest

import fastopt
from bench.sweep_workloads import classifier, regression
from fastopt import reference

WORKLOADS = {"regression": regression, "classifier": classifier}
REFERENCE_STEPS = 50


def _reference_loop(w, n_runs=4, steps=REFERENCE_STEPS):
    net, layout = w.model, w.model.layout
    batches = fastopt.batch_indices(w.X.shape[0], w.grid.get("batch_size"), 0, steps)
    lrs = w.grid["lr"][:: len(w.grid["lr"]) // n_runs][:n_runs]

    def run():
        for lr in lrs:
            named = {k: v.copy() for k, v in layout.views(net.init(seed=0)).items()}
            opt = reference.Adam(lr=lr)
            state = opt.init(named)
            for t in range(steps):
                rows = batches[t]
                flat = layout.pack(named, dtype=np.float32)
                _, grad = reference.mlp_loss_and_grad(net, flat, w.X[rows], w.Y[rows])
                opt.step(named, layout.views(grad), state)

    return run, len(lrs) * steps


@pytest.mark.parametrize("impl", ["fastopt", "reference"])
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_sweep(benchmark, workload, impl):
    w = WORKLOADS[workload]()
    if impl == "fastopt":
        small = {**w.grid, "lr": w.grid["lr"][:2], "steps": 2}
        fastopt.sweep(w.model, w.X, w.Y, progress=False, **small)  # compile before timing

        def run():
            return fastopt.sweep(w.model, w.X, w.Y, progress=False, **w.grid)

        run_steps = None  # the steps runs really took: some diverge and stop early
        rounds = 3
    else:
        run, run_steps = _reference_loop(w)
        rounds = 2
    benchmark.group = f"sweep {workload}"
    result = benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=0)
    benchmark.extra_info["run_steps"] = run_steps or int(result["steps_done"].sum())
