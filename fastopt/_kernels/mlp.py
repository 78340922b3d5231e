"""MLP forward and backward passes over a flat parameter vector.

Pure kernels: no validation, the wrappers in ``fastopt.mlp`` guarantee shapes and dtypes.

Storage conventions
-------------------
- ``params`` and ``grad`` are flat vectors laid out ``W1, b1, W2, b2, ...`` with ``W{l}`` of
  shape ``(sizes[l], sizes[l-1])`` (PyTorch's ``(out, in)``) in C order.
- Activations are kept *feature-major*, ``(width, n)``, so that every inner loop runs over the
  batch: contiguous, independent of the layer widths, and vectorized by LLVM.
- Layer products go to BLAS (``np.dot`` with an output argument) unless they are tiny:
  below about ``BLAS_MIN_WORK`` multiply-adds the call costs more than plain loops. What
  surrounds them is fused to save sweeps over (width, n) arrays: bias + activation in one pass
  after the forward product, the activation's derivative + the bias gradient in one pass after
  the backward one, and a one-output layer's whole backward in one loop.
- ``fastmath`` allows reassociation only (so reductions vectorize; see ``FASTMATH``); never
  ``nnan``/``ninf``, because callers detect divergence through NaN and inf. With
  ``error_model="numpy"`` a division by zero gives inf/NaN instead of raising, and loops
  carry no zero-divisor branch that would stop vectorization.
- Constants are cast to the arrays' dtype (``A.dtype.type(1.0)``) so float32 stays float32.
- NaN propagates as in PyTorch: ``relu(nan) = nan`` and its gradient passes NaN through.
"""

import numpy as np
from numba import njit
from numba.extending import overload

from fastopt._kernels import FASTMATH
from fastopt._kernels.elementary import exp_nonpositive

# Activation codes, shared with fastopt.mlp.
IDENTITY = 0
RELU = 1
LEAKY_RELU = 2
TANH = 3
SIGMOID = 4

# Multiply-adds in one layer product from which BLAS beats the loops. Measured on the 2-core
# EPYC: OpenBLAS sgemm is ~2x faster than the loops already at 32x8x128 and breaks even near
# 8x8x16; below that the call costs more than the product.
BLAS_MIN_WORK = 1 << 10

# Input entries (batch x features) from which the first layer reads X.T in place.
TRANSPOSE_MIN = 1 << 14

# Batches up to this size take a layer's weight gradient ``dZ @ A.T`` as ``dZ @ At`` with
# ``At`` a batch-major copy of A. OpenBLAS's small-matrix sgemm is 2-3x slower when both
# operands are contiguous along the batch (the dot-product form ``dZ @ A.T``): measured on
# the 2-core Xeon (AVX-512), 32 x 32 x 32: 1.16 us against 0.17 us to transpose A plus
# 0.44 us; 64 x 64 x 32: 2.35 against 1.65 us. At 128 samples the direct form wins
# (32 x 8 x 128: 0.57 against 0.69 + 0.1 us); at 64 x 128 x 128 they are even.
BATCH_MAJOR_MAX = 64
# ... and for layers of at least this many outputs: the copy is paid per input entry, the
# gain per product (4 x 32 x 32: 0.19 us direct, 0.17 + 0.12 us through the copy).
BATCH_MAJOR_MIN_OUT = 8


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _bias_activate(Z, b, act, slope):
    """``Z = act(Z + b[:, None])`` in place, one pass; Z (width, n), b (width,).

    Fused: a separate bias pass and activation pass cost ~0.1 us more per 32 x 128 layer.
    """
    zero = Z.dtype.type(0.0)
    one = Z.dtype.type(1.0)
    width, n = Z.shape
    # Names differ per branch (s_r, v_r, ...): see _derivative_row.
    for j in range(width):
        z = Z[j]
        bj = b[j]
        if act == IDENTITY:
            for s_i in range(n):
                z[s_i] += bj
        elif act == RELU:
            for s_r in range(n):
                v_r = z[s_r] + bj
                z[s_r] = zero if v_r <= zero else v_r
        elif act == LEAKY_RELU:
            for s_l in range(n):
                v_l = z[s_l] + bj
                z[s_l] = v_l * slope if v_l <= zero else v_l
        elif act == TANH:
            for s_t in range(n):
                z[s_t] = np.tanh(z[s_t] + bj)
        else:
            for s_s in range(n):
                z[s_s] = one / (one + np.exp(-(z[s_s] + bj)))


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _activation_backward(A, dA, act, slope, db):
    """Turn ``dA`` (gradient w.r.t. activations ``A``) into the gradient w.r.t. ``Z``, in place.

    Its row sums (the layer's bias gradient) go to ``db`` in the same pass. The derivative is
    computed from the activation's output ``A`` (both of shape (width, n)), which is all the
    forward pass keeps.
    """
    zero = A.dtype.type(0.0)
    one = A.dtype.type(1.0)
    for j in range(A.shape[0]):
        a = A[j]
        d = dA[j]
        acc = zero
        for s in range(a.shape[0]):
            v = _activation_derivative(a[s], d[s], act, slope, zero, one)
            d[s] = v
            acc += v
        db[j] = acc


@njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def _activation_derivative(a, g, act, slope, zero, one):
    """The gradient ``g`` w.r.t. an activation's output ``a`` taken back through it.

    ``zero`` and ``one`` in the arrays' dtype. The branch is loop-invariant: in
    ``_activation_backward``'s in-place loop LLVM hoists it and vectorizes (0.19 us on 32 x
    32); see ``_derivative_row`` for a loop where it did not.
    """
    if act == RELU:
        return zero if a <= zero else g
    if act == LEAKY_RELU:
        return g * slope if a <= zero else g
    if act == TANH:
        return g * (one - a * a)
    if act == SIGMOID:
        return g * (a * (one - a))
    return g


@njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def _derivative_row(a, g, scale, out, act, slope):
    """A one-output layer's backward over one input row (n,): ``(sum(out), sum(g * a))``.

    ``out = act'(a) * (scale * g)``, the gradient taken back through the activation whose
    outputs are ``a`` (``scale`` the row's weight), its sum (a bias gradient) and the dot
    product of ``g`` and ``a`` (the row's weight gradient), in one pass. ``out`` must not
    overlap ``g`` or ``a``: LLVM's run-time overlap check would then pick its scalar loop.

    A loop per activation: with ``_activation_derivative``'s branch inside this loop LLVM
    kept it scalar (1 x 32 x 128 with a run-time activation: 1.5 us against 0.5 us).
    """
    zero = a.dtype.type(0.0)
    one = a.dtype.type(1.0)
    # Every name differs per branch (total_r, s_r, v_r, ...): with the same names in several
    # loops, Numba's variables merged across them and none vectorized (a 1 x 32 x 128 layer's
    # backward with a run-time activation: 1.6 us against 0.5 us).
    if act == RELU:
        total_r = dot_r = zero
        for s_r in range(a.shape[0]):
            dot_r += g[s_r] * a[s_r]
            v_r = scale * g[s_r]
            v_r = zero if a[s_r] <= zero else v_r
            out[s_r] = v_r
            total_r += v_r
        return total_r, dot_r
    if act == LEAKY_RELU:
        total_l = dot_l = zero
        for s_l in range(a.shape[0]):
            dot_l += g[s_l] * a[s_l]
            v_l = scale * g[s_l]
            v_l = v_l * slope if a[s_l] <= zero else v_l
            out[s_l] = v_l
            total_l += v_l
        return total_l, dot_l
    if act == TANH:
        total_t = dot_t = zero
        for s_t in range(a.shape[0]):
            dot_t += g[s_t] * a[s_t]
            v_t = scale * g[s_t] * (one - a[s_t] * a[s_t])
            out[s_t] = v_t
            total_t += v_t
        return total_t, dot_t
    if act == SIGMOID:
        total_s = dot_s = zero
        for s_s in range(a.shape[0]):
            dot_s += g[s_s] * a[s_s]
            v_s = scale * g[s_s] * (a[s_s] * (one - a[s_s]))
            out[s_s] = v_s
            total_s += v_s
        return total_s, dot_s
    total_i = dot_i = zero
    for s_i in range(a.shape[0]):
        dot_i += g[s_i] * a[s_i]
        v_i = scale * g[s_i]
        out[s_i] = v_i
        total_i += v_i
    return total_i, dot_i


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _row_sums(dZ, db):
    """``db = dZ.sum(1)``: the output layer's bias gradient."""
    zero = dZ.dtype.type(0.0)
    for j in range(dZ.shape[0]):
        acc = zero
        d = dZ[j]
        for s in range(dZ.shape[1]):
            acc += d[s]
        db[j] = acc


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _dense_forward(W, b, A, Z, act, slope):
    """``Z = act(W @ A + b[:, None])`` with W (out, in), b (out,), A (in, n), Z (out, n)."""
    fan_out, fan_in = W.shape
    n = A.shape[1]
    if _uses_blas(fan_out, fan_in, n):
        np.dot(W, A, Z)
        _bias_activate(Z, b, act, slope)
        return
    zero = W.dtype.type(0.0)
    # Four inputs per sweep over the batch: each z[s] is loaded and stored a quarter as often.
    for j in range(fan_out):
        z = Z[j]
        for s in range(n):
            z[s] = zero
        i = 0
        while i + 4 <= fan_in:
            w0, w1, w2, w3 = W[j, i], W[j, i + 1], W[j, i + 2], W[j, i + 3]
            a0, a1, a2, a3 = A[i], A[i + 1], A[i + 2], A[i + 3]
            for s in range(n):
                z[s] += w0 * a0[s] + w1 * a1[s] + w2 * a2[s] + w3 * a3[s]
            i += 4
        while i < fan_in:
            w = W[j, i]
            a = A[i]
            for s in range(n):
                z[s] += w * a[s]
            i += 1
    _bias_activate(Z, b, act, slope)


