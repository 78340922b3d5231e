"""Shared benchmark plumbing: a ratio table per group at the end of ``pytest bench/``.

Every group holds one workload measured by several implementations (the ``impl`` parameter);
the table divides the reference's median time by each implementation's, so the speed-ups come
from one run; where a group also holds the optimizer step's memory bound, fastopt's line says
its % of it. Where a benchmark records ``extra_info["run_steps"]`` (the grids, where the
reference does less work), the table compares run-steps per second instead.

The medians come from pytest-benchmark's public ``pytest_benchmark_group_stats`` hook (the
flat per-benchmark dicts it groups for its own tables), so nothing here reads the plugin's
private state.
"""

import pytest

_MEASURED = pytest.StashKey[list]()


@pytest.hookimpl(wrapper=True)
def pytest_benchmark_group_stats(config, benchmarks, group_by):
    """Keep this run's benchmarks (not those of a ``--benchmark-compare`` file)."""
    groups = yield
    config.stash[_MEASURED] = [bench for bench in benchmarks if bench.get("path") is None]
    return groups


def speedup_lines(benchmarks: list[dict]) -> list[str]:
    """The table's lines, from flat benchmark dicts (``group``, ``params``, ``median``,
    ``extra_info``)."""
    groups = {}
    for bench in benchmarks:
        impl = (bench.get("params") or {}).get("impl")
        if impl is not None:
            # Seconds per unit of work: per call, or per run-step for the grids.
            run_steps = bench["extra_info"].get("run_steps")
            per = bench["median"] / (run_steps or 1)
            groups.setdefault(bench["group"], {})[impl] = (per, run_steps is not None)
    lines = []
    for group, times in groups.items():
        base = times.get("reference", (None,))[0]
        bound = times.get("bound", (None,))[0]
        for impl, (per, is_rate) in times.items():
            ratio = f"{base / per:8.2f}x" if base else "       -"
            shown = f"{1 / per:12.0f} run-steps/s" if is_rate else f"{per * 1e6:12.1f} us"
            of_bound = f" {bound / per * 100:5.0f}% of bound" if bound and impl == "fastopt" else ""
            lines.append(f"{group:40s} {impl:12s} {shown} {ratio}{of_bound}")
    return lines


def pytest_terminal_summary(terminalreporter, config):
    benchmarks = config.stash.get(_MEASURED, None)
    if not benchmarks:
        return
    terminalreporter.write_sep("-", "speed-up over fastopt.reference (ratio of medians, one run)")
    for line in speedup_lines(benchmarks):
        terminalreporter.write_line(line)
