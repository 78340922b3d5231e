"""Fused optimizer steps over flat arrays, gradient centralization (GC) folded in.

One pass reads p, g and the state and writes p and the state.

Inputs (validated by ``fastopt.optim``):

- ``p``, ``g``: flat parameter and gradient vectors of one layout, shape (N,).
- ``S``: the optimizer's state buffers, shape (k, N), one row per buffer, in the order the
  optimizer names them (see each ``_<kind>_*`` function).
- ``c``: this step's coefficients, shape (n_coef,), p's dtype; ``c[LR]`` is the step's learning
  rate (Adagrad: the decayed one), ``c[WD]`` the L2 weight decay added to the gradient.
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

import numpy as np
from numba import njit, prange

from fastopt._kernels import FASTMATH
from fastopt._kernels.rules import (
    adagrad_direction,
    adam_direction,
    decayed,
    ema,
    rmsprop_denominator,
    sgd_direction,
    sgd_momentum,
)

# Optimizer kinds.
SGD = 0
RMSPROP = 1
ADAM = 2
ADAGRAD = 3

# GC modes.
GC_NONE = 0
GC_GRAD = 1
GC_UPDATE = 2

# Coefficients shared by every kind; each kind's own follow from index 2.
LR = 0
WD = 1
SGD_MOMENTUM, SGD_ONE_MINUS_DAMPENING, SGD_NESTEROV, SGD_FIRST, SGD_HAS_MOMENTUM = 2, 3, 4, 5, 6
RMS_ALPHA, RMS_ONE_MINUS_ALPHA, RMS_EPS, RMS_MOMENTUM, RMS_CENTERED = 2, 3, 4, 5, 6
(
    ADAM_BETA1,
    ADAM_ONE_MINUS_BETA1,
    ADAM_BETA2,
    ADAM_ONE_MINUS_BETA2,
    ADAM_EPS,
    ADAM_STEP_SIZE,
    ADAM_BIAS_CORRECTION1,
    ADAM_SQRT_BIAS_CORRECTION2,
    ADAM_DECOUPLED_WD,
    ADAM_DECAY,
    ADAM_AMSGRAD,
) = range(2, 13)
ADAGRAD_EPS = 2
N_COEFFICIENTS = 13

# Hyperparameter vectors (float64), fixed per optimizer; ``fill_coefficients`` turns them and
# the step's learning rate into the coefficients above.
H_SGD_MOMENTUM, H_SGD_DAMPENING, H_SGD_NESTEROV, H_SGD_WD = 0, 1, 2, 3
H_RMS_ALPHA, H_RMS_EPS, H_RMS_WD, H_RMS_MOMENTUM, H_RMS_CENTERED = 0, 1, 2, 3, 4
H_ADAM_BETA1, H_ADAM_BETA2, H_ADAM_EPS, H_ADAM_WD, H_ADAM_AMSGRAD, H_ADAM_DECOUPLED = range(6)
H_ADAGRAD_LR_DECAY, H_ADAGRAD_WD, H_ADAGRAD_EPS = 0, 1, 2
N_HYPER = 6


# Each optimizer below has one inline ``_<kind>_rows`` loop and one inline ``_<kind>`` entry
# that slices a range and calls it; ``_step_chunk`` compiles them all into one function, so a
# row of a centralized tensor costs no call (per-row calls, with their array arguments and
# reference counts, cost +30-180% on 100-1000-entry rows). Options that decide whether a
# buffer is written (momentum, centered, amsgrad) are passed as literal True/False from
# separate call sites, so every loop is straight-line code that LLVM vectorizes; a runtime flag
# there (or a placeholder row aliasing another) keeps the loop scalar, about 4x slower.
#
# Every loop returns the sum of its step directions u (where the update is p -= lr*u): with
# gc="update" the driver then adds lr*mean(u) back to the row, which equals p -= lr*(u - mean)
# without a second pass over the state.


# --- SGD: S = [momentum_buffer] when momentum != 0 ----------------------------------------------
@njit(inline="always")
def _sgd_rows(p, g, buf, c, d_shift, has_momentum):
    lr, wd = c[LR], c[WD]
    momentum, omd = c[SGD_MOMENTUM], c[SGD_ONE_MINUS_DAMPENING]
    nesterov, first = c[SGD_NESTEROV] > 0, c[SGD_FIRST] > 0
    total = 0.0
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        if has_momentum:
            buf[i] = sgd_momentum(d, buf[i], momentum, omd, first)
            d = sgd_direction(d, buf[i], momentum, nesterov)
        p[i] -= lr * d
        total += d
    return total


@njit(inline="always")
def _sgd(p, g, S, c, lo, hi, d_shift):
    p, g = p[lo:hi], g[lo:hi]
    if c[SGD_HAS_MOMENTUM] > 0:
        return _sgd_rows(p, g, S[0][lo:hi], c, d_shift, True)
    return _sgd_rows(p, g, p, c, d_shift, False)


# --- RMSprop: S = [square_avg, momentum_buffer if momentum > 0, grad_avg if centered] --------
@njit(inline="always")
def _rmsprop_rows(p, g, square_avg, buf, grad_avg, c, d_shift, centered, has_momentum):
    lr, wd = c[LR], c[WD]
    alpha, oma, eps, momentum = c[RMS_ALPHA], c[RMS_ONE_MINUS_ALPHA], c[RMS_EPS], c[RMS_MOMENTUM]
    total = 0.0
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        sq = ema(square_avg[i], d * d, alpha, oma)
        square_avg[i] = sq
        ga = sq
        if centered:
            ga = ema(grad_avg[i], d, alpha, oma)
            grad_avg[i] = ga
        u = d / rmsprop_denominator(sq, ga, eps, centered)
        if has_momentum:
            u = momentum * buf[i] + u
            buf[i] = u
        p[i] -= lr * u
        total += u
    return total


@njit(inline="always")
def _rmsprop(p, g, S, c, lo, hi, d_shift):
    p, g = p[lo:hi], g[lo:hi]
    sq = S[0][lo:hi]
    if c[RMS_MOMENTUM] > 0:
        buf = S[1][lo:hi]
        if c[RMS_CENTERED] > 0:
            return _rmsprop_rows(p, g, sq, buf, S[2][lo:hi], c, d_shift, True, True)
        return _rmsprop_rows(p, g, sq, buf, sq, c, d_shift, False, True)
    if c[RMS_CENTERED] > 0:
        return _rmsprop_rows(p, g, sq, sq, S[1][lo:hi], c, d_shift, True, False)
    return _rmsprop_rows(p, g, sq, sq, sq, c, d_shift, False, False)


# --- Adam / AdamW: S = [exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad] -----------------------
@njit(inline="always")
def _adam_rows(p, g, exp_avg, exp_avg_sq, max_sq, c, d_shift, amsgrad):
    wd = c[WD]
    beta1, omb1 = c[ADAM_BETA1], c[ADAM_ONE_MINUS_BETA1]
    beta2, omb2 = c[ADAM_BETA2], c[ADAM_ONE_MINUS_BETA2]
    eps, sqrt_bc2 = c[ADAM_EPS], c[ADAM_SQRT_BIAS_CORRECTION2]
    step_size, decay = c[ADAM_STEP_SIZE], c[ADAM_DECAY]
    total_u = 0.0
    total_p = 0.0
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        m = ema(exp_avg[i], d, beta1, omb1)
        v = ema(exp_avg_sq[i], d * d, beta2, omb2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = np.maximum(max_sq[i], v)  # NaN-propagating, as torch.maximum
            max_sq[i] = v
        u = adam_direction(m, v, eps, sqrt_bc2)
        total_u += u
        total_p += p[i]
        p[i] = p[i] * decay - step_size * u
    # The step is lr * (u / bias_correction1 + decoupled_wd * p): its direction's sum.
    total = total_u / c[ADAM_BIAS_CORRECTION1]
    if c[ADAM_DECOUPLED_WD] != 0:
        total += c[ADAM_DECOUPLED_WD] * total_p
    return total


@njit(inline="always")
def _adam(p, g, S, c, lo, hi, d_shift):
    p, g = p[lo:hi], g[lo:hi]
    exp_avg, exp_avg_sq = S[0][lo:hi], S[1][lo:hi]
    if c[ADAM_AMSGRAD] > 0:
        return _adam_rows(p, g, exp_avg, exp_avg_sq, S[2][lo:hi], c, d_shift, True)
    return _adam_rows(p, g, exp_avg, exp_avg_sq, exp_avg_sq, c, d_shift, False)


# --- Adagrad: S = [sum] ---------------------------------------------------------------------
@njit(inline="always")
def _adagrad(p, g, S, c, lo, hi, d_shift):
    p, g, sums = p[lo:hi], g[lo:hi], S[0][lo:hi]
    clr, wd, eps = c[LR], c[WD], c[ADAGRAD_EPS]
    total = 0.0
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        s = sums[i] + d * d
        sums[i] = s
        u = adagrad_direction(d, s, eps)
        p[i] -= clr * u
        total += u
    return total


# --- coefficients of one step -----------------------------------------------------------
@njit(cache=True, error_model="numpy")
def fill_coefficients(kind, hyper, t, lr, c):
    """Write step ``t``'s kernel coefficients into ``c`` (its dtype), computed in float64.

    ``hyper`` (N_HYPER,) float64 holds the optimizer's hyperparameters (``H_*`` indices),
    ``t`` the 0-based step, ``lr`` the step's learning rate. Every driver (the flat step and
    the grid trainer) goes through here, so they agree bit for bit.
    """
    c[:] = 0
    c[LR] = lr
    if kind == SGD:
        momentum = hyper[H_SGD_MOMENTUM]
        c[WD] = hyper[H_SGD_WD]
        c[SGD_MOMENTUM] = momentum
        c[SGD_ONE_MINUS_DAMPENING] = 1.0 - hyper[H_SGD_DAMPENING]
        c[SGD_NESTEROV] = hyper[H_SGD_NESTEROV]
        c[SGD_FIRST] = 1.0 if t == 0 else 0.0
        c[SGD_HAS_MOMENTUM] = 1.0 if momentum != 0 else 0.0
    elif kind == RMSPROP:
        alpha = hyper[H_RMS_ALPHA]
        c[WD] = hyper[H_RMS_WD]
        c[RMS_ALPHA] = alpha
        c[RMS_ONE_MINUS_ALPHA] = 1.0 - alpha
        c[RMS_EPS] = hyper[H_RMS_EPS]
        c[RMS_MOMENTUM] = hyper[H_RMS_MOMENTUM]
        c[RMS_CENTERED] = hyper[H_RMS_CENTERED]
    elif kind == ADAM:
        beta1, beta2 = hyper[H_ADAM_BETA1], hyper[H_ADAM_BETA2]
        bias_correction1 = 1.0 - beta1 ** (t + 1)
        bias_correction2 = 1.0 - beta2 ** (t + 1)
        decoupled = hyper[H_ADAM_WD] if hyper[H_ADAM_DECOUPLED] > 0 else 0.0
        c[WD] = 0.0 if hyper[H_ADAM_DECOUPLED] > 0 else hyper[H_ADAM_WD]
        c[ADAM_BETA1] = beta1
        c[ADAM_ONE_MINUS_BETA1] = 1.0 - beta1
        c[ADAM_BETA2] = beta2
        c[ADAM_ONE_MINUS_BETA2] = 1.0 - beta2
        c[ADAM_EPS] = hyper[H_ADAM_EPS]
        c[ADAM_STEP_SIZE] = lr / bias_correction1
        c[ADAM_BIAS_CORRECTION1] = bias_correction1
        c[ADAM_SQRT_BIAS_CORRECTION2] = np.sqrt(bias_correction2)
        c[ADAM_DECOUPLED_WD] = decoupled
        c[ADAM_DECAY] = 1.0 - lr * decoupled
        c[ADAM_AMSGRAD] = hyper[H_ADAM_AMSGRAD]
    else:
        c[LR] = lr / (1.0 + t * hyper[H_ADAGRAD_LR_DECAY])
        c[WD] = hyper[H_ADAGRAD_WD]
        c[ADAGRAD_EPS] = hyper[H_ADAGRAD_EPS]


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
def _step_chunk(kind, p, g, S, c, lo, hi, gc_row_length, gc_mode):
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
            d_shift = _decayed_grad_mean(p, g, c[WD], start, stop)
        # A one-entry row centralizes to exactly zero: keep p bit-identical rather than
        # taking the step and adding it back (which rounds).
        kept = p[start]
        if kind == SGD:
            total = _sgd(p, g, S, c, start, stop, d_shift)
        elif kind == RMSPROP:
            total = _rmsprop(p, g, S, c, start, stop, d_shift)
        elif kind == ADAM:
            total = _adam(p, g, S, c, start, stop, d_shift)
        else:
            total = _adagrad(p, g, S, c, start, stop, d_shift)
        if gc_mode == GC_UPDATE:
            if length == 1:
                p[start] = kept
                continue
            # p -= lr * (u - mean(u)): the loop took p -= lr * u, give back lr * mean(u).
            back = c[LR] * p.dtype.type(total / length)
            row = p[start:stop]
            for i in range(row.shape[0]):
                row[i] += back


@njit(cache=True, error_model="numpy")
def step_serial(kind, p, g, S, c, chunks, gc_mode):
    """One optimizer step over every chunk, on the calling thread."""
    for k in range(chunks.shape[0]):
        _step_chunk(kind, p, g, S, c, chunks[k, 0], chunks[k, 1], chunks[k, 2], gc_mode)


@njit(cache=True, parallel=True, error_model="numpy")
def step_parallel(kind, p, g, S, c, chunks, gc_mode):
    """One optimizer step, chunks spread over Numba's threads (chunks never overlap)."""
    for k in prange(chunks.shape[0]):
        _step_chunk(kind, p, g, S, c, chunks[k, 0], chunks[k, 1], chunks[k, 2], gc_mode)


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