@njit(cache=True, error_model="numpy")
def _transpose(A, At):
    """``At = A.T``: A (m, n), At (n, m), in blocks of 8 x 8 (half the time of a plain loop)."""
    m, n = A.shape
    i0 = 0
    while i0 + 8 <= m:
        s0 = 0
        while s0 + 8 <= n:
            for s in range(s0, s0 + 8):
                for i in range(8):
                    At[s, i0 + i] = A[i0 + i, s]
            s0 += 8
        for s in range(s0, n):
            for i in range(i0, i0 + 8):
                At[s, i] = A[i, s]
        i0 += 8
    for i in range(i0, m):
        for s in range(n):
            At[s, i] = A[i, s]


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _dense_backward(W, A, dZ, dW, dA, act, slope, db_below, scratch):
    """Gradients of one dense layer, the activation below folded into ``dA``.

    ``dW = dZ @ A.T`` and, when ``dA`` is not empty, ``dA = act'(A) * (W.T @ dZ)`` (the
    gradient w.r.t. the layer below's pre-activations) with its row sums in ``db_below`` (that
    layer's bias gradient); W, dW (out, in); A, dA (in, n); dZ (out, n); db_below (in,);
    scratch at least (in * n,), for A batch-major (see ``BATCH_MAJOR_MAX``).
    """
    fan_out, fan_in = W.shape
    n = A.shape[1]
    want_dA = dA.shape[1] > 0
    zero = W.dtype.type(0.0)
    if fan_out == 1:
        # A one-output layer (a regression head): dW, dA and the activation's derivative in
        # one pass over each input row. Two 1-row sgemm calls and a masking pass took 0.8 us
        # on 32 x 128 activations; this, 0.35 us.
        d = dZ[0]
        for i in range(fan_in):
            if want_dA:
                db_below[i], dW[0, i] = _derivative_row(A[i], d, W[0, i], dA[i], act, slope)
            else:
                a = A[i]
                acc = zero
                for s in range(n):
                    acc += d[s] * a[s]
                dW[0, i] = acc
        return
    if _uses_blas(fan_out, fan_in, n):
        if n <= BATCH_MAJOR_MAX and fan_out >= BATCH_MAJOR_MIN_OUT:
            At = scratch[: n * fan_in].reshape((n, fan_in))
            _transpose(A, At)
            np.dot(dZ, At, dW)
        else:
            np.dot(dZ, A.T, dW)
        if want_dA:
            np.dot(W.T, dZ, dA)
            _activation_backward(A, dA, act, slope, db_below)
        return
    # dW: four dot products per sweep over the batch share the loads of dZ[j].
    for j in range(fan_out):
        d = dZ[j]
        i = 0
        while i + 4 <= fan_in:
            a0, a1, a2, a3 = A[i], A[i + 1], A[i + 2], A[i + 3]
            acc0 = acc1 = acc2 = acc3 = zero
            for s in range(n):
                acc0 += d[s] * a0[s]
                acc1 += d[s] * a1[s]
                acc2 += d[s] * a2[s]
                acc3 += d[s] * a3[s]
            dW[j, i], dW[j, i + 1], dW[j, i + 2], dW[j, i + 3] = acc0, acc1, acc2, acc3
            i += 4
        while i < fan_in:
            a = A[i]
            acc = zero
            for s in range(n):
                acc += d[s] * a[s]
            dW[j, i] = acc
            i += 1
    if not want_dA:
        return
    # dA: four output rows per sweep over the batch.
    for i in range(fan_in):
        da = dA[i]
        for s in range(n):
            da[s] = zero
        j = 0
        while j + 4 <= fan_out:
            w0, w1, w2, w3 = W[j, i], W[j + 1, i], W[j + 2, i], W[j + 3, i]
            d0, d1, d2, d3 = dZ[j], dZ[j + 1], dZ[j + 2], dZ[j + 3]
            for s in range(n):
                da[s] += w0 * d0[s] + w1 * d1[s] + w2 * d2[s] + w3 * d3[s]
            j += 4
        while j < fan_out:
            w = W[j, i]
            d = dZ[j]
            for s in range(n):
                da[s] += w * d[s]
            j += 1
    _activation_backward(A, dA, act, slope, db_below)


