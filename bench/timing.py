"""Timing helpers shared by every benchmark script and the report."""

from __future__ import annotations

import statistics
import time


def timed(fn) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn, min_time: float = 0.3, max_reps: int = 2000) -> float:
    """Median seconds per call of ``fn`` over repeats filling about ``min_time`` seconds.

    Two untimed calls first (compile or load the cache, warm the caches); calls shorter than
    a millisecond are timed in batches so the clock's grain does not matter.
    """
    fn()
    once = max(timed(fn), 1e-7)
    reps = int(min(max_reps, max(3, min_time / once)))
    batch = max(1, int(1e-3 / once))
    times = []
    for _ in range(max(3, reps // batch)):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        times.append((time.perf_counter() - start) / batch)
    return statistics.median(times)


def interleaved_medians(fns: dict, rounds: int = 5, min_time: float = 0.1) -> dict:
    """Median seconds per call of each function, timed in turn over several rounds.

    Taking turns (A B C A B C ...) spreads the machine's drift over all of them, so their
    ratios hold better than timing each in one go.
    """
    samples = {key: [] for key in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            samples[key].append(median_time(fn, min_time=min_time))
    return {key: statistics.median(values) for key, values in samples.items()}
