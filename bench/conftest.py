"""Shared benchmark plumbing: a ratio table per group at the end of ``pytest bench/``.

Every group holds one workload measured by several implementations; the table divides the
reference's median time by each implementation's, so the speed-ups come from one run.
"""

import os

os.environ.setdefault(
    "NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".numba_cache")
)


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    benchmarks = getattr(session, "benchmarks", None)
    if not benchmarks:
        return
    groups = {}
    for bench in benchmarks:
        impl = (bench.params or {}).get("impl")
        if impl is not None:
            groups.setdefault(bench.group, {})[impl] = bench.stats.median
    terminalreporter.write_sep("-", "speed-up over fastopt.reference (ratio of medians, one run)")
    for group, medians in groups.items():
        base = medians.get("reference")
        for impl, median in medians.items():
            ratio = f"{base / median:8.2f}x" if base else "       -"
            terminalreporter.write_line(f"{group:40s} {impl:12s} {median * 1e6:12.1f} us {ratio}")
