"""The cost of scale: storing chunks, running them through Dask, and peak memory.

Run ``python -m bench.sweep_scale`` (``--quick`` for a smaller grid). In one process it times
a 16k-run grid (8-16-1 MLP, 128 samples, Adam, 4096 learning rates x 4 seeds) in-process,
in-process with a store folder, and through a 2-worker Dask ``LocalCluster`` (one Numba thread
per worker, so processes x threads = cores); then the peak memory (VmHWM of a new
process) of a 10k-run and a 100k-run grid with summaries only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

import fastopt
from bench.timing import timed
from fastopt.plan import DEFAULT_MEMORY_LIMIT


def workload(n_lrs: int, steps: int):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, 8)).astype(np.float32)
    Y = np.sin(X[:, :1]).astype(np.float32)
    grid = dict(optimizer="adam", lr=[float(v) for v in np.geomspace(1e-4, 1e-1, n_lrs)],
                seed=[0, 1, 2, 3], steps=steps, record_every=10)  # fmt: skip
    return fastopt.MLP([8, 16, 1]), X, Y, grid


MEMORY = """
import resource, sys
import numpy as np
from fastopt import MLP, sweep
n, memory_limit = int(sys.argv[1]), int(sys.argv[2])
X = np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32)
r = sweep(MLP([2, 2, 1]), X, X[:, :1].copy(), optimizer="sgd",
          lr=list(np.linspace(1e-3, 1e-2, n)), steps=2, keep_curves=False,
          memory_limit=memory_limit)
assert len(r) == n
try:  # VmHWM: this process's peak; ru_maxrss would include the parent's (kept across exec)
    print([l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0])
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_mib(n_runs: int, memory_limit: int = DEFAULT_MEMORY_LIMIT) -> float:
    """Peak resident memory (MiB) of a new process running a grid of ``n_runs`` 2-2-1 runs,
    summaries only, in chunks of at most ``memory_limit`` bytes (sweep's default)."""
    done = subprocess.run([sys.executable, "-c", MEMORY, str(n_runs), str(memory_limit)],
                          check=True, capture_output=True, text=True, timeout=600)  # fmt: skip
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def measure(quick: bool) -> dict:
    """Keys: runs, steps, local (s), rate (run-steps/s), stored (s), chunks, dask (s, or "not
    installed"), peak_10k and peak_100k (MiB).
    """
    # quick: big enough (about a second) that 64 chunk files and Dask tasks are not all it times
    model, X, Y, grid = workload(1024 if quick else 4096, 100 if quick else 200)
    n_runs = len(grid["lr"]) * len(grid["seed"])
    small = {**grid, "lr": grid["lr"][:2], "steps": 2}
    fastopt.sweep(model, X, Y, progress=False, **small)  # compile before timing
    out = dict(runs=n_runs, steps=grid["steps"])
    # In-process with and without a store, timed in turn (medians): the overhead is small
    # next to the machine's drift. Each stored run starts from an empty folder.
    local, stored = [], []
    with tempfile.TemporaryDirectory() as folder:
        for k in range(3):
            local.append(timed(lambda: fastopt.sweep(model, X, Y, progress=False, **grid)))
            store = os.path.join(folder, f"s{k}")
            stored.append(timed(lambda s=store: fastopt.sweep(model, X, Y, progress=False,
                                                              store=s, **grid)))  # fmt: skip
        out["chunks"] = len([f for f in os.listdir(store) if f.startswith("chunk")])
    out["local"], out["stored"] = statistics.median(local), statistics.median(stored)
    out["rate"] = n_runs * grid["steps"] / out["local"]
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        out["dask"] = "not installed"
    else:
        # One thread per worker for Numba and for BLAS alike: processes x threads = cores.
        env = {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0", env=env)
        with Client(cluster) as client:
            executor = client.get_executor()
            warm = {**small, "lr": grid["lr"][:64]}  # enough chunks to reach every worker
            fastopt.sweep(model, X, Y, progress=False, executor=executor, **warm)
            out["dask"] = timed(lambda: fastopt.sweep(model, X, Y, progress=False,
                                                      executor=executor, **grid))  # fmt: skip
        cluster.close()
    out["peak_10k"], out["peak_100k"] = peak_mib(10_000), peak_mib(100_000)
    return out


def print_measured(m: dict) -> None:
    """Print ``measure``'s figures."""
    print(f"grid: {m['runs']} runs x {m['steps']} steps, 8-16-1 MLP, Adam")
    print(f"  in-process             {m['local']:7.2f} s  {m['rate']:10.0f} run-steps/s")
    print(f"  in-process + store     {m['stored']:7.2f} s  overhead "
          f"{(m['stored'] / m['local'] - 1) * 100:+.1f}%  ({m['chunks']} chunk files)")  # fmt: skip
    if isinstance(m["dask"], str):
        print(f"  Dask                   {m['dask']}")
    else:
        print(f"  Dask, 2 workers x 1    {m['dask']:7.2f} s  overhead "
              f"{(m['dask'] / m['local'] - 1) * 100:+.1f}%")  # fmt: skip
    print(
        f"peak memory (new process, summaries only): 10k runs {m['peak_10k']:.0f} MiB, "
        f"100k runs {m['peak_100k']:.0f} MiB (x{m['peak_100k'] / m['peak_10k']:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4k runs x 100 steps")
    args = parser.parse_args()
    print(f"command: python -m bench.sweep_scale {' '.join(sys.argv[1:])}")
    print_measured(measure(args.quick))


if __name__ == "__main__":
    main()
