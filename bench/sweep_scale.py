"""The cost of scale: storing chunks, running them through Dask, and peak memory.

Run ``python -m bench.sweep_scale`` (``--quick`` for a smaller grid). In one process it times
a 16k-run grid (8-16-1 MLP, 128 samples, Adam, 4096 learning rates x 4 seeds) in-process,
in-process with a store folder, and through a 2-worker Dask ``LocalCluster`` (one Numba thread
per worker, so processes x threads = cores); then the peak memory (``ru_maxrss`` of a new
process) of a 10k-run and a 100k-run grid with summaries only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault(
    "NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".numba_cache")
)

import numpy as np  # noqa: E402

import fastopt  # noqa: E402


def workload(n_lrs: int, steps: int):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, 8)).astype(np.float32)
    Y = np.sin(X[:, :1]).astype(np.float32)
    grid = dict(optimizer="adam", lr=[float(v) for v in np.geomspace(1e-4, 1e-1, n_lrs)],
                seed=[0, 1, 2, 3], steps=steps, record_every=10)  # fmt: skip
    return fastopt.MLP([8, 16, 1]), X, Y, grid


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


MEMORY = """
import resource, sys
import numpy as np
from fastopt import MLP, sweep
n = int(sys.argv[1])
X = np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32)
sweep(MLP([2, 2, 1]), X, X[:, :1].copy(), optimizer="sgd", lr=list(np.linspace(1e-3, 1e-2, n)),
      steps=2, keep_curves=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_mib(n_runs: int) -> float:
    done = subprocess.run([sys.executable, "-c", MEMORY, str(n_runs)], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k runs x 50 steps")
    args = parser.parse_args()
    print(f"command: python -m bench.sweep_scale {' '.join(sys.argv[1:])}")
    model, X, Y, grid = workload(256 if args.quick else 4096, 50 if args.quick else 200)
    n_runs = len(grid["lr"]) * len(grid["seed"])
    run_steps = n_runs * grid["steps"]
    small = {**grid, "lr": grid["lr"][:2], "steps": 2}
    fastopt.sweep(model, X, Y, progress=False, **small)  # compile before timing
    print(f"grid: {n_runs} runs x {grid['steps']} steps, 8-16-1 MLP, Adam")

    local = timed(lambda: fastopt.sweep(model, X, Y, progress=False, **grid))
    with tempfile.TemporaryDirectory() as folder:
        stored = timed(lambda: fastopt.sweep(model, X, Y, progress=False,
                                             store=os.path.join(folder, "s"), **grid))  # fmt: skip
        n_chunks = len([f for f in os.listdir(os.path.join(folder, "s")) if f.startswith("chunk")])
    print(f"  in-process             {local:7.2f} s  {run_steps / local:10.0f} run-steps/s")
    print(f"  in-process + store     {stored:7.2f} s  overhead {(stored / local - 1) * 100:+.1f}%"
          f"  ({n_chunks} chunk files)")  # fmt: skip
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print("  Dask                   not installed")
    else:
        # One thread per worker for Numba and for BLAS alike: processes x threads = cores.
        env = {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0", env=env)
        with Client(cluster) as client:
            executor = client.get_executor()
            warm = {**small, "lr": grid["lr"][:64]}  # enough chunks to reach every worker
            fastopt.sweep(model, X, Y, progress=False, executor=executor, **warm)
            dask = timed(lambda: fastopt.sweep(model, X, Y, progress=False, executor=executor,
                                               **grid))  # fmt: skip
        cluster.close()
        print(f"  Dask, 2 workers x 1    {dask:7.2f} s  overhead {(dask / local - 1) * 100:+.1f}%")
    small_peak, large_peak = peak_mib(10_000), peak_mib(100_000)
    print(f"peak memory (new process, summaries only): 10k runs {small_peak:.0f} MiB, "
          f"100k runs {large_peak:.0f} MiB (x{large_peak / small_peak:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
