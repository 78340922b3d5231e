"""The memory bound of an optimizer step: a streaming kernel with the step's own streams.

A fused step reads ``p``, ``g`` and each of its ``k`` state buffers and writes ``p`` and each
buffer back in place: ``2 + k`` read streams and ``1 + k`` write streams (Adam: 4 + 3, 28
bytes per float32 parameter). ``streams(opt)`` derives the counts from the optimizer's
``buffer_names``, so a new optimizer gets its bound with no table to edit.

``stream`` moves exactly those streams and does almost no arithmetic: of a ``(n_reads, N)``
array, rows ``0 .. n_writes-1`` are read and written in place (``p`` and the state), the
others only read (``g``); each written entry becomes ``0.5 * itself + 0.5 / n_reads * (the sum
of its column)``, a convex combination, so the values stay finite and normal however often it
runs. It uses the step's chunk table (``OptimizerState.chunks(False)``) and the step's choice
of one thread below ``fastopt.optim.PARALLEL_MIN_SIZE`` and Numba's threads from there, so a
step and its bound differ only in the arithmetic: "% of bound" says how close the step comes
to moving its bytes as fast as this machine can, and cannot exceed ~100%. (Against the
generic triad, with its own stream count and a write-allocate read, the committed
BENCHMARKS.md had every step at N = 1e7 between 128% and 162%: a target met by definition.)

Why the rows travel as two tuples of 1-D views (written, read-only) rather than as one 2-D
array and two counts: a tuple's length is part of its Numba type, so each count is a
compile-time constant, the loops over rows unroll, and the loop over entries is the same
straight-line, vectorized code as a step's. Measured on a shared 2-core virtual machine
(Intel Xeon, AVX-512), N = 1e7, float32, each timed in turn with Adam's step (GB/s, ratios
within one run only): one pass over entries with a runtime loop over rows 5.7 against the
step's 35.5 (scalar, compute-bound: a "bound" the step beats 6x); rows summed block by block
(1024 entries, every inner loop contiguous) 15.8 against 35.5, and 22.0 against 24.7 (one
stream at a time keeps fewer misses in flight than a step's seven); this kernel 27.3 against
22.2 on one thread, and level with the step on two. One specialization per pair of counts
and dtype: the benched steps use 4, 2r+1w to 5r+4w (the last: Lookahead's sync pass around
Adam).

Lookahead (``fastopt.Lookahead(inner)``, ``fastopt.Ranger``) keeps one more buffer,
``slow_params``, that a step touches only every ``k``-th time: after that step's inner update
of a chunk, the chunk epilogue reads the chunk's ``p`` (just written, still in cache: no
memory traffic), reads and writes its ``slow_params`` and writes ``p`` again (a line already
dirty, written back once). So the other ``k - 1`` steps move the inner's streams and the sync
step one read and one write stream more: ``streams(opt)`` gives the inner's counts,
``sync_streams(opt)`` the ``(1, 1)`` of the slow weights and ``period(opt)`` their ``k``;
``bytes_per_step`` counts the slow weights' bytes amortized, ``2 / k`` streams a step (Adam
inside, k = 5: 7.4 streams, 29.6 bytes per parameter). Not counted, as for every optimizer:
the flag test of the steps between (one scalar), and the chance that a chunk's ``p`` has left
the cache before its epilogue (a chunk is 16k entries, 64 KiB of float32 a stream; with GC, a
chunk of GC rows up to 128k, 512 KiB a stream, which L3 still holds). The bound of such an
optimizer is one Lookahead period (``stream_call`` with ``k`` passes): ``k - 1`` passes over
the inner's streams, then one with ``slow_params`` as one more written row, the same bytes as
the ``k`` steps of ``optim_cases.fastopt_step``, which takes one period a call. It is timed,
not computed from the bytes: on the 2-core machine above, N = 1e7, the 5r+4w pass took 1.65x
the 4r+3w one (Adam's bound 3.0 ms, Lookahead's with k = 1 5.0 ms) for 1.29x the bytes.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from fastopt.layout import Layout
from fastopt.optim import PARALLEL_MIN_SIZE

SLOW = "slow_params"
"""Lookahead's slow weights: a buffer a step touches only every ``lookahead_k``-th time."""


