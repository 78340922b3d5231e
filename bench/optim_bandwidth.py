"""Effective bandwidth of every fused optimizer step next to its own memory bound.

Run ``python -m bench.optim_bandwidth`` (``--quick`` for smaller sizes, ``--cases`` and
``--optimizers`` to narrow it, e.g. ``--cases 1e7 resnet18 --optimizers lion ranger``;
``--threshold`` for ``opt.step`` on one thread and on all of them, size by size: where threads
start to pay). Each optimizer's step is first checked against its reference on a small case
(``optim_cases.check_step``). For each optimizer, GC mode and case (N = 1e3, 1e5, 1e7 as one
dense weight, and torchvision's ResNet-18: 62 tensors, 11.7M entries) it prints the median
step time, GB/s (the bytes each parameter's step must read and write, float32; Lookahead's
slow weights amortized over its k steps), the bound: the same streams moved by
``bench.stream_bound``'s kernel (same chunks, same threads), timed in turn with the step, and
the step's % of it (the target is >= 90%), GC's extra time (the target is <= +10%), the
speed-up over ``fastopt.reference`` and over torch's fastest CPU implementation (fused
Adam/AdamW/SGD, foreach RMSprop/Adagrad/NAdam/RAdam/Adamax/Adadelta/Rprop; torch has no
Lion, Lookahead or Ranger: "n.a.") when torch is installed: GC off against torch's step, GC
"grad" against torch's step after centralizing each gradient tensor the way the official GC
code does. Lookahead and Ranger are timed one period (k steps, one synchronization) a call,
their bound too, and shown per step. A triad is printed too, as the machine's yardstick (the
report's "machine's limits"), not as a bound: its stream count and its write-allocate read
are not a step's.
"""

from __future__ import annotations

import argparse
import sys

import numba
import numpy as np
from numba import njit, prange

import fastopt
from bench.optim_cases import (
    CASES,
    GC_MODES,
    NO_TORCH,
    OPTIMIZERS,
    QUICK_SIZES,
    RESNET18,
    RESNET18_SIZE,
    RESNET18_TENSORS,
    TORCH_MODE,
    arrays,
    bound_step,
    check_step,
    fastopt_step,
    label,
    layout_for,
    reference_step,
    steps_per_call,
    torch_mode,
    torch_step,
)
from bench.stream_bound import bytes_per_step, streams_label
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


def measure_steps(cases: list, with_reference: bool = True, optimizers=None,
                  check: bool = True) -> list[dict]:  # fmt: skip
    """One row per optimizer x GC mode x case (a size, or ``RESNET18``).

    Keys: optimizer, gc, case (its label: "N=1e+07", "ResNet-18"), n (entries), streams
    (e.g. "4r+3w"; Lookahead "4r+3w+(1r+1w)/5": its slow weights once in k steps), seconds
    (median per step: a call's over ``steps_per_call``), gbs, bound_gbs (the same bytes moved
    by the streaming kernel), pct_bound (100 x the bound's time over the step's), x_reference
    (None when skipped: without ``with_reference``, and for ResNet-18, whose reference takes
    seconds), x_torch (torch's time over fastopt's: GC off against torch's step, GC "grad"
    against torch's step after per-tensor GC of its gradients as the official code does it;
    None for GC "update", without torch, and where torch has no such optimizer), torch
    ("fused"/"foreach", "not installed", or ``NO_TORCH``), gc_extra (fraction over the same
    optimizer without GC; None without GC). fastopt's three GC modes, the bound and torch
    with and without GC are timed in turn (``bench.timing.interleaved``).

    ``optimizers`` (names of ``OPTIMIZERS``, default all) narrows it. With ``check``, each
    optimizer's step is first compared with its reference on a small case in every GC mode
    (``check_step``): an ``AssertionError`` there stops the run before anything is timed.
    """
    names = list(OPTIMIZERS) if optimizers is None else list(optimizers)
    if check:
        for name in names:
            for gc in GC_MODES:
                check_step(name, gc)
    rows = []
    for case in cases:
        size = layout_for(case).size
        for name in names:
            opt = OPTIMIZERS[name][0](None)
            per_call = steps_per_call(name)
            step_bytes = bytes_per_step(opt, size)
            fns = {gc: fastopt_step(name, gc, case) for gc in GC_MODES}
            fns["bound"] = bound_step(name, case)
            torch_fns = {None: torch_step(name, case), "grad": torch_step(name, case, gc=True)}
            if torch_fns[None] is not None:
                fns.update({("torch", gc): fn for gc, fn in torch_fns.items()})
            times = {key: m.seconds for key, m in interleaved(fns).items()}
            for key in times:
                if not (isinstance(key, tuple) and key[0] == "torch"):
                    times[key] /= per_call  # per step; torch's calls are one step each
            mode = torch_mode(name)
            if mode is None:
                shown_mode = NO_TORCH
            else:
                shown_mode = mode if torch_fns[None] is not None else "not installed"
            for gc in GC_MODES:
                t = times[gc]
                x_ref = None
                if with_reference and case != RESNET18:
                    ref_call = median_time(reference_step(name, gc, case), min_time=0.5)
                    x_ref = ref_call / per_call / t
                torch_t = times.get(("torch", gc))
                rows.append(dict(
                    optimizer=name, gc=gc, case=label(case), n=size, streams=streams_label(opt),
                    seconds=t, gbs=step_bytes / t / 1e9,
                    bound_gbs=step_bytes / times["bound"] / 1e9,
                    pct_bound=times["bound"] / t * 100, x_reference=x_ref,
                    x_torch=None if torch_t is None else torch_t / t, torch=shown_mode,
                    gc_extra=None if gc is None else t / times[None] - 1,
                ))  # fmt: skip
    return rows


