"""A/B of the grid engine: ``fastopt.sweep`` of this checkout against another one, in one run.

Run ``python -m bench.grid_ab --base OTHER_CHECKOUT`` (e.g. a ``git worktree`` of the previous
commit: ``git worktree add ../base HEAD``). Each checkout's fastopt runs in its own long-lived
worker process (``sys.path`` puts that checkout first, ``NUMBA_CACHE_DIR`` is its own
``<checkout>/.numba_cache``), on the same workloads: both workers take them from this
checkout's ``bench/sweep_workloads.py`` by name (the workers import ``bench`` from here and
``fastopt`` from their checkout, and say which file they imported). For each workload both
workers compile and calibrate first (``bench.timing.plan``: rounds of about ``--min-time``
seconds), then they take ``--turns`` turns, alternating which goes first; a turn times the
whole grid (``bench.timing.measure``, the median of its rounds) in one worker, then in the
other. Printed per workload: each side's run-steps/s (``steps_done.sum()`` / seconds, the
median over the turns) and the median of the per-turn ratios new/base, which holds better
than the ratio of two medians on a shared machine (the two sides of a turn see the same load).

Default workloads: every one of ``sweep_workloads.WORKLOADS`` but digits (``--workloads`` to
choose; ``--quick`` for their smaller grids).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent

WORKER = """
import sys
checkout, bench_root = sys.argv[1:3]
sys.path[:] = [p for p in sys.path if p not in ("", ".", checkout, bench_root)]
sys.path.insert(0, checkout)
import fastopt  # this checkout's: its own submodules follow fastopt.__path__
sys.path[0] = bench_root  # bench from the A/B's checkout, whatever the other one holds
from bench.grid_ab import serve
serve()
"""
"""The worker's program (``python -c WORKER CHECKOUT BENCH_ROOT``)."""


# --- the worker ---------------------------------------------------------------------------------
def serve() -> None:
    """The worker's loop: one JSON command a line on stdin, one JSON answer a line on stdout.

    Commands: ``{"op": "warm", "workload": name, "quick": bool, "min_time": s}`` (compile on
    the small grid, calibrate the whole grid), ``{"op": "time", "workload": name}`` (time the
    grid once, as calibrated), ``{"op": "quit"}``. Answers hold "error" (the traceback) when
    a command failed. Anything else printed goes to stderr.
    """
    import traceback

    import numba

    import fastopt
    from bench import sweep_workloads, timing

    answer = sys.stdout
    sys.stdout = sys.stderr

    def reply(**fields):
        answer.write(json.dumps(fields) + "\n")
        answer.flush()

    reply(fastopt=os.path.realpath(fastopt.__file__), version=fastopt.__version__,
          threads=numba.get_num_threads(), cache=os.environ.get("NUMBA_CACHE_DIR"),
          bench=os.path.realpath(sweep_workloads.__file__))  # fmt: skip
    cases = {}
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "quit":
            break
        try:
            if op == "warm":
                w = sweep_workloads.make(command["workload"], command["quick"])
                warmup, run = sweep_workloads.fastopt_call(w)
                compile_seconds = timing.timed(warmup)
                plan = timing.plan(run, min_time=command["min_time"], min_rounds=1)
                cases[command["workload"]] = (run, plan)
                reply(name=w.name, runs=w.n_runs, steps=w.steps, compile=compile_seconds,
                      rounds=plan.rounds, iterations=plan.iterations)  # fmt: skip
            elif op == "time":
                run, plan = cases[command["workload"]]
                m = timing.measure(run, calibrated=plan)
                reply(seconds=m.seconds, run_steps=int(m.result["steps_done"].sum()))
            else:
                reply(error=f"unknown command {op!r}")
        except ImportError as e:
            reply(error=f"{sweep_workloads.missing(e)} not installed", skip=True)
        except Exception:
            reply(error=traceback.format_exc())


# --- the driver ----------------------------------------------------------------------------------
class WorkerError(RuntimeError):
    """A command failed in a worker (``skip``: a missing package, not a bug)."""

    def __init__(self, message: str, skip: bool = False):
        super().__init__(message)
        self.skip = skip


@dataclass
class Worker:
    """A worker process training with the fastopt of ``checkout``."""

    label: str
    checkout: Path
    process: subprocess.Popen
    hello: dict

    @classmethod
    def start(cls, label: str, checkout: Path) -> Worker:
        env = dict(os.environ, NUMBA_CACHE_DIR=str(checkout / ".numba_cache"))
        env.pop("PYTHONPATH", None)  # sys.path is the worker's to set
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(checkout), str(CHECKOUT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=CHECKOUT,
        )  # fmt: skip
        worker = cls(label, checkout, process, {})
        worker.hello = worker._read()
        return worker

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.label} worker exited (status {self.process.wait()})")
        answer = json.loads(line)
        if "error" in answer:
            raise WorkerError(answer["error"], answer.get("skip", False))
        return answer

    def ask(self, **command) -> dict:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
            except OSError:
                pass
            self.process.wait(timeout=60)


def git_commit(checkout: Path) -> str:
    """The checkout's short commit, "+ uncommitted changes" when fastopt/ differs from it."""
    try:
        git = ["git", "-C", str(checkout)]
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run([*git, "status", "--porcelain", "--", "fastopt"],
                               capture_output=True, text=True).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return commit + (" + uncommitted changes in fastopt/" if dirty.strip() else "")


