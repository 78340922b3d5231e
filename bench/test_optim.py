"""Fused optimizer steps against ``fastopt.reference`` and their memory bound, float32,
N = 1e3 / 1e5 / 1e7.

Run: ``pytest bench/test_optim.py`` (add ``-k 'adam and None'`` to narrow it). One group per
optimizer, GC mode and size; the bound (``bench.stream_bound``: the step's own streams, no
arithmetic) joins the GC-off groups. The table at the end divides the reference's median by
each implementation's, and the bound's by fastopt's (% of bound), from the same run. The
cases and their timing (``bench.timing.measure``) are the report's; GB/s and the torch
ratios come from ``python -m bench.optim_bandwidth``.
"""

import pytest

from bench.optim_cases import (
    GC_MODES,
    OPTIMIZERS,
    SIZES,
    bound_step,
    fastopt_step,
    reference_step,
)
from bench.timing import measure


def _case(name, gc, n):
    # The marker gives each case its group (the optimizer's step at one size, one GC mode).
    group = f"{name} gc={gc} N={n:.0e}"
    return pytest.param(name, gc, n, id=group.replace(" ", "-"),
                        marks=pytest.mark.benchmark(group=group))  # fmt: skip


STEPS = [_case(name, gc, n) for name in OPTIMIZERS for gc in GC_MODES for n in SIZES]
BOUNDS = [_case(name, None, n) for name in OPTIMIZERS for n in SIZES]


@pytest.mark.parametrize("impl", ["fastopt", "reference"])
@pytest.mark.parametrize(("name", "gc", "n"), STEPS)
def test_step(benchmark, name, gc, n, impl):
    step = (fastopt_step if impl == "fastopt" else reference_step)(name, gc, n)
    measure(step, benchmark)


@pytest.mark.parametrize("impl", ["bound"])  # a column of the ratio table, as fastopt's
@pytest.mark.parametrize(("name", "gc", "n"), BOUNDS)
def test_bound(benchmark, name, gc, n, impl):
    measure(bound_step(name, n), benchmark)