def print_steps(rows: list[dict], triad: float) -> None:
    """Print ``measure_steps``' rows as a table."""
    print(f"triad (numba prange, float32), the machine's yardstick: {triad:.1f} GB/s\n")
    header = (
        f"{'optimizer':14} {'gc':6} {'case':>9} {'streams':>15} {'ms':>9} {'GB/s':>6} "
        f"{'bound':>6} {'%bound':>6} {'x ref':>6} {'x torch':>8} {'GC +%':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        x_ref = f"{r['x_reference']:6.1f}" if r["x_reference"] is not None else f"{'-':>6}"
        if r["x_torch"] is not None:
            x_torch = f"{r['x_torch']:8.2f}"
        else:
            x_torch = f"{NO_TORCH if r['torch'] == NO_TORCH else '-':>8}"
        extra = f"{r['gc_extra'] * 100:6.1f}" if r["gc_extra"] is not None else f"{'':6}"
        print(
            f"{r['optimizer']:14} {r['gc']!s:6} {r['case']:>9} {r['streams']:>15} "
            f"{r['seconds'] * 1e3:9.4f} {r['gbs']:6.1f} {r['bound_gbs']:6.1f} "
            f"{r['pct_bound']:6.0f} {x_ref} {x_torch} {extra}"
        )
    if any(r["torch"] == "not installed" for r in rows):
        print("  (torch not installed: x torch left out)")
    print(f"\ntorch modes: {TORCH_MODE}; {NO_TORCH}: torch has no such optimizer")
    print("GB/s counts the bytes a step must read and write (streams: reads r, writes w of")
    print("one float32 each per parameter; Lookahead's slow weights, read and written once in")
    print("k steps, amortized). bound: those streams moved by bench.stream_bound's kernel over")
    print("the step's chunks and threads, timed in turn with the step (Lookahead: both one")
    print("period of k steps a call, times per step).")
    print("x torch: GC off against torch's step; GC 'grad' against torch's step after its")
    print("gradients are centralized tensor by tensor (g -= g.mean(dim=(1, ...), keepdim=True)).")
    print(f"ResNet-18: torchvision's {RESNET18_TENSORS} tensors, {RESNET18_SIZE:,} entries "
          "(torch steps them as 62 tensors, fastopt as one flat vector).")  # fmt: skip


def threshold_table(sizes=tuple(1 << k for k in range(12, 23))) -> None:
    """``opt.step``'s time per size on one of Numba's threads and on all of them.

    Public calls only (``numba.set_num_threads`` around ``opt.step``), so this measures what
    users get: below the step's serial threshold both columns run the serial kernel (ratio
    ~1.0); from the threshold on, the threaded one. A ratio well above 1 at the first
    threaded size says the threshold could come down; one below 1 that it should go up.
    """
    threads = numba.get_num_threads()
    print(f"{'N':>9} {'optimizer':9} {'1 thread us':>11} {f'{threads} threads us':>11} "
          f"{'ratio':>6}")  # fmt: skip
    try:
        for n in sizes:
            layout = fastopt.Layout([("w", (n,))])
            for name in ("sgd", "adam"):
                rng = np.random.default_rng(0)
                params = rng.random(n, dtype=np.float32)
                grads = rng.random(n, dtype=np.float32)
                opt = OPTIMIZERS[name][0](None)
                state = opt.init(params, layout)
                step = lambda: opt.step(params, grads, state)  # noqa: B023, E731
                numba.set_num_threads(1)
                one = median_time(step)
                numba.set_num_threads(threads)
                many = median_time(step)
                print(f"{n:9d} {name:9} {one * 1e6:11.1f} {many * 1e6:11.1f} {one / many:6.2f}")
    finally:
        numba.set_num_threads(threads)


def _case(text: str):
    """A ``--cases`` value: a size ("1e7", "100000") or "resnet18"."""
    if text.lower() in (RESNET18, "resnet-18"):
        return RESNET18
    try:
        n = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a size or {RESNET18!r}, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"a size must be positive, got {text!r}")
    return n


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.optim_bandwidth",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="sizes 1e3, 1e5, 1e6 (and ResNet-18)")
    parser.add_argument("--cases", nargs="+", type=_case, default=None, metavar="CASE",
                        help="sizes and/or resnet18 (default 1e3 1e5 1e7 resnet18)")  # fmt: skip
    parser.add_argument(
        "--optimizers",
        nargs="+",
        choices=list(OPTIMIZERS),
        default=None,
        metavar="NAME",
        help=f"some of {', '.join(OPTIMIZERS)} (default all)",
    )
    parser.add_argument("--no-reference", action="store_true", help="skip the NumPy reference")
    parser.add_argument(
        "--threshold", action="store_true", help="opt.step on 1 thread vs all, per size"
    )
    args = parser.parse_args(argv)
    shown = sys.argv[1:] if argv is None else argv
    print(f"command: python -m bench.optim_bandwidth {' '.join(shown)}".rstrip())
    if args.threshold:
        threshold_table()
        return
    cases = args.cases or ([*QUICK_SIZES, RESNET18] if args.quick else CASES)
    sizes = [c if c != RESNET18 else RESNET18_SIZE for c in cases]
    triad = triad_bandwidth(max(sizes))
    rows = measure_steps(cases, with_reference=not args.no_reference,
                         optimizers=args.optimizers)  # fmt: skip
    print_steps(rows, triad)


if __name__ == "__main__":
    main()
