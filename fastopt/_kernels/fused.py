"""Fused optimizer steps over flat arrays, gradient centralization (GC) folded in.

One pass reads p, g and the state and writes p and the state. The drivers here are shared by
every optimizer; each optimizer's element loop and per-step coefficients live in its own
file (``fastopt/optimizers/<name>.py``) and are found through its coefficient record type:

- ``register(coefficient_dtype, hyper_dtype, rows, coefficients)`` (at import of the
  optimizer's module) maps the two NumPy record dtypes to its two ``@njit(inline="always")``
  functions;
- ``fill_coefficients_of(h, t, lr, c)`` and the drivers ``plain_rows``, ``grad_rows`` and
  ``update_rows`` (around the optimizer's element loop) are typed by those records: Numba
  compiles, for each optimizer a call uses, only that optimizer's code (a kernel with every
  optimizer inlined cost 30 s of LLVM on an empty cache), and the specialization is cached on
  disk like any other (a record dtype is part of the signature).

Inputs (validated by ``fastopt.optim``):

- ``p``, ``g``: flat parameter and gradient vectors of one layout, shape (N,).
- ``S``: the optimizer's state buffers, shape (k, N), one row per buffer, in the order the
  optimizer names them.
- ``h``: the optimizer's hyperparameters, a (1,) array of its hyper record (float64 fields).
- ``c``: this step's coefficients, a (1,) array of its coefficient record, float64 fields
  ``lr`` (the step's learning rate; Adagrad: the decayed one), ``wd`` (the L2 weight decay
  added to the gradient) and the optimizer's own. Rows cast them to p's dtype, so float32
  stays float32.
- ``chunks``: int64 array of shape (n_chunks, 3), rows ``(start, stop, gc_row_length)`` that
  tile ``[0, N)``, cut into blocks for the threads. In a chunk of a centralized tensor
  ``gc_row_length`` is the length of its rows (the chunk holds whole rows): each row's mean is
  taken while the row is in cache. Elsewhere it is 0 (no GC there).

GC modes per chunk. A centralized chunk is walked row by row, and the GC work of a row rides
in the element loop of its neighbour, while both are in cache:

- ``GC_GRAD`` subtracts the row mean of ``g + wd*p`` before the moments. The loop stepping row
  ``r`` also sums row ``r+1``'s ``g + wd*p`` (the ``AHEAD`` loop); only a chunk's first row
  has a pass of its own for its mean.
- ``GC_UPDATE`` takes the plain step while summing the step directions ``u`` of ``p -= lr*u``,
  then gives ``lr * mean(u)`` back to the row. The loop stepping row ``r`` also adds row
  ``r-1``'s give-back (the ``TOTAL_BACK`` loop); only a chunk's last row has a pass of its own.

Without this (a mean pass, or a give-back pass, over every row) GC cost +35% to +77% of a step
on ResNet-18's layout; with it, -3% to +25% of a step that is now at its memory bound
(BENCHMARKS.md; ``python -m bench.optim_bandwidth``), the rest being each row's loop entry
and the sums. GC work stays inside a chunk, so a chunk's result does not depend on the
thread that runs it. Sums are taken in the array's dtype over ``BLOCK`` entries (SIMD lanes
of a few terms each, as NumPy's pairwise sum), the block sums in float64 (float64 sums in
the loop cost SGD +30%); an element loop sums nothing it does not need (a sum of the
directions in every step cost 15-25% of a step without GC). Which flavours a kernel
compiles follows from ``gc_mode``: a literal compiles one mode's (see ``step_chunk``).

Loops run over views starting at index 0: with ``range(lo, hi)`` Numba cannot rule out
negative indices, keeps its wrap-around selects, and LLVM then does not vectorize. Likewise
``error_model="numpy"``: division by zero gives inf/NaN (as NumPy) instead of a Python
exception, and the loops carry no zero-divisor branch.
"""

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from fastopt._kernels import FASTMATH
from fastopt._kernels.rules import decayed

# GC modes.
GC_NONE = 0
GC_GRAD = 1
GC_UPDATE = 2

