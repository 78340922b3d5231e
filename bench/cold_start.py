"""Start-up of a new process, with an empty Numba cache (cold) and a warm one.

Run ``python -m bench.cold_start`` (``--warm-runs 1`` for a quicker pass). Each job is timed
as the wall time of a new Python process (``subprocess.run([sys.executable, ...])``, the
interpreter's own start included), twice over:

- cold: ``NUMBA_CACHE_DIR`` points at a fresh, empty temporary folder, so every kernel the
  job touches is compiled: what a newcomer, a CI run, a fresh Dask worker or the first run
  after an upgrade pays;
- warm: the same folder again, after the cold run filled it (the median of ``warm_runs``
  runs).

The jobs (``JOBS``) and their targets (DESIGN.md, "Start-up"):

- ``fastopt compare``, the README's main job (``python -m fastopt compare --out DIR``):
  <= 10 s cold;
- a first Adam step with GC (``Adam(lr=1e-3, gc="grad")``, a small layout): <= 3 s cold;
- ``import fastopt`` + a first step + a first small sweep: < 1.5 s warm.

Each job's other figure (compare and the step warm, the start-up cold) is measured and
reported too, without a target. Python's own bytecode caches are warm in both cases: only
Numba's cache differs. The child imports the same ``fastopt`` as this process (its folder
leads ``PYTHONPATH``) and runs in a temporary folder, so nothing is written to the checkout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import fastopt

FIRST_STEP = """
import numpy as np
import fastopt
layout = fastopt.Layout([("W1", (16, 8)), ("b1", (16,)), ("W2", (1, 16)), ("b2", (1,))])
rng = np.random.default_rng(0)
params = rng.standard_normal(layout.size).astype(np.float32)
grads = rng.standard_normal(layout.size).astype(np.float32)
opt = fastopt.Adam(lr=1e-3, gc="grad")
opt.step(params, grads, opt.init(params, layout))
"""

FIRST_SWEEP = """
X = rng.standard_normal((32, 2)).astype(np.float32)
fastopt.sweep(fastopt.MLP([2, 8, 1]), X, X[:, :1] * 2, optimizer="adam", lr=[0.01, 0.1],
              steps=20, progress=False)
"""


@dataclass(frozen=True)
class Job:
    """One start-up job: what a new process runs, and its targets (seconds, or None)."""

    name: str
    shown: str
    """The command as a user types it, for the report."""
    args: tuple[str, ...]
    """Arguments after ``python``; ``{out}`` stands for a fresh output folder."""
    target_cold: float | None = None
    """At most this many seconds with an empty Numba cache."""
    target_warm: float | None = None
    """Under this many seconds with a warm one."""


JOBS = [
    Job("fastopt compare", "python -m fastopt compare --out DIR",
        ("-m", "fastopt", "compare", "--out", "{out}"), target_cold=10.0),
    Job("first Adam step, gc='grad'", "python -c 'import fastopt; Adam(gc=\"grad\").step(...)'",
        ("-c", FIRST_STEP), target_cold=3.0),
    Job("import + first step + first small sweep",
        "python -c 'import fastopt; ...step(...); fastopt.sweep(...)'",
        ("-c", FIRST_STEP + FIRST_SWEEP), target_warm=1.5),
]  # fmt: skip


def _environment(cache: str) -> dict[str, str]:
    """This process's environment, with the Numba cache at ``cache`` and this process's
    ``fastopt`` first on the path (whatever folder the child starts in)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    root = str(Path(fastopt.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def run_seconds(job: Job, cache: str, work: str) -> float:
    """Wall time of one new process running ``job`` with its Numba cache at ``cache``.

    Raises ``RuntimeError`` with the child's last lines of stderr when it fails.
    """
    out = tempfile.mkdtemp(prefix="out-", dir=work)
    args = [sys.executable, *(a.replace("{out}", out) for a in job.args)]
    start = time.perf_counter()
    done = subprocess.run(args, cwd=work, env=_environment(cache), capture_output=True,
                          text=True)  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{job.name!r} exited with status {done.returncode}:\n{tail}")
    return seconds


def measure_job(job: Job, warm_runs: int = 2) -> dict:
    """One cold run (a fresh, empty cache folder), then ``warm_runs`` on the same folder.

    Keys: job, command, cold, warm (median of the warm runs), warm_runs, target_cold,
    target_warm (seconds; None where the job has no such target).
    """
    with tempfile.TemporaryDirectory(prefix="fastopt-cold-start-") as work:
        cache = os.path.join(work, "numba-cache")
        os.mkdir(cache)
        cold = run_seconds(job, cache, work)
        warm = statistics.median(run_seconds(job, cache, work) for _ in range(warm_runs))
    return dict(job=job.name, command=job.shown, cold=cold, warm=warm, warm_runs=warm_runs,
                target_cold=job.target_cold, target_warm=job.target_warm)  # fmt: skip


def measure(warm_runs: int = 2) -> list[dict]:
    """``measure_job`` of every job of ``JOBS``, in order."""
    return [measure_job(job, warm_runs) for job in JOBS]


def _against(seconds: float, target: float | None, op: str) -> str:
    if target is None:
        return ""
    met = seconds <= target if op == "<=" else seconds < target
    return f" (target {op} {target:g} s: {'met' if met else 'NOT met'})"


def print_rows(rows: list[dict]) -> None:
    """Print ``measure``'s rows."""
    for r in rows:
        cold = _against(r["cold"], r["target_cold"], "<=")
        warm = _against(r["warm"], r["target_warm"], "<")
        print(f"{r['job']}\n  {r['command']}")
        print(f"  empty Numba cache: {r['cold']:6.2f} s{cold}")
        print(f"  warm cache:        {r['warm']:6.2f} s{warm} (median of {r['warm_runs']})")


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.cold_start", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--warm-runs", type=int, default=2, choices=range(1, 10), metavar="K",
                        help="warm runs per job, their median shown (default 2)")  # fmt: skip
    args = parser.parse_args(argv)
    shown = sys.argv[1:] if argv is None else argv
    print(f"command: python -m bench.cold_start {' '.join(shown)}")
    print_rows(measure(args.warm_runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
