"""Fused optimizer steps against ``fastopt.reference``, float32, N = 1e3 / 1e5 / 1e7.

Run: ``pytest bench/test_optim.py`` (add ``-k 'adam and None'`` to narrow it). The ratio table
at the end divides the reference's median by fastopt's, from the same run. GB/s next to a
triad and the torch ratios come from ``python -m bench.optim_bandwidth``.
"""

import pytest

from bench.optim_cases import GC_MODES, OPTIMIZERS, SIZES, fastopt_step, reference_step


@pytest.mark.parametrize("impl", ["fastopt", "reference"])
@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"N={n:.0e}")
@pytest.mark.parametrize("gc", GC_MODES, ids=lambda gc: f"gc={gc}")
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_step(benchmark, name, gc, n, impl):
    step = (fastopt_step if impl == "fastopt" else reference_step)(name, gc, n)
    step()  # JIT compile or load from the cache before timing
    benchmark.group = f"{name} gc={gc} N={n:.0e}"
    rounds, iterations = (5, 1) if n >= 10_000_000 else (50, 10 if n <= 1000 else 1)
    benchmark.pedantic(step, rounds=rounds, iterations=iterations, warmup_rounds=1)
