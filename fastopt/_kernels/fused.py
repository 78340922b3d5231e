"""Fused optimizer steps over flat arrays, gradient centralization (GC) folded in.

One pass reads p, g and the state and writes p and the state.

Inputs (validated by ``fastopt.optim``):

- ``p``, ``g``: flat parameter and gradient vectors of one layout, shape (N,).
- ``S``: the optimizer's state buffers, shape (k, N), one row per buffer, in the order the
  optimizer names them (see each ``_<kind>_*`` function).
- ``c``: this step's coefficients, shape (n_coef,), p's dtype; ``c[LR]`` is the step's learning
  rate (Adagrad: the decayed one), ``c[WD]`` the L2 weight decay added to the gradient.
- ``chunks``: int64 array of shape (n_chunks, 3), rows ``(start, stop, is_gc_row)`` that tile
  ``[0, N)``. With GC each row of a centralized tensor is one chunk, so its mean is taken while
  the row is in cache; other ranges are cut into blocks for the threads.

GC modes per chunk: ``GC_GRAD`` subtracts the row mean of ``g + wd*p`` before the moments;
``GC_UPDATE`` takes two passes over the row: update the state and sum the step directions,
then apply the directions minus their mean (recomputed from the new state, so nothing is
allocated). Row sums are accumulated in float64.

Loops run over views starting at index 0: with ``range(lo, hi)`` Numba cannot rule out
negative indices, keeps its wrap-around selects, and LLVM then does not vectorize. Likewise
``error_model="numpy"``: division by zero gives inf/NaN (as NumPy) instead of a Python
exception, and the loops carry no zero-divisor branch.
"""

import numpy as np
from numba import njit, prange

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

# Only contraction (FMA) and reassociation (vectorized row sums); never nnan/ninf, because
# divergence is detected through NaN and inf.
FASTMATH = {"contract", "reassoc"}


# --- SGD: S = [momentum_buffer] when momentum != 0 ----------------------------------------------
@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _sgd_plain(p, g, S, c, lo, hi, d_shift):
    p, g, n = p[lo:hi], g[lo:hi], hi - lo
    lr, wd = c[LR], c[WD]
    momentum, omd = c[SGD_MOMENTUM], c[SGD_ONE_MINUS_DAMPENING]
    nesterov, first = c[SGD_NESTEROV] > 0, c[SGD_FIRST] > 0
    if c[SGD_HAS_MOMENTUM] > 0:
        buf = S[0][lo:hi]
        for i in range(n):
            d = decayed(g[i], p[i], wd) - d_shift
            b = sgd_momentum(d, buf[i], momentum, omd, first)
            buf[i] = b
            p[i] -= lr * sgd_direction(d, b, momentum, nesterov)
    else:
        for i in range(n):
            p[i] -= lr * (decayed(g[i], p[i], wd) - d_shift)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _sgd_centralized_update(p, g, S, c, lo, hi):
    p, g, n = p[lo:hi], g[lo:hi], hi - lo
    lr, wd = c[LR], c[WD]
    momentum, omd = c[SGD_MOMENTUM], c[SGD_ONE_MINUS_DAMPENING]
    nesterov, first = c[SGD_NESTEROV] > 0, c[SGD_FIRST] > 0
    has_momentum = c[SGD_HAS_MOMENTUM] > 0
    buf = S[0][lo:hi] if has_momentum else p
    total = 0.0
    for i in range(n):
        d = decayed(g[i], p[i], wd)
        if has_momentum:
            buf[i] = sgd_momentum(d, buf[i], momentum, omd, first)
            d = sgd_direction(d, buf[i], momentum, nesterov)
        total += d
    mean = p.dtype.type(total / n)
    for i in range(n):
        d = decayed(g[i], p[i], wd)
        if has_momentum:
            d = sgd_direction(d, buf[i], momentum, nesterov)
        p[i] -= lr * (d - mean)