def compare(workers: dict[str, Worker], name: str, quick: bool, turns: int,
            min_time: float) -> dict:  # fmt: skip
    """One workload in both workers: warm both, then ``turns`` turns, alternating which goes
    first. Returns name, runs, steps, compile {side: s}, rate {side: run-steps/s, median of
    the turns}, run_steps {side}, ratios (new/base of each turn), ratio (their median)."""
    warm = {side: w.ask(op="warm", workload=name, quick=quick, min_time=min_time)
            for side, w in workers.items()}  # fmt: skip
    rates = {side: [] for side in workers}
    run_steps = {}
    ratios = []
    sides = list(workers)
    for turn in range(turns):
        order = sides if turn % 2 == 0 else sides[::-1]
        this = {}
        for side in order:
            t = workers[side].ask(op="time", workload=name)
            this[side] = t["run_steps"] / t["seconds"]
            run_steps[side] = t["run_steps"]
            rates[side].append(this[side])
        ratios.append(this["new"] / this["base"])
    first = warm["new"]
    return dict(name=first["name"], runs=first["runs"], steps=first["steps"],
                compile={side: a["compile"] for side, a in warm.items()},
                rounds={side: a["rounds"] * a["iterations"] for side, a in warm.items()},
                rate={side: statistics.median(r) for side, r in rates.items()},
                run_steps=run_steps, ratios=ratios, ratio=statistics.median(ratios))  # fmt: skip


def print_row(r: dict) -> None:
    """One workload's lines."""
    print(f"== {r['name']}: {r['runs']} runs x {r['steps']} steps", flush=True)
    for side in ("new", "base"):
        print(f"  {side:4} {r['rate'][side]:12,.0f} run-steps/s  (compile + load "
              f"{r['compile'][side]:.1f} s; {r['rounds'][side]} grid(s) a turn; "
              f"{r['run_steps'][side]:,} run-steps)")  # fmt: skip
    if r["run_steps"]["new"] != r["run_steps"]["base"]:
        print("  note: the two engines took different numbers of steps (runs diverged "
              "differently): rates count each one's own")  # fmt: skip
    shown = " ".join(f"{x:.2f}" for x in r["ratios"])
    print(f"  new/base x{r['ratio']:.2f}  (median of {len(r['ratios'])} turn(s): {shown})",
          flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    import numba

    from bench.sweep_workloads import WORKLOADS

    parser = argparse.ArgumentParser(prog="python -m bench.grid_ab",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--base", type=Path, required=True,
                        help="the other checkout (a folder holding fastopt/)")  # fmt: skip
    parser.add_argument("--new", type=Path, default=CHECKOUT,
                        help=f"the checkout under test (default: {CHECKOUT})")  # fmt: skip
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), metavar="NAME",
                        default=[n for n in WORKLOADS if n != "digits"],
                        help="workloads (default: all but digits; of "
                        f"{', '.join(WORKLOADS)})")  # fmt: skip
    parser.add_argument("--turns", type=int, default=3, help="turns per workload (default 3)")
    parser.add_argument("--quick", action="store_true", help="the workloads' smaller grids")
    parser.add_argument("--min-time", type=float, default=0.3,
                        help="seconds a side's turn lasts at least (default 0.3: one grid "
                        "for most)")  # fmt: skip
    args = parser.parse_args(argv)
    checkouts = {"new": args.new.resolve(), "base": args.base.resolve()}
    for side, path in checkouts.items():
        if not (path / "fastopt" / "__init__.py").is_file():
            parser.error(f"--{side} {path}: no fastopt/ package there")
    shown = " ".join(argv if argv is not None else sys.argv[1:])
    print(f"command: python -m bench.grid_ab {shown}")
    print(f"threads: {numba.get_num_threads()} Numba threads here (NUMBA_NUM_THREADS="
          f"{os.environ.get('NUMBA_NUM_THREADS', 'unset')}), {os.cpu_count()} CPUs")  # fmt: skip
    workers: dict[str, Worker] = {}
    try:
        for side, path in checkouts.items():
            w = workers[side] = Worker.start(side, path)
            h = w.hello
            print(f"{side:4}: fastopt {h['version']} from {h['fastopt']} ({git_commit(path)}); "
                  f"{h['threads']} threads; NUMBA_CACHE_DIR {h['cache']}; workloads from "
                  f"{h['bench']}", flush=True)  # fmt: skip
            expected = (path / "fastopt" / "__init__.py").resolve()
            if Path(h["fastopt"]) != expected:
                raise RuntimeError(f"the {side} worker imported {h['fastopt']}, not {expected}")
        print()
        rows = []
        for name in args.workloads:
            try:
                row = compare(workers, name, args.quick, args.turns, args.min_time)
            except WorkerError as e:
                if not e.skip:
                    raise
                print(f"== {name}: skipped ({e})", flush=True)
                continue
            print_row(row)
            rows.append(row)
    finally:
        for w in workers.values():
            w.close()
    if rows:
        print(f"\n{'workload':12} {'new run-steps/s':>16} {'base run-steps/s':>17} {'new/base':>9}")
        for r in rows:
            key = r["name"].split(" ")[0]
            print(f"{key:12} {r['rate']['new']:16,.0f} {r['rate']['base']:17,.0f} "
                  f"{r['ratio']:8.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