# What an element loop does beside the step, with the other row it is given (``p_other``,
# ``g_other``): nothing; sum its ``g + wd*p`` (the next row's GC mean); sum this row's step
# directions and add ``back`` to the other row's parameters (the previous row's give-back).
# Always a literal, so each is straight-line code that LLVM vectorizes.
PLAIN = 0
AHEAD = 1
TOTAL_BACK = 2

BLOCK = 256
"""Entries summed in the array's dtype before a sum moves to float64. Vectorized, a block is
a few terms per SIMD lane; unvectorized (``NUMBA_BOUNDSCHECK=1``), 1024 sequential float32
terms put a GC mean out of the reference's float32 tolerance."""

COMMON_COEFFICIENTS = ("lr", "wd")
"""Coefficient fields every optimizer has: the drivers read them for GC."""

_KERNEL_OPTIONS = {"fastmath": FASTMATH, "error_model": "numpy"}
"""Numba options of the functions made by ``overload`` below (see the module docstring)."""

_ROWS: dict = {}
_COEFFICIENTS: dict = {}
_FINISH: dict = {}


def register(coefficient_dtype: np.dtype, hyper_dtype: np.dtype, rows, coefficients,
             finish=None) -> None:  # fmt: skip
    """Make the drivers and ``fill_coefficients_of`` call an optimizer's own functions.

    ``rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back) -> (total, ahead)``: the
    step over entries ``[lo, hi)`` with the gradient shifted by ``d_shift`` (the GC mean), and
    for each entry ``i`` of it, ``gc_tally(what, ...)`` with the step direction ``u``
    (``p -= lr*u``) and ``i - lo`` into ``p_other``/``g_other`` (views as long as the range);
    both sums are returned in p's dtype. ``coefficients(h, t, lr, c)``: write step ``t``'s
    coefficients from the hyperparameters, computed in float64. ``h`` and ``c`` are records.
    Two optimizers may share one pair of record dtypes only if they share these functions.
    """
    coefficient_type = numba.from_dtype(coefficient_dtype)
    hyper_type = numba.from_dtype(hyper_dtype)
    if coefficient_dtype.names[:2] != COMMON_COEFFICIENTS:
        raise ValueError(f"coefficients must start with {COMMON_COEFFICIENTS}")
    tables = [(_ROWS, coefficient_type, rows), (_COEFFICIENTS, hyper_type, coefficients)]
    if finish is not None:
        tables.append((_FINISH, coefficient_type, finish))
    for table, key, fn in tables:
        if table.get(key, fn) is not fn:
            raise ValueError(f"record {key} is registered to another optimizer already")
        table[key] = fn


def combined_records(kernels) -> tuple[np.dtype, np.dtype]:
    """``(hyper, coefficients)`` records holding the given kernels', fields ``k0, k1, ...``.

    ``kernels``: ``(coefficient_dtype, hyper_dtype)`` pairs of registered optimizers. The grid
    trainer keeps one record of each per run (a run uses field ``k{kind}``, ``kind`` its
    kernel's position in ``kernels``), so runs of several optimizers share one compiled
    kernel, the MLP passes in it are compiled once, and only the optimizers a sweep uses are.
    """
    hyper = np.dtype([(f"k{i}", h) for i, (_, h) in enumerate(kernels)])
    coefficients = np.dtype([(f"k{i}", c) for i, (c, _) in enumerate(kernels)])
    return hyper, coefficients


def fill_coefficients_of(h, t, lr, c):
    """The registered optimizer's coefficients of step ``t``; for kernels only."""
    raise NotImplementedError


@overload(fill_coefficients_of, inline="always")
def _fill_coefficients_of(h, t, lr, c):
    coefficients = _COEFFICIENTS.get(h) if isinstance(h, types.Record) else None
    if coefficients is None:
        return None

    def impl(h, t, lr, c):
        coefficients(h, t, lr, c)

    return impl


def finish_chunk(c, p, S, lo, hi):
    """The registered optimizer's epilogue of a stepped chunk (most have none); kernels only."""
    raise NotImplementedError


@overload(finish_chunk, inline="always")
def _finish_chunk(c, p, S, lo, hi):
    finish = _FINISH.get(c) if isinstance(c, types.Record) else None
    if finish is None:
        return lambda c, p, S, lo, hi: None

    def impl(c, p, S, lo, hi):
        finish(c, p, S, lo, hi)

    return impl