# --- RMSprop: S = [square_avg, momentum_buffer if momentum > 0, grad_avg if centered] --------
@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _rmsprop_rows(S, c, lo, hi):
    has_momentum = c[RMS_MOMENTUM] > 0
    centered = c[RMS_CENTERED] > 0
    square_avg = S[0][lo:hi]
    buf = S[1][lo:hi] if has_momentum else square_avg
    grad_avg = S[1 + has_momentum][lo:hi] if centered else square_avg
    return square_avg, buf, grad_avg, has_momentum, centered


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _rmsprop_plain(p, g, S, c, lo, hi, d_shift):
    p, g, n = p[lo:hi], g[lo:hi], hi - lo
    lr, wd = c[LR], c[WD]
    alpha, oma, eps, momentum = c[RMS_ALPHA], c[RMS_ONE_MINUS_ALPHA], c[RMS_EPS], c[RMS_MOMENTUM]
    square_avg, buf, grad_avg, has_momentum, centered = _rmsprop_rows(S, c, lo, hi)
    for i in range(n):
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


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _rmsprop_centralized_update(p, g, S, c, lo, hi):
    p, g, n = p[lo:hi], g[lo:hi], hi - lo
    lr, wd = c[LR], c[WD]
    alpha, oma, eps, momentum = c[RMS_ALPHA], c[RMS_ONE_MINUS_ALPHA], c[RMS_EPS], c[RMS_MOMENTUM]
    square_avg, buf, grad_avg, has_momentum, centered = _rmsprop_rows(S, c, lo, hi)
    total = 0.0
    for i in range(n):
        d = decayed(g[i], p[i], wd)
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
        total += u
    mean = p.dtype.type(total / n)
    for i in range(n):
        if has_momentum:
            u = buf[i]
        else:
            d = decayed(g[i], p[i], wd)
            u = d / rmsprop_denominator(square_avg[i], grad_avg[i], eps, centered)
        p[i] -= lr * (u - mean)