@njit(cache=True, error_model="numpy")
def _uses_blas(fan_out, fan_in, n):
    return fan_out * fan_in * n >= BLAS_MIN_WORK


@njit(cache=True, error_model="numpy")
def reads_X_in_place(fan_out, fan_in, n):
    """Whether the first layer uses ``X.T`` (an F-ordered view) instead of a transposed copy.

    Measured: for 8 x 128 inputs sgemm on the view takes 1.4 us against 0.3 us copy + 0.7 us;
    for 784 x 256 the copy costs more than the view saves. Never for one sample or one
    feature: NumPy flags such an ``X.T`` C-contiguous too, Numba would type the grid's view
    as C-ordered, and BLAS might then round differently from the single-run API's view.
    """
    return _uses_blas(fan_out, fan_in, n) and fan_in * n >= TRANSPOSE_MIN and min(fan_in, n) > 1


@njit(cache=True, error_model="numpy")
def _work_layout(sizes, n):
    """``(acts_size, widest)`` of a work buffer for batches of ``n``.

    ``acts_size``: entries of every layer's outputs, which come first in ``work``; ``widest``:
    the widest layer's width (a delta buffer holds ``widest * n``).
    """
    acts_size = 0
    widest = 0
    for width in sizes[1:]:
        acts_size += width * n
        widest = max(widest, width)
    return acts_size, widest


@njit(cache=True, error_model="numpy")
def _workspace_size(sizes, n):
    """Entries of the work buffer.

    Every layer's outputs, two deltas, X transposed, and a scratch (``_backward_scratch``)
    with room for the widest layer input batch-major (``_dense_backward``) and two rows of
    the batch (the softmax head).
    """
    total, widest = _work_layout(sizes, n)
    widest_input = 2  # the softmax head's two rows
    for width in sizes[:-1]:
        widest_input = max(widest_input, width)
    return total + 2 * widest * n + sizes[0] * n + widest_input * n


@njit(cache=True, error_model="numpy")
def _layer_offset(sizes, layer):
    """Offset of ``W{layer + 1}`` in the flat parameter vector (its bias follows it)."""
    offset = 0
    for l_ in range(layer):
        offset += sizes[l_ + 1] * (sizes[l_] + 1)
    return offset


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _forward(params, XT, sizes, act, slope, work):
    """Run the forward pass, leaving every layer's output in ``work``; return the last (m, n).

    ``XT`` is the input feature-major, (sizes[0], n): ``X.T`` itself or a transposed copy, as
    ``reads_X_in_place`` decides (the single-run entries copy X into the end of ``work``
    each call, the grid once per sweep for a full batch). Hidden layers hold activations; the
    last holds raw outputs (pre-softmax logits).
    """
    n = XT.shape[1]
    n_layers = sizes.shape[0] - 1
    w_off = 0
    A = work[:0].reshape((0, n))  # replaced by each layer's output
    for layer in range(n_layers):
        fan_in = sizes[layer]
        fan_out = sizes[layer + 1]
        p_off = _layer_offset(sizes, layer)
        W = params[p_off : p_off + fan_out * fan_in].reshape((fan_out, fan_in))
        b = params[p_off + fan_out * fan_in : p_off + fan_out * fan_in + fan_out]
        Z = work[w_off : w_off + fan_out * n].reshape((fan_out, n))
        w_off += fan_out * n
        layer_act = act if layer < n_layers - 1 else IDENTITY
        if layer > 0:
            _dense_forward(W, b, A, Z, layer_act, slope)
        else:
            _dense_forward(W, b, XT, Z, layer_act, slope)
        A = Z
    return A