# --- drivers --------------------------------------------------------------------------------
@njit(inline="always")
def gc_tally(what, i, u, total, ahead, p_other, g_other, back, wd):
    """Entry ``i``'s GC work beside the step, for an element loop: the new ``(total, ahead)``.

    ``what`` is ``PLAIN``, ``AHEAD`` or ``TOTAL_BACK``; ``u`` the entry's step direction;
    ``wd`` the L2 weight decay, in p's dtype as ``total`` and ``ahead``.
    """
    if what == TOTAL_BACK:
        total += u
        p_other[i] += back
    elif what == AHEAD:
        # Both loaded whatever wd is: a load under decayed's branch would keep the loop scalar.
        p_next, g_next = p_other[i], g_other[i]
        ahead += decayed(g_next, p_next, wd)
    return total, ahead


# The drivers below are typed by the coefficient record: each is, per optimizer, a function of
# its own around one copy of that optimizer's element loop (``rows``, named in a closure and
# inlined by Numba before typing). Two inlined copies in one function trip Numba's IR checks;
# an overload(inline="always") dispatch compiled every loop once more, apart, only to learn its
# return type (0.7-1.2 s of a first step); a call per block of BLOCK entries rather than per
# row cost SGD +30% with GC.
def _rows_of(c):
    """The element loop registered for coefficient record type ``c``, or None."""
    return _ROWS.get(c) if isinstance(c, types.Record) else None


def plain_rows(c, p, g, S, lo, hi, d_shift):
    """The plain step over ``[lo, hi)``, the gradient shifted by ``d_shift``; kernels only."""
    raise NotImplementedError


@overload(plain_rows, jit_options=_KERNEL_OPTIONS)
def _plain_rows(c, p, g, S, lo, hi, d_shift):
    rows = _rows_of(c)
    if rows is None:
        return None

    def impl(c, p, g, S, lo, hi, d_shift):
        rows(c, p, g, S, lo, hi, d_shift, PLAIN, p[lo:hi], g[lo:hi], p.dtype.type(0.0))

    return impl


@njit(inline="always")
def _decayed_grad_mean(p, g, wd, lo, hi):
    """Mean of ``g + wd*p`` over ``[lo, hi)`` in p's dtype, summed as ``grad_rows`` sums."""
    zero = p.dtype.type(0.0)
    total = 0.0
    for b in range(lo, hi, BLOCK):
        pb, gb = p[b : min(b + BLOCK, hi)], g[b : min(b + BLOCK, hi)]
        block = zero
        for i in range(pb.shape[0]):
            block += decayed(gb[i], pb[i], wd)
        total += block
    return p.dtype.type(total / (hi - lo))


