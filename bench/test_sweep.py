"""Grid throughput: ``fastopt.sweep`` against the per-configuration ``fastopt.reference`` loop.

Run: ``pytest bench/test_sweep.py``. Every workload of ``sweep_workloads`` (issue 4's two,
issue 14's wider, deeper and digits grids; digits only where scikit-learn, which holds its
data, is installed); the reference trains 4 of the configurations for 50 steps, so the table
at the end compares run-steps per second (``extra_info["run_steps"]``). The cases and their
timing (``bench.timing.measure``) are the report's; torch, JAX and scikit-learn:
``python -m bench.sweep_peers``.
"""

import importlib.util

import pytest

from bench.sweep_workloads import WORKLOADS, fastopt_call, make, reference_loop
from bench.timing import measure

REFERENCE_STEPS = 50
NEEDS = {"digits": "sklearn"}
"""Workloads whose data comes from a package that may be missing."""


def _param(name):
    marks = [pytest.mark.benchmark(group=f"sweep {name}")]
    if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
        marks.append(pytest.mark.skip(reason=f"{NEEDS[name]} not installed"))
    return pytest.param(name, marks=marks)


@pytest.mark.parametrize("impl", ["fastopt", "reference"])
@pytest.mark.parametrize("workload", [_param(name) for name in WORKLOADS])
def test_sweep(benchmark, workload, impl):
    w = make(workload)
    if impl == "fastopt":
        warmup, run = fastopt_call(w)
        result = measure(run, benchmark, warmup=warmup).result
        # The steps runs really took: some diverge and stop early.
        benchmark.extra_info["run_steps"] = int(result["steps_done"].sum())
    else:
        run, run_steps = reference_loop(w, steps=REFERENCE_STEPS)
        measure(run, benchmark)
        benchmark.extra_info["run_steps"] = run_steps