@njit(cache=True, error_model="numpy")
def _transposed_input(X, work):
    """Copy X (n, d) into the end of ``work`` as (d, n), C-ordered."""
    n, d = X.shape
    XT = work[work.shape[0] - d * n :].reshape((d, n))  # the end: see _backward's scratch
    for s in range(n):
        for i in range(d):
            XT[i, s] = X[s, i]
    return XT


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _backward(params, XT, sizes, act, slope, work, grad):
    """Backpropagate the output gradient found in the first delta buffer of ``work``.

    ``XT`` is the input the forward pass read, (sizes[0], n).
    """
    n = XT.shape[1]
    n_layers = sizes.shape[0] - 1
    acts_size, widest = _work_layout(sizes, n)
    delta_a = work[acts_size : acts_size + widest * n]
    delta_b = work[acts_size + widest * n : acts_size + 2 * widest * n]
    scratch = _backward_scratch(work, sizes, n)
    w_end = acts_size
    for layer in range(n_layers - 1, -1, -1):
        fan_in = sizes[layer]
        fan_out = sizes[layer + 1]
        p_off = _layer_offset(sizes, layer)
        W = params[p_off : p_off + fan_out * fan_in].reshape((fan_out, fan_in))
        dW = grad[p_off : p_off + fan_out * fan_in].reshape((fan_out, fan_in))
        w_end -= fan_out * n
        dZ = delta_a[: fan_out * n].reshape((fan_out, n))
        if layer == n_layers - 1:  # lower layers' bias gradients come with their dZ
            _row_sums(dZ, grad[p_off + fan_out * fan_in : p_off + fan_out * fan_in + fan_out])
        if layer > 0:
            A = work[w_end - fan_in * n : w_end].reshape((fan_in, n))
            dA = delta_b[: fan_in * n].reshape((fan_in, n))
            b_off = _layer_offset(sizes, layer - 1) + fan_in * sizes[layer - 1]
            _dense_backward(W, A, dZ, dW, dA, act, slope, grad[b_off : b_off + fan_in], scratch)
        else:
            _dense_backward(W, XT, dZ, dW, delta_b[:0].reshape((0, 0)), act, slope, grad[:0],
                            scratch)  # fmt: skip
        delta_a, delta_b = delta_b, delta_a


@njit(cache=True, error_model="numpy")
def _backward_scratch(work, sizes, n):
    """The part of ``work`` between the deltas and the transposed input at its end."""
    acts_size, widest = _work_layout(sizes, n)
    return work[acts_size + 2 * widest * n : work.shape[0] - sizes[0] * n]


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _output_delta(work, sizes, n):
    """The first delta buffer, shaped (m, n) for the output layer's gradient."""
    acts_size, _ = _work_layout(sizes, n)
    m = sizes[sizes.shape[0] - 1]
    return work[acts_size : acts_size + m * n].reshape((m, n))


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _mse_head(out, Y, d_out):
    """Mean squared error over samples and outputs; ``d_out`` gets its gradient w.r.t. ``out``.

    out, d_out (m, n) feature-major; Y (n, m) batch-major. Returns the loss as float64.
    """
    m, n = out.shape
    scale = out.dtype.type(2.0 / (n * m))
    loss = 0.0
    for j in range(m):
        for s in range(n):
            diff = out[j, s] - Y[s, j]
            loss += diff * diff
            d_out[j, s] = scale * diff
    return loss / (n * m)