def period(opt) -> int:
    """Steps per period of ``opt``'s memory traffic: Lookahead's ``lookahead_k`` (its slow
    weights move once in ``k`` steps), 1 for every other optimizer."""
    return int(opt.lookahead_k) if SLOW in opt.buffer_names else 1


def streams(opt) -> tuple[int, int]:
    """``(n_reads, n_writes)`` of every step of ``opt``: ``p``, ``g`` and every state buffer
    are read, ``p`` and every state buffer written. Adam: ``(4, 3)``; SGD without momentum
    ``(2, 1)``, with momentum ``(3, 2)``; Adam with ``amsgrad=True``: ``(5, 4)``; Rprop
    (``prev``, ``step_size``) ``(4, 3)``; Lion ``(3, 2)``. Lookahead's slow weights are not
    among them (a step touches them once in ``period(opt)``): ``Lookahead(Adam())`` and
    Ranger (RAdam inside) ``(4, 3)``, and ``sync_streams`` the slow weights' share.
    """
    k = len([name for name in opt.buffer_names if name != SLOW])
    return 2 + k, 1 + k


def sync_streams(opt) -> tuple[int, int]:
    """``(n_reads, n_writes)`` one step in ``period(opt)`` moves on top of ``streams(opt)``:
    ``(1, 1)`` for Lookahead (``slow_params`` read and written; ``p`` is read again and
    written again while its chunk is in cache, which costs no memory traffic), ``(0, 0)``
    otherwise."""
    return (1, 1) if SLOW in opt.buffer_names else (0, 0)


def streams_label(opt) -> str:
    """How tables name ``opt``'s streams: ``"4r+3w"``; Lookahead ``"4r+3w+(1r+1w)/5"``."""
    n_reads, n_writes = streams(opt)
    extra_r, extra_w = sync_streams(opt)
    label = f"{n_reads}r+{n_writes}w"
    return label + (f"+({extra_r}r+{extra_w}w)/{period(opt)}" if extra_r or extra_w else "")


@njit(inline="always")
def _stream_chunk(written, read_only, lo, hi):
    n_reads = len(written) + len(read_only)
    dtype = written[0].dtype
    half = dtype.type(0.5)
    share = dtype.type(0.5 / n_reads)
    # Unsigned indices: Numba then emits no negative-index wrap-around, which would keep the
    # loop scalar (fastopt._kernels.fused slices views from 0 instead; a tuple cannot be).
    for i in range(np.uint64(lo), np.uint64(hi)):
        total = dtype.type(0.0)
        for r in range(len(written)):
            total += written[r][i]
        for r in range(len(read_only)):
            total += read_only[r][i]
        for w in range(len(written)):
            written[w][i] = half * written[w][i] + share * total


@njit(cache=True)
def stream_serial(written, read_only, chunks):
    """Every chunk of the rows, in place, on the calling thread.

    ``written`` and ``read_only`` are tuples of 1-D arrays of one dtype and length N (at
    least one of each); each written row becomes ``0.5 * row + 0.5 / n_reads * (sum of every
    row)``. ``chunks`` (n_chunks, 3) int64 holds ``(start, stop, _)`` rows tiling ``[0, N)``.
    """
    for k in range(chunks.shape[0]):
        _stream_chunk(written, read_only, chunks[k, 0], chunks[k, 1])


@njit(cache=True, parallel=True)
def stream_parallel(written, read_only, chunks):
    """``stream_serial``, chunks spread over Numba's threads (chunks never overlap)."""
    for k in prange(chunks.shape[0]):
        _stream_chunk(written, read_only, chunks[k, 0], chunks[k, 1])


