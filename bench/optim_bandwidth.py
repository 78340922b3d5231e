"""Effective bandwidth of every fused optimizer step next to its own memory bound.

Run ``python -m bench.optim_bandwidth`` (``--quick`` for smaller sizes, ``--threshold`` to
measure where threads start to pay). For each optimizer, GC mode and size it prints the median
step time, GB/s (the bytes each parameter's step must read and write, float32), the bound:
the same streams moved by ``bench.stream_bound``'s kernel (same chunks, same threads), timed
in turn with the step, and the step's % of it (the target is >= 90%), the speed-up over
``fastopt.reference`` and over torch's fastest CPU implementation (fused Adam/AdamW/SGD,
foreach RMSprop/Adagrad) when torch is installed. A triad is printed too, as the machine's
yardstick (the report's "machine's limits"), not as a bound: its stream count and its
write-allocate read are not a step's.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from numba import njit, prange

from bench.optim_cases import (
    GC_MODES,
    OPTIMIZERS,
    QUICK_SIZES,
    SIZES,
    TORCH_MODE,
    arrays,
    bound_step,
    fastopt_step,
    layout_for,
    reference_step,
    torch_step,
)
from bench.stream_bound import bytes_per_step, streams
from bench.timing import interleaved, median_time


@njit(parallel=True, cache=True)
def _triad(a, b, c, scalar):
    for i in prange(a.shape[0]):
        a[i] = b[i] + scalar * c[i]


def triad_bandwidth(n: int) -> float:
    """GB/s of ``a = b + s*c`` over float32 arrays of ``n`` entries (12 bytes per entry)."""
    a, b = arrays(n)
    c = b.copy()
    scalar = np.float32(0.5)
    t = median_time(lambda: _triad(a, b, c, scalar))
    return 12 * n / t / 1e9


def measure_steps(sizes: list[int], with_reference: bool = True) -> list[dict]:
    """One row per optimizer x GC mode x size.

    Keys: optimizer, gc, n, streams (e.g. "4r+3w"), seconds (median per step), gbs,
    bound_gbs (the same bytes moved by the streaming kernel), pct_bound (100 x the bound's
    time over the step's), x_reference (None when skipped), x_torch (gc None only; None
    otherwise), torch ("fused"/"foreach", or "not installed"), gc_extra (fraction over the
    same optimizer without GC; None without GC). fastopt's three GC modes, the bound and
    torch are timed in turn (``bench.timing.interleaved``).
    """
    rows = []
    for n in sizes:
        size = layout_for(n).size
        for name, (make, _, (torch_cls, _)) in OPTIMIZERS.items():
            opt = make(None)
            n_reads, n_writes = streams(opt)
            step_bytes = bytes_per_step(opt, size)
            fns = {gc: fastopt_step(name, gc, n) for gc in GC_MODES}
            fns["bound"] = bound_step(name, n)
            torch_fn = torch_step(name, n)
            if torch_fn is not None:
                fns["torch"] = torch_fn
            times = {key: m.seconds for key, m in interleaved(fns).items()}
            for gc in GC_MODES:
                t = times[gc]
                x_ref = None
                if with_reference:
                    x_ref = median_time(reference_step(name, gc, n), min_time=0.5) / t
                rows.append(dict(
                    optimizer=name, gc=gc, n=n, streams=f"{n_reads}r+{n_writes}w", seconds=t,
                    gbs=step_bytes / t / 1e9, bound_gbs=step_bytes / times["bound"] / 1e9,
                    pct_bound=times["bound"] / t * 100, x_reference=x_ref,
                    x_torch=times["torch"] / t if (torch_fn and gc is None) else None,
                    torch=TORCH_MODE[torch_cls] if torch_fn else "not installed",
                    gc_extra=None if gc is None else t / times[None] - 1,
                ))  # fmt: skip
    return rows


def print_steps(rows: list[dict], triad: float) -> None:
    """Print ``measure_steps``' rows as a table."""
    print(f"triad (numba prange, float32), the machine's yardstick: {triad:.1f} GB/s\n")
    header = (
        f"{'optimizer':9} {'gc':6} {'N':>6} {'streams':>7} {'ms':>9} {'GB/s':>6} "
        f"{'bound':>6} {'%bound':>6} {'x ref':>6} {'x torch':>8} {'GC +%':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        x_ref = f"{r['x_reference']:6.1f}" if r["x_reference"] is not None else f"{'-':>6}"
        x_torch = f"{r['x_torch']:8.2f}" if r["x_torch"] is not None else f"{'-':>8}"
        extra = f"{r['gc_extra'] * 100:6.1f}" if r["gc_extra"] is not None else f"{'':6}"
        print(
            f"{r['optimizer']:9} {r['gc']!s:6} {r['n']:6.0e} {r['streams']:>7} "
            f"{r['seconds'] * 1e3:9.4f} {r['gbs']:6.1f} {r['bound_gbs']:6.1f} "
            f"{r['pct_bound']:6.0f} {x_ref} {x_torch} {extra}"
        )
    if rows and rows[0]["torch"] == "not installed":
        print("  (torch not installed: x torch left out)")
    print(f"\ntorch modes: {TORCH_MODE}")
    print("GB/s counts the bytes a step must read and write (streams: reads r, writes w of")
    print("one float32 each per parameter). bound: those streams moved by bench.stream_bound's")
    print("kernel over the step's chunks and threads, timed in turn with the step.")


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
            coef = np.empty(fused.N_COEFFICIENTS, dtype=params.dtype)
            fused.fill_coefficients(opt.kind, opt.hyper_vector(), 0, opt.lr_at(0), coef)
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
    sizes = QUICK_SIZES if args.quick else SIZES
    triad = triad_bandwidth(max(sizes))
    print_steps(measure_steps(sizes, with_reference=not args.no_reference), triad)


if __name__ == "__main__":
    main()
