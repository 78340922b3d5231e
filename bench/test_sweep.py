"""Grid throughput: ``fastopt.sweep`` against the per-configuration ``fastopt.reference`` loop.

Run: ``pytest bench/test_sweep.py``. The two workloads of issue 4 (see ``sweep_workloads``);
the reference trains 4 of the configurations for 50 steps, so the table at the end compares
run-steps per second (``extra_info["run_steps"]``). The cases and their timing
(``bench.timing.measure``) are the report's; torch and JAX: ``python -m bench.sweep_peers``.
"""

import pytest

from bench.sweep_workloads import classifier, fastopt_call, reference_loop, regression
from bench.timing import measure

WORKLOADS = {"regression": regression, "classifier": classifier}
REFERENCE_STEPS = 50


@pytest.mark.parametrize("impl", ["fastopt", "reference"])
@pytest.mark.parametrize(
    "workload",
    [pytest.param(name, marks=pytest.mark.benchmark(group=f"sweep {name}")) for name in WORKLOADS],
)
def test_sweep(benchmark, workload, impl):
    w = WORKLOADS[workload]()
    if impl == "fastopt":
        warmup, run = fastopt_call(w)
        result = measure(run, benchmark, warmup=warmup).result
        # The steps runs really took: some diverge and stop early.
        benchmark.extra_info["run_steps"] = int(result["steps_done"].sum())
    else:
        run, run_steps = reference_loop(w, steps=REFERENCE_STEPS)
        measure(run, benchmark)
        benchmark.extra_info["run_steps"] = run_steps
