"""Grid throughput: ``fastopt.sweep`` against the per-configuration ``fastopt.reference`` loop.

Run: ``pytest bench/test_sweep.py``. The two workloads of issue 4 (see ``sweep_workloads``);
the reference trains 4 of the configurations for 50 steps, so the table at the end compares
run-steps per second. torch and JAX: ``python -m bench.sweep_peers``.
"""

import pytest

import fastopt
from bench.sweep_workloads import classifier, reference_loop, regression

WORKLOADS = {"regression": regression, "classifier": classifier}
REFERENCE_STEPS = 50


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
        run, run_steps = reference_loop(w, steps=REFERENCE_STEPS)
        rounds = 2
    benchmark.group = f"sweep {workload}"
    result = benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=0)
    benchmark.extra_info["run_steps"] = run_steps or int(result["steps_done"].sum())
