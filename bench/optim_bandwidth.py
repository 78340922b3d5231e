"""Effective bandwidth of every fused optimizer step next to a triad, in one process.

Run ``python -m bench.optim_bandwidth`` (``--quick`` for smaller sizes, ``--threshold`` to
measure where threads start to pay). For each optimizer, GC mode and size it prints the median
step time, GB/s (bytes each parameter's step must read and write, float32), % of the triad
measured in this run, the speed-up over ``fastopt.reference`` and over torch's fastest CPU
implementation (fused Adam/AdamW/SGD, foreach RMSprop/Adagrad) when torch is installed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault(
    "NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".numba_cache")
)

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from bench.optim_cases import (  # noqa: E402
    GC_MODES,
    OPTIMIZERS,
    TORCH_MODE,
    arrays,
    fastopt_step,
    layout_for,
    reference_step,
    torch_step,
)


@njit(parallel=True, cache=True)
def _triad(a, b, c, scalar):
    for i in prange(a.shape[0]):
        a[i] = b[i] + scalar * c[i]


def median_time(fn, min_time: float = 0.3, max_reps: int = 2000) -> float:
    """Median seconds per call of ``fn`` over repeats filling about ``min_time`` seconds."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    reps = int(min(max_reps, max(3, min_time / once)))
    batch = max(1, int(1e-3 / once))  # time batches of >= 1 ms so the clock's grain is small
    times = []
    for _ in range(max(3, reps // batch)):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        times.append((time.perf_counter() - start) / batch)
    return statistics.median(times)


def triad_bandwidth(n: int) -> float:
    """GB/s of ``a = b + s*c`` over float32 arrays of ``n`` entries (12 bytes per entry)."""
    a, b = arrays(n)
    c = b.copy()
    scalar = np.float32(0.5)
    t = median_time(lambda: _triad(a, b, c, scalar))
    return 12 * n / t / 1e9


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


def bandwidth_table(sizes: list[int], with_reference: bool) -> None:
    """Print the main table."""
    n_max = max(sizes)
    triad = triad_bandwidth(n_max)
    print(f"triad (numba prange, float32, N={n_max:.0e}): {triad:.1f} GB/s\n")
    header = (
        f"{'optimizer':9} {'gc':6} {'N':>6} {'ms':>9} {'GB/s':>6} {'%triad':>6} "
        f"{'x ref':>6} {'x torch':>8} {'GC +%':>6}"
    )
    print(header)
    print("-" * len(header))
    for n in sizes:
        for name, (_, _, _, touched) in OPTIMIZERS.items():
            fns = {gc: fastopt_step(name, gc, n) for gc in GC_MODES}
            torch_fn = torch_step(name, n)
            if torch_fn is not None:
                fns["torch"] = torch_fn
            times = interleaved_medians(fns)
            for gc in GC_MODES:
                t = times[gc]
                gbs = touched * 4 * layout_for(n).size / t / 1e9
                if with_reference:
                    x_ref = f"{median_time(reference_step(name, gc, n), min_time=0.5) / t:6.1f}"
                else:
                    x_ref = f"{'-':>6}"
                x_torch = (
                    f"{times['torch'] / t:8.2f}"
                    if ("torch" in times and gc is None)
                    else f"{'-':>8}"
                )
                extra = f"{(t / times[None] - 1) * 100:6.1f}" if gc is not None else f"{'':6}"
                print(
                    f"{name:9} {gc!s:6} {n:6.0e} {t * 1e3:9.4f} {gbs:6.1f} "
                    f"{gbs / triad * 100:6.0f} {x_ref} {x_torch} {extra}"
                )
            if torch_fn is None and name == "sgd" and n == sizes[0]:
                print("  (torch not installed: x torch left out)")
    print(f"\ntorch modes: {TORCH_MODE}")
    print("GB/s counts the bytes a step must read and write (STREAM's convention; the triad")
    print("also pays a write-allocate read, so in-place updates can exceed 100% of it).")


def threshold_table() -> None:
    """Serial vs threaded kernel time per size, to place ``PARALLEL_MIN_SIZE``."""
    import fastopt
    from fastopt._kernels import fused

    print(f"{'N':>9} {'optimizer':9} {'serial us':>10} {'threads us':>10} {'ratio':>6}")
    for log2 in range(12, 23):
        n = 1 << log2
        layout = fastopt.Layout([("w", (n,))])
        for name in ("sgd", "adam"):
            rng = np.random.default_rng(0)
            params, grads = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
            opt = OPTIMIZERS[name][0](None)
            state = opt.init(params, layout)
            coef = np.array(opt._coefficients(0, 1e-3), dtype=params.dtype)
            chunks = state.chunks(False)
            args = (opt.kind, params, grads, state.buffers, coef, chunks, 0)
            serial = median_time(lambda: fused.step_serial(*args))  # noqa: B023
            threads = median_time(lambda: fused.step_parallel(*args))  # noqa: B023
            print(
                f"{n:9d} {name:9} {serial * 1e6:10.1f} {threads * 1e6:10.1f} "
                f"{serial / threads:6.2f}"
            )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 1e3, 1e5, 1e6")
    parser.add_argument("--no-reference", action="store_true", help="skip the NumPy reference")
    parser.add_argument("--threshold", action="store_true", help="serial vs threads per size")
    args = parser.parse_args()
    print(f"command: python -m bench.optim_bandwidth {' '.join(sys.argv[1:])}")
    if args.threshold:
        threshold_table()
        return
    sizes = [1_000, 100_000, 1_000_000] if args.quick else [1_000, 100_000, 10_000_000]
    bandwidth_table(sizes, with_reference=not args.no_reference)


if __name__ == "__main__":
    main()