@njit(inline="always")
def _in_blocks(rows, c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    """``rows`` over ``[lo, hi)`` in blocks of ``BLOCK``.

    ``p_other``/``g_other`` are as long as the range. Returns the float64 sums of the blocks'
    ``(total, ahead)``.
    """
    total = 0.0
    ahead = 0.0
    for b in range(lo, hi, BLOCK):
        e = min(b + BLOCK, hi)
        block_total, block_ahead = rows(c, p, g, S, b, e, d_shift, what, p_other[b - lo : e - lo],
                                        g_other[b - lo : e - lo], back)  # fmt: skip
        total += block_total
        ahead += block_ahead
    return total, ahead


def grad_rows(c, p, g, S, lo, hi, length):
    """A gc="grad" step of ``[lo, hi)``, rows of ``length`` (0: not centralized); kernels only.

    Each row's loop sums the next row's ``g + wd*p``, its mean. The last row, and a chunk
    not centralized, sum their own gradient instead, unused: one loop (one copy of the
    optimizer's element loop compiled for the mode, as for gc=None), and the gradient is
    read-only memory, so the loop still vectorizes (``p`` itself would alias what it writes).
    """
    raise NotImplementedError


@overload(grad_rows, jit_options=_KERNEL_OPTIONS)
def _grad_rows(c, p, g, S, lo, hi, length):
    rows = _rows_of(c)
    if rows is None:
        return None

    def impl(c, p, g, S, lo, hi, length):
        dt = p.dtype.type
        step, d_shift = hi - lo, dt(0.0)
        if length > 0:
            step, d_shift = length, _decayed_grad_mean(p, g, dt(c.wd), lo, lo + length)
        for start in range(lo, hi, step):
            stop = start + step
            p_next, g_next = g[start:stop], g[start:stop]
            if stop < hi:
                p_next, g_next = p[stop : stop + step], g[stop : stop + step]
            _, ahead = _in_blocks(rows, c, p, g, S, start, stop, d_shift, AHEAD, p_next, g_next,
                                  dt(0.0))  # fmt: skip
            if length > 0:
                d_shift = dt(ahead / length)

    return impl


def update_rows(c, p, g, S, lo, hi, length):
    """gc="update" over the rows of ``[lo, hi)``; kernels only.

    Each row's loop adds the previous row's give-back ``lr * mean(u)``; the last row's is
    added after.
    """
    raise NotImplementedError


@overload(update_rows, jit_options=_KERNEL_OPTIONS)
def _update_rows(c, p, g, S, lo, hi, length):
    rows = _rows_of(c)
    if rows is None:
        return None

    def impl(c, p, g, S, lo, hi, length):
        dt = p.dtype.type
        back = dt(0.0)
        # The first row has no give-back to add: it adds zero to the next row (its own, alone).
        other = lo + length if hi - lo > length else lo
        for start in range(lo, hi, length):
            kept = p[start]
            stop, other_stop = start + length, other + length
            total, _ = _in_blocks(rows, c, p, g, S, start, stop, dt(0.0), TOTAL_BACK,
                                  p[other:other_stop], g[other:other_stop], back)  # fmt: skip
            other = start
            if length == 1:
                # A one-entry row centralizes to exactly zero: keep p bit-identical rather
                # than taking the step and adding it back (which rounds).
                p[start] = kept
            else:
                back = dt(c.lr) * dt(total / length)
        if length > 1:
            row = p[other : other + length]
            for i in range(length):
                row[i] += back

    return impl


def step_chunk(c, p, g, S, lo, hi, gc_row_length, gc_mode):
    """Update ``p[lo:hi]`` and its state; for kernels only.

    ``gc_mode`` applies when ``gc_row_length`` > 0: the chunk is then whole rows of that
    length, each centralized on its own; with 0 the chunk is one plain range. A literal
    ``gc_mode`` compiles that mode's loops only; a runtime one (the grid trainer's, when some
    of its runs use GC) compiles all.
    """
    raise NotImplementedError


@overload(step_chunk, prefer_literal=True, jit_options=_KERNEL_OPTIONS)
def _step_chunk(c, p, g, S, lo, hi, gc_row_length, gc_mode):
    # A literal mode returns that mode's body alone (a branch on the literal inside one body
    # was not pruned: gc="grad" compiled the plain loop too, +0.9 s of a first Adam step).
    mode = gc_mode.literal_value if isinstance(gc_mode, types.IntegerLiteral) else None

    def plain(c, p, g, S, lo, hi, gc_row_length, gc_mode):
        plain_rows(c, p, g, S, lo, hi, p.dtype.type(0.0))
        finish_chunk(c, p, S, lo, hi)

    def grad(c, p, g, S, lo, hi, gc_row_length, gc_mode):
        grad_rows(c, p, g, S, lo, hi, gc_row_length)
        finish_chunk(c, p, S, lo, hi)

    def update(c, p, g, S, lo, hi, gc_row_length, gc_mode):
        if gc_row_length > 0:
            update_rows(c, p, g, S, lo, hi, gc_row_length)
        else:
            plain_rows(c, p, g, S, lo, hi, p.dtype.type(0.0))
        finish_chunk(c, p, S, lo, hi)

    def any_mode(c, p, g, S, lo, hi, gc_row_length, gc_mode):
        if gc_mode == GC_GRAD:
            grad_rows(c, p, g, S, lo, hi, gc_row_length)
        elif gc_mode == GC_UPDATE and gc_row_length > 0:
            update_rows(c, p, g, S, lo, hi, gc_row_length)
        else:
            plain_rows(c, p, g, S, lo, hi, p.dtype.type(0.0))
        finish_chunk(c, p, S, lo, hi)

    return {GC_NONE: plain, GC_GRAD: grad, GC_UPDATE: update}.get(mode, any_mode)


@njit(inline="always")
def _span_start(chunks, n_spans, span):
    """The first chunk of span ``span`` of ``n_spans``.

    That is the first chunk that starts at or past ``span / n_spans`` of the entries
    (``n_chunks`` for the span past the last).
    """
    first, size = chunks[0, 0], chunks[chunks.shape[0] - 1, 1] - chunks[0, 0]
    k = 0
    while k < chunks.shape[0] and (chunks[k, 0] - first) * n_spans < span * size:
        k += 1
    return k


def _step_kernels(gc_mode: int):
    """``(serial, parallel)``: the step kernels of one GC mode.

    ``gc_mode`` is a constant in them, so each compiles only that mode's loops, and each is
    cached on its own (Numba keys a closure's cache entry by its cell values). A runtime mode
    would compile every mode's loops on a first step; ``numba.literally`` would cost 3 ms a
    call.
    """

    @njit(cache=True, fastmath=FASTMATH, error_model="numpy")
    def step_serial(h, t, lr, c, p, g, S, chunks):
        # h and c are (1,) record arrays: the optimizer's hyperparameters and the scratch its
        # coefficients of step t (0-based) with learning rate lr are written to. They are
        # computed here, as the grid trainer computes them, so the two agree bit for bit (and
        # a first step compiles one kernel, not two).
        fill_coefficients_of(h[0], t, lr, c[0])
        for k in range(chunks.shape[0]):
            step_chunk(c[0], p, g, S, chunks[k, 0], chunks[k, 1], chunks[k, 2], gc_mode)

    @njit(cache=True, fastmath=FASTMATH, parallel=True, error_model="numpy")
    def step_parallel(h, t, lr, c, p, g, S, chunks, n_threads):
        # step_serial with the chunks spread over Numba's threads, each thread one span of
        # consecutive chunks holding about as many entries as the others'. (prange over the
        # chunks themselves splits them by count: GC chunks differ in size, and one thread
        # got twice the other's entries on ResNet-18's layout.) A chunk's result does not
        # depend on its span: bit-identical to step_serial at any thread count. n_threads
        # comes from the caller (numba.get_num_threads() here would not be cached).
        fill_coefficients_of(h[0], t, lr, c[0])
        n_spans = n_threads
        for span in prange(n_spans):  # a record value cannot enter a parallel region: c can
            for k in range(_span_start(chunks, n_spans, span),
                           _span_start(chunks, n_spans, span + 1)):  # fmt: skip
                step_chunk(c[0], p, g, S, chunks[k, 0], chunks[k, 1], chunks[k, 2], gc_mode)

    return step_serial, step_parallel


STEP_SERIAL, STEP_PARALLEL = zip(
    *(_step_kernels(mode) for mode in (GC_NONE, GC_GRAD, GC_UPDATE)), strict=True
)
"""Step kernels by GC mode: ``STEP_SERIAL[gc_mode](h, t, lr, c, p, g, S, chunks)`` takes step
``t`` over every chunk on the calling thread, ``STEP_PARALLEL[...](..., chunks, n_threads)``
on ``n_threads`` of Numba's threads (``numba.get_num_threads()``)."""


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def centralize_rows(x, segments):
    """Subtract from each GC row of ``x`` (N,) its mean, in place.

    ``segments`` (n_segments, 3) int64 holds ``(offset, n_rows, row_length)`` per tensor.
    """
    for k in range(segments.shape[0]):
        offset, n_rows, length = segments[k, 0], segments[k, 1], segments[k, 2]
        for r in range(n_rows):
            row = x[offset + r * length : offset + (r + 1) * length]
            total = 0.0
            for i in range(length):
                total += row[i]
            mean = x.dtype.type(total / length)
            for i in range(length):
                row[i] -= mean


@njit(cache=True)
def first_nonfinite(x):
    """Index of the first NaN or inf in ``x``, or -1."""
    for i in range(x.shape[0]):
        if not np.isfinite(x[i]):
            return i
    return -1
