"""Fused optimizer steps over flat arrays, gradient centralization (GC) folded in.

One pass reads p, g and the state and writes p and the state. The drivers here are shared by
every optimizer; each optimizer's element loop and per-step coefficients live in its own
file (``fastopt/optimizers/<name>.py``) and are found through its coefficient record type:

- ``register(coefficient_dtype, hyper_dtype, rows, coefficients)`` (at import of the
  optimizer's module) maps the two NumPy record dtypes to its two ``@njit(inline="always")``
  functions;
- ``fill_coefficients_of(h, t, lr, c)`` and ``step_rows(c, p, g, S, lo, hi, d_shift)`` are typed
  by those records: Numba compiles, for each optimizer a call uses, only that optimizer's
  code (a kernel with every optimizer inlined cost 30 s of LLVM on an empty cache), and the
  specialization is cached on disk like any other (a record dtype is part of the signature).

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

GC modes per chunk: ``GC_GRAD`` subtracts the row mean of ``g + wd*p`` before the moments
(one extra read of the row, while it is in cache); ``GC_UPDATE`` takes the plain step while
summing the step directions, then adds ``lr * mean`` back to the row. Row sums are
accumulated in float64.

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

COMMON_COEFFICIENTS = ("lr", "wd")
"""Coefficient fields every optimizer has: the drivers read them for GC."""

_ROWS: dict = {}
_COEFFICIENTS: dict = {}


def register(coefficient_dtype: np.dtype, hyper_dtype: np.dtype, rows, coefficients) -> None:
    """Make ``step_rows`` and ``fill_coefficients_of`` call an optimizer's own functions.

    ``rows(c, p, g, S, lo, hi, d_shift) -> total``: the step over entries ``[lo, hi)`` with
    the gradient shifted by ``d_shift`` (the GC mean), returning the sum of the step
    directions ``u`` (``p -= lr*u``). ``coefficients(h, t, lr, c)``: write step ``t``'s
    coefficients from the hyperparameters, computed in float64. ``h`` and ``c`` are records.
    Two optimizers may share one pair of record dtypes only if they share these functions.
    """
    coefficient_type = numba.from_dtype(coefficient_dtype)
    hyper_type = numba.from_dtype(hyper_dtype)
    if coefficient_dtype.names[:2] != COMMON_COEFFICIENTS:
        raise ValueError(f"coefficients must start with {COMMON_COEFFICIENTS}")
    for table, key, fn in ((_ROWS, coefficient_type, rows), (_COEFFICIENTS, hyper_type,
                                                              coefficients)):  # fmt: skip
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


def step_rows(c, p, g, S, lo, hi, d_shift):
    """The registered optimizer's step over ``[lo, hi)``; for kernels only."""
    raise NotImplementedError


def fill_coefficients_of(h, t, lr, c):
    """The registered optimizer's coefficients of step ``t``; for kernels only."""
    raise NotImplementedError


@overload(step_rows, inline="always")
def _step_rows(c, p, g, S, lo, hi, d_shift):
    rows = _ROWS.get(c) if isinstance(c, types.Record) else None
    if rows is None:
        return None

    def impl(c, p, g, S, lo, hi, d_shift):
        return rows(c, p, g, S, lo, hi, d_shift)

    return impl


@overload(fill_coefficients_of, inline="always")
def _fill_coefficients_of(h, t, lr, c):
    coefficients = _COEFFICIENTS.get(h) if isinstance(h, types.Record) else None
    if coefficients is None:
        return None

    def impl(h, t, lr, c):
        coefficients(h, t, lr, c)

    return impl


# --- drivers --------------------------------------------------------------------------------
@njit(inline="always")
def _decayed_grad_mean(p, g, wd, lo, hi):
    """Mean of ``g + wd*p`` over ``[lo, hi)``, summed in float64, in p's dtype."""
    p, g, n = p[lo:hi], g[lo:hi], hi - lo
    total = 0.0
    for i in range(n):
        total += decayed(g[i], p[i], wd)
    return p.dtype.type(total / n)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def step_chunk(c, p, g, S, lo, hi, gc_row_length, gc_mode):
    """Update ``p[lo:hi]`` and its state.

    ``gc_mode`` applies when ``gc_row_length`` > 0: the chunk is then whole rows of that
    length, each centralized on its own; with 0 the chunk is one plain range.
    """
    length = hi - lo
    if gc_row_length > 0 and gc_mode != GC_NONE:
        length = gc_row_length
    else:
        gc_mode = GC_NONE
    for start in range(lo, hi, length):
        stop = start + length
        d_shift = p.dtype.type(0.0)
        if gc_mode == GC_GRAD:
            d_shift = _decayed_grad_mean(p, g, p.dtype.type(c.wd), start, stop)
        # A one-entry row centralizes to exactly zero: keep p bit-identical rather than
        # taking the step and adding it back (which rounds).
        kept = p[start]
        total = step_rows(c, p, g, S, start, stop, d_shift)
        if gc_mode == GC_UPDATE:
            if length == 1:
                p[start] = kept
                continue
            # p -= lr * (u - mean(u)): the loop took p -= lr * u, give back lr * mean(u).
            back = p.dtype.type(c.lr) * p.dtype.type(total / length)
            row = p[start:stop]
            for i in range(row.shape[0]):
                row[i] += back


@njit(cache=True, error_model="numpy")
def step_serial(h, t, lr, c, p, g, S, chunks, gc_mode):
    """Step ``t`` over every chunk, on the calling thread.

    ``h`` and ``c`` are (1,) record arrays: the optimizer's hyperparameters and the scratch
    its coefficients of step ``t`` (0-based), with learning rate ``lr``, are written to. The
    coefficients are computed here, as the grid trainer computes them, so the two agree bit
    for bit (and a first step compiles one kernel, not two).
    """
    fill_coefficients_of(h[0], t, lr, c[0])
    for k in range(chunks.shape[0]):
        step_chunk(c[0], p, g, S, chunks[k, 0], chunks[k, 1], chunks[k, 2], gc_mode)


@njit(cache=True, parallel=True, error_model="numpy")
def step_parallel(h, t, lr, c, p, g, S, chunks, gc_mode):
    """``step_serial`` with the chunks spread over Numba's threads (chunks never overlap)."""
    fill_coefficients_of(h[0], t, lr, c[0])
    for k in prange(chunks.shape[0]):  # a record value cannot enter the parallel region: c can
        step_chunk(c[0], p, g, S, chunks[k, 0], chunks[k, 1], chunks[k, 2], gc_mode)


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
