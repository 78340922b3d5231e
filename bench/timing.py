"""The one timing harness of ``pytest bench/`` and ``python -m bench.report``.

``measure`` is the only function that times a case, in both. Every case (optimizer steps,
``MLP.loss_and_grad``, the grid workloads) is a zero-argument callable defined once
(``optim_cases``, ``mlp_cases``, ``sweep_workloads``). ``measure`` decides everything that
makes a method: the warm-up, how many calls a timed round holds and how many rounds there are
(``plan``); it hands those numbers to a recorder with pytest-benchmark's
``pedantic(target, rounds=, iterations=, warmup_rounds=)`` signature and returns the median
seconds per call. In ``pytest bench/`` the recorder is the ``benchmark`` fixture itself, so
pytest-benchmark keeps its statistics, tables, ``--benchmark-autosave`` and
``--benchmark-compare``; in the report it is ``Stopwatch``, the same loop (untimed warm-up
rounds, then per round ``iterations`` calls between two ``time.perf_counter()`` reads, a
sample being the round's time over ``iterations``). Before, one case was timed two ways (the
suite's hand-picked 5-50 rounds, the report's own calibrated repeats) and could give two
answers; now they differ by the machine's drift only, and the method changes in one place.

Why not the other way round (the report reading pytest-benchmark's results): the report times
alternatives in turn (``interleaved``: a step, its bound and torch's, so that their ratios
survive the drift of a shared machine), which a pytest-benchmark test cannot express, and the
report must run where pytest is not installed.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

MIN_TIME = 0.3
"""Seconds of timed rounds ``measure`` aims at per case."""

MIN_ROUNDS = 3
"""Fewest timed rounds of a case, however long a call takes (a median needs three)."""

MAX_ROUNDS = 1000

ROUND_TIME = 1e-3
"""Shortest timed round: calls shorter than this are timed several per round, so that the
clock's grain and the two clock reads do not count."""

SHORT_ROUND = 0.05
"""Rounds shorter than this start with one untimed round: the caches may hold what the
previous case (or alternative) left there. Longer rounds (a grid) are not cache-bound, and
an untimed one costs seconds."""


def timed(fn) -> float:
    """Seconds one call of ``fn`` takes (for what is measured once: a compile, a peer)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Plan:
    """How a case is timed: ``pedantic``'s three arguments."""

    rounds: int
    iterations: int
    warmup_rounds: int


def plan(fn, *, warmup=None, min_time: float = MIN_TIME, min_rounds: int = MIN_ROUNDS) -> Plan:
    """Calibrate ``fn``: one untimed call (``warmup()`` instead, if given: JIT compile or
    cache load, first touch of the memory), then batches of 1, 2, 4 ... timed calls until one
    lasts ``ROUND_TIME``, then the rounds and iterations that fill about ``min_time`` seconds
    with rounds of at least ``ROUND_TIME``. (One timed call alone was too fragile: one slow
    thread wake-up made a 40 us step look like 1 ms, so it was timed one call per round.)"""
    (warmup or fn)()
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= ROUND_TIME or batch >= 1 << 16:
            break
        batch *= 2
    once = max(elapsed / batch, 1e-8)
    iterations = max(1, math.ceil(ROUND_TIME / once))
    round_time = once * iterations
    rounds = min(MAX_ROUNDS, max(min_rounds, round(min_time / round_time)))
    return Plan(rounds, iterations, 1 if round_time < SHORT_ROUND else 0)


class Stopwatch:
    """The report's recorder: pytest-benchmark's ``benchmark.pedantic`` loop, without pytest.

    Attributes
    ----------
    samples : list of float
        Seconds per call of each timed round.
    """

    def __init__(self):
        self.samples: list[float] = []

    def pedantic(self, target, *, rounds: int, iterations: int, warmup_rounds: int) -> Any:
        """Time ``rounds`` rounds of ``iterations`` calls after ``warmup_rounds`` untimed
        rounds; return the last call's result."""
        result = None
        for _ in range(warmup_rounds):
            for _ in range(iterations):
                target()
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(iterations):
                result = target()
            self.samples.append((time.perf_counter() - start) / iterations)
        return result


@dataclass(frozen=True)
class Measured:
    """What ``measure`` returns."""

    seconds: float | None
    """Median seconds per call; None under pytest-benchmark, which keeps its own statistics,
    or when it is disabled."""
    result: Any
    """The value a call of the case returned (e.g. a ``SweepResult``, to count run-steps)."""


def measure(
    fn, benchmark=None, *, warmup=None, calibrated: Plan | None = None, **plan_kwargs
) -> Measured:
    """Time ``fn`` (no arguments) the harness's way; see the module docstring.

    Parameters
    ----------
    fn : callable
        The case.
    benchmark : pytest-benchmark fixture, optional
        Records the rounds in ``pytest bench/``; a ``Stopwatch`` otherwise. When it is
        disabled (``--benchmark-disable``) the case is called once: a correctness pass.
    warmup : callable, optional
        Called once instead of ``fn`` before calibrating (e.g. a sweep compiled on a small
        grid, rather than one more run of the whole grid).
    calibrated : Plan, optional
        Skip the calibration (``interleaved`` calibrates each case once, not every turn).
    **plan_kwargs
        ``min_time``, ``min_rounds`` for ``plan``.

    Returns
    -------
    Measured
    """
    if benchmark is not None and not benchmark.enabled:
        return Measured(None, benchmark.pedantic(fn))
    p = calibrated or plan(fn, warmup=warmup, **plan_kwargs)
    recorder = benchmark if benchmark is not None else Stopwatch()
    result = recorder.pedantic(
        fn, rounds=p.rounds, iterations=p.iterations, warmup_rounds=p.warmup_rounds
    )
    seconds = statistics.median(recorder.samples) if benchmark is None else None
    return Measured(seconds, result)


def median_time(fn, **plan_kwargs) -> float:
    """Median seconds per call of ``fn``: ``measure(fn).seconds``."""
    return measure(fn, **plan_kwargs).seconds


def interleaved(
    fns: dict, turns: int = 5, min_time: float = 0.1, warmups: dict | None = None
) -> dict[Any, Measured]:
    """Each case of ``fns`` measured in turn (A B C A B C ...), ``turns`` times.

    Taking turns spreads the machine's drift over all of them, so their ratios hold better
    than timing each in one go. Each case is calibrated once (``warmups[key]``, if given, is
    its warm-up); each turn then times at least one round and about ``min_time`` seconds of
    it. The result holds the median of the turns' medians and the last call's return value.
    """
    warmups = warmups or {}
    plans = {
        key: plan(fn, warmup=warmups.get(key), min_time=min_time, min_rounds=1)
        for key, fn in fns.items()
    }
    seconds = {key: [] for key in fns}
    last = {}
    for _ in range(turns):
        for key, fn in fns.items():
            m = measure(fn, calibrated=plans[key])
            seconds[key].append(m.seconds)
            last[key] = m.result
    return {key: Measured(statistics.median(seconds[key]), last[key]) for key in fns}