# --- Adam / AdamW: S = [exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad] -----------------------
@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _adam_plain(p, g, S, c, lo, hi, d_shift):
    p, g, n = p[lo:hi], g[lo:hi], hi - lo
    wd = c[WD]
    beta1, omb1 = c[ADAM_BETA1], c[ADAM_ONE_MINUS_BETA1]
    beta2, omb2 = c[ADAM_BETA2], c[ADAM_ONE_MINUS_BETA2]
    eps, step_size = c[ADAM_EPS], c[ADAM_STEP_SIZE]
    sqrt_bc2, decay = c[ADAM_SQRT_BIAS_CORRECTION2], c[ADAM_DECAY]
    amsgrad = c[ADAM_AMSGRAD] > 0
    exp_avg, exp_avg_sq = S[0][lo:hi], S[1][lo:hi]
    max_sq = S[2][lo:hi] if amsgrad else exp_avg_sq
    for i in range(n):
        d = decayed(g[i], p[i], wd) - d_shift
        m = ema(exp_avg[i], d, beta1, omb1)
        v = ema(exp_avg_sq[i], d * d, beta2, omb2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = np.maximum(max_sq[i], v)
            max_sq[i] = v
        p[i] = p[i] * decay - step_size * adam_direction(m, v, eps, sqrt_bc2)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _adam_centralized_update(p, g, S, c, lo, hi):
    p, g, n = p[lo:hi], g[lo:hi], hi - lo
    lr, wd = c[LR], c[WD]
    beta1, omb1 = c[ADAM_BETA1], c[ADAM_ONE_MINUS_BETA1]
    beta2, omb2 = c[ADAM_BETA2], c[ADAM_ONE_MINUS_BETA2]
    eps, bc1 = c[ADAM_EPS], c[ADAM_BIAS_CORRECTION1]
    sqrt_bc2, decoupled_wd = c[ADAM_SQRT_BIAS_CORRECTION2], c[ADAM_DECOUPLED_WD]
    amsgrad = c[ADAM_AMSGRAD] > 0
    exp_avg, exp_avg_sq = S[0][lo:hi], S[1][lo:hi]
    max_sq = S[2][lo:hi] if amsgrad else exp_avg_sq
    total = 0.0
    for i in range(n):
        d = decayed(g[i], p[i], wd)
        m = ema(exp_avg[i], d, beta1, omb1)
        v = ema(exp_avg_sq[i], d * d, beta2, omb2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = np.maximum(max_sq[i], v)
            max_sq[i] = v
        # AdamW's decoupled decay joins the direction that is centralized.
        total += decayed(adam_direction(m, v, eps, sqrt_bc2) / bc1, p[i], decoupled_wd)
    mean = p.dtype.type(total / n)
    for i in range(n):
        u = adam_direction(exp_avg[i], max_sq[i], eps, sqrt_bc2) / bc1
        u = decayed(u, p[i], decoupled_wd)
        p[i] -= lr * (u - mean)


# --- Adagrad: S = [sum] ---------------------------------------------------------------------
@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _adagrad_plain(p, g, S, c, lo, hi, d_shift):
    p, g, n = p[lo:hi], g[lo:hi], hi - lo
    clr, wd, eps = c[LR], c[WD], c[ADAGRAD_EPS]
    total = S[0][lo:hi]
    for i in range(n):
        d = decayed(g[i], p[i], wd) - d_shift
        s = total[i] + d * d
        total[i] = s
        p[i] -= clr * adagrad_direction(d, s, eps)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _adagrad_centralized_update(p, g, S, c, lo, hi):
    p, g, n = p[lo:hi], g[lo:hi], hi - lo
    clr, wd, eps = c[LR], c[WD], c[ADAGRAD_EPS]
    sums = S[0][lo:hi]
    total = 0.0
    for i in range(n):
        d = decayed(g[i], p[i], wd)
        s = sums[i] + d * d
        sums[i] = s
        total += adagrad_direction(d, s, eps)
    mean = p.dtype.type(total / n)
    for i in range(n):
        p[i] -= clr * (adagrad_direction(decayed(g[i], p[i], wd), sums[i], eps) - mean)


# --- drivers --------------------------------------------------------------------------------
@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _decayed_grad_mean(p, g, wd, lo, hi):
    """Mean of ``g + wd*p`` over ``[lo, hi)``, summed in float64, in p's dtype."""
    p, g, n = p[lo:hi], g[lo:hi], hi - lo
    total = 0.0
    for i in range(n):
        total += decayed(g[i], p[i], wd)
    return p.dtype.type(total / n)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _step_chunk(kind, p, g, S, c, lo, hi, gc_mode):
    """Update ``p[lo:hi]`` and its state; ``gc_mode`` applies to this chunk (a GC row or not)."""
    if gc_mode == GC_UPDATE:
        if kind == SGD:
            _sgd_centralized_update(p, g, S, c, lo, hi)
        elif kind == RMSPROP:
            _rmsprop_centralized_update(p, g, S, c, lo, hi)
        elif kind == ADAM:
            _adam_centralized_update(p, g, S, c, lo, hi)
        else:
            _adagrad_centralized_update(p, g, S, c, lo, hi)
        return
    d_shift = p.dtype.type(0.0)
    if gc_mode == GC_GRAD:
        d_shift = _decayed_grad_mean(p, g, c[WD], lo, hi)
    if kind == SGD:
        _sgd_plain(p, g, S, c, lo, hi, d_shift)
    elif kind == RMSPROP:
        _rmsprop_plain(p, g, S, c, lo, hi, d_shift)
    elif kind == ADAM:
        _adam_plain(p, g, S, c, lo, hi, d_shift)
    else:
        _adagrad_plain(p, g, S, c, lo, hi, d_shift)


@njit(cache=True, error_model="numpy")
def step_serial(kind, p, g, S, c, chunks, gc_mode):
    """One optimizer step over every chunk, on the calling thread."""
    for k in range(chunks.shape[0]):
        mode = gc_mode if chunks[k, 2] else GC_NONE
        _step_chunk(kind, p, g, S, c, chunks[k, 0], chunks[k, 1], mode)


@njit(cache=True, parallel=True, error_model="numpy")
def step_parallel(kind, p, g, S, c, chunks, gc_mode):
    """One optimizer step, chunks spread over Numba's threads (chunks never overlap)."""
    for k in prange(chunks.shape[0]):
        mode = gc_mode if chunks[k, 2] else GC_NONE
        _step_chunk(kind, p, g, S, c, chunks[k, 0], chunks[k, 1], mode)


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
