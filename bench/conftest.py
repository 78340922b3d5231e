"""Shared benchmark plumbing: a ratio table per group at the end of ``pytest bench/``.

Every group holds one workload measured by several implementations; the table divides the
reference's median time by each implementation's, so the speed-ups come from one run. Where a
benchmark records ``extra_info["run_steps"]`` (the grids, where the reference does less work),
the table compares run-steps per second instead.
"""


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    benchmarks = getattr(session, "benchmarks", None)
    if not benchmarks:
        return
    groups = {}
    for bench in benchmarks:
        impl = (bench.params or {}).get("impl")
        if impl is not None:
            # Seconds per unit of work: per call, or per run-step for the grids.
            per = bench.stats.median / bench.extra_info.get("run_steps", 1)
            groups.setdefault(bench.group, {})[impl] = (per, "run_steps" in bench.extra_info)
    terminalreporter.write_sep("-", "speed-up over fastopt.reference (ratio of medians, one run)")
    for group, times in groups.items():
        base = times.get("reference", (None,))[0]
        for impl, (per, is_rate) in times.items():
            ratio = f"{base / per:8.2f}x" if base else "       -"
            shown = f"{1 / per:12.0f} run-steps/s" if is_rate else f"{per * 1e6:12.1f} us"
            terminalreporter.write_line(f"{group:40s} {impl:12s} {shown} {ratio}")