def _kernel_arguments(S: np.ndarray, n_writes: int, chunks: np.ndarray):
    """Validate ``stream``'s arguments (Numba checks no bounds) and split ``S``'s rows."""
    if (
        not isinstance(S, np.ndarray)
        or S.ndim != 2
        or not S.flags.c_contiguous
        or not S.flags.writeable
        or S.dtype not in (np.float32, np.float64)
    ):
        raise ValueError("S must be a writeable C-contiguous 2-D float32 or float64 array")
    if not 1 <= n_writes < S.shape[0]:
        raise ValueError(
            f"n_writes must lie in [1, {S.shape[0] - 1}] (at least one row is only read, "
            f"as a step's gradient), got {n_writes}"
        )
    chunks = np.asarray(chunks)
    if chunks.dtype != np.int64 or chunks.ndim != 2 or chunks.shape[1] != 3 or not len(chunks):
        raise ValueError("chunks must be a non-empty int64 array of shape (n_chunks, 3)")
    starts, stops = chunks[:, 0], chunks[:, 1]
    if (
        starts[0] != 0
        or stops[-1] != S.shape[1]
        or np.any(starts[1:] != stops[:-1])
        or np.any(stops <= starts)
    ):
        raise ValueError(f"chunks must tile [0, {S.shape[1]}) in order")
    return tuple(S[:n_writes]), tuple(S[n_writes:]), np.ascontiguousarray(chunks)


def stream(S: np.ndarray, n_writes: int, chunks: np.ndarray) -> None:
    """Run the streaming kernel over ``S`` in place, the way ``Optimizer.step`` runs a step.

    Parameters
    ----------
    S : ndarray of shape (n_reads, N)
        C-contiguous float32 or float64. Every row is read; each of the first ``n_writes``
        becomes ``0.5 * row + 0.5 / n_reads * S.sum(axis=0)``.
    n_writes : int
        In ``[1, n_reads - 1]``.
    chunks : int64 ndarray of shape (n_chunks, 3)
        Rows ``(start, stop, _)`` tiling ``[0, N)``: ``OptimizerState.chunks(False)``.
    """
    written, read_only, chunks = _kernel_arguments(S, n_writes, chunks)
    run = stream_parallel if S.shape[1] >= PARALLEL_MIN_SIZE else stream_serial
    run(written, read_only, chunks)


def stream_call(opt, layout: Layout, dtype=np.float32, seed: int = 0):
    """A zero-argument callable moving ``opt``'s streams over ``layout.size`` entries, in the
    chunks and on the threads ``opt.step`` would use: one pass over ``streams(opt)`` a call,
    or for Lookahead one period of ``period(opt)`` passes, the last with the slow weights as
    one more written row (``sync_streams``)."""
    n_reads, n_writes = streams(opt)
    extra_r, extra_w = sync_streams(opt)
    assert extra_r == extra_w, "slow rows are read and written"
    S = np.random.default_rng(seed).standard_normal((n_reads + extra_r, layout.size))
    S = S.astype(dtype)
    chunks = opt.init(np.zeros(layout.size, dtype=dtype), layout).chunks(False)
    written, read_only, chunks = _kernel_arguments(S, n_writes + extra_w, chunks)
    run = stream_parallel if layout.size >= PARALLEL_MIN_SIZE else stream_serial
    if not extra_w:
        return lambda: run(written, read_only, chunks)
    inner = written[:n_writes]  # p and the inner's buffers; written[n_writes]: slow_params
    k = period(opt)

    def one_period():
        for _ in range(k - 1):
            run(inner, read_only, chunks)
        run(written, read_only, chunks)

    return one_period


def bytes_per_step(opt, n: int, itemsize: int = 4) -> float:
    """Bytes one step of ``opt`` over ``n`` parameters must read and write; Lookahead's slow
    weights amortized over their period (``sum(sync_streams(opt)) / period(opt)`` streams)."""
    every_step = sum(streams(opt)) * itemsize * n
    extra = sum(sync_streams(opt))
    return every_step if not extra else every_step + extra * itemsize * n / period(opt)