@njit(cache=True, error_model="numpy")
def _softmax_cross_entropy_head(out, y, d_out, scratch):
    """Mean over samples of ``-log softmax(out)[y]``; ``d_out`` gets its gradient w.r.t. ``out``.

    out, d_out (m, n) feature-major logits; y (n,) int64 labels; scratch at least (2 n,).
    Returns the loss as float64. Every loop but the logarithms' runs along the batch, so
    that it vectorizes; exp is ``exp_nonpositive`` (a libm call per entry made this head
    0.78 us of a 7 us run-step on 4 x 32 logits). No fastmath: its range reduction must be
    computed as written.
    """
    m, n = out.shape
    inv_n = out.dtype.type(1.0 / n)
    top, total = scratch[:n], scratch[n : 2 * n]
    first = out[0]
    for s in range(n):
        top[s] = first[s]
        total[s] = 0.0
    for j in range(1, m):
        o = out[j]
        for s in range(n):
            top[s] = max(top[s], o[s])
    for j in range(m):
        o, d = out[j], d_out[j]
        for s in range(n):
            e = exp_nonpositive(o[s] - top[s])
            d[s] = e
            total[s] += e
    loss = 0.0
    for s in range(n):
        loss += top[s] + np.log(total[s]) - out[y[s], s]
        total[s] = inv_n / total[s]  # now each sample's scale
    for j in range(m):
        d = d_out[j]
        for s in range(n):
            d[s] *= total[s]
    for s in range(n):
        d_out[y[s], s] -= inv_n
    return loss / n


# Loss kinds, shared with the grid trainer and fastopt.sweep.
LOSS_MSE = 0
LOSS_CROSS_ENTROPY = 1


@njit(cache=True, error_model="numpy")
def _loss(params, XT, Y, y, sizes, act, slope, loss_kind, work):
    """Loss of one network on (XT, Y or y), leaving the output gradient in ``work``.

    ``XT`` is the input feature-major, (sizes[0], n); Y (n, m) float targets for MSE, y (n,)
    int64 labels for cross-entropy (the other one is not read).
    """
    n = XT.shape[1]
    outputs = _forward(params, XT, sizes, act, slope, work)
    if loss_kind == LOSS_MSE:
        return _mse_head(outputs, Y, _output_delta(work, sizes, n))
    return _softmax_cross_entropy_head(outputs, y, _output_delta(work, sizes, n),
                                       _backward_scratch(work, sizes, n))  # fmt: skip


def _feature_major_input(X, work):
    """The input feature-major, (sizes[0], n); for kernels only (see the overload)."""
    raise NotImplementedError


@overload(_feature_major_input, inline="always")
def _feature_major_input_impl(X, work):
    # Typed by the caller's choice (``reads_X_in_place``): an F-ordered array is ``X.T``
    # already, read in place; a C-ordered one is X, copied transposed into ``work``. Only the
    # variant in use is compiled.
    if X.layout == "F":
        return lambda X, work: X
    return lambda X, work: _transposed_input(X, work)


def _n_samples(X):
    """Samples of an input given batch-major (C) or as ``X.T`` (F); for kernels only."""
    raise NotImplementedError


@overload(_n_samples, inline="always")
def _n_samples_impl(X):
    if X.layout == "F":
        return lambda X: X.shape[1]
    return lambda X: X.shape[0]


@njit(cache=True, error_model="numpy")
def loss_and_grad(params, X, Y, y, sizes, act, slope, loss_kind, grad, want_grad):
    """Loss of an MLP on (X, Y or y), and (if ``want_grad``) its gradient into ``grad``.

    params, grad (P,); sizes (L+1,) int64; X the (n, sizes[0]) inputs, C-ordered, or their
    transpose ``X.T`` (F-ordered) where ``reads_X_in_place`` says the first layer reads it in
    place. ``loss_kind`` ``LOSS_MSE``: Y (n, sizes[-1]) float targets, identity output;
    ``LOSS_CROSS_ENTROPY``: y (n,) int64 labels in [0, sizes[-1]), softmax output. The other
    target is not read (pass an empty array).
    """
    work = np.empty(_workspace_size(sizes, _n_samples(X)), dtype=params.dtype)
    XT = _feature_major_input(X, work)
    loss = _loss(params, XT, Y, y, sizes, act, slope, loss_kind, work)
    if want_grad:
        _backward(params, XT, sizes, act, slope, work, grad)
    return loss


@njit(cache=True, error_model="numpy")
def forward(params, X, sizes, act, slope, out):
    """Raw network outputs (before any softmax) into ``out`` of shape (n, sizes[-1]).

    X as for ``loss_and_grad``.
    """
    n = _n_samples(X)
    work = np.empty(_workspace_size(sizes, n), dtype=params.dtype)
    outputs = _forward(params, _feature_major_input(X, work), sizes, act, slope, work)
    for j in range(outputs.shape[0]):
        for s in range(n):
            out[s, j] = outputs[j, s]
