"""Grid trainer: many small MLPs trained at once, one run per thread at a time.

Each run (one configuration of the grid) trains its whole trajectory on one thread with the
very kernels of the single-run API: ``_kernels.mlp`` for the loss and gradient of each
(mini-)batch, ``_kernels.fused`` for the optimizer step. Its result cannot depend on the rest
of the grid or on the thread count, and it is bit-identical to training that configuration
alone with ``MLP.loss_and_grad`` and ``Optimizer.step`` until a value falls below the
smallest normal float (1.2e-38 in float32, 2.2e-308 in float64): training flushes those
subnormal values to zero (``fpenv``: they cost the digits grid a fifth of its time), the
single-run API keeps them. Each such operation's result differs by less than that smallest
normal float, and only there; a run that never makes a subnormal is bit-identical.

Why not configurations in SIMD lanes, as first planned? With a weight vector per lane, every
layer product becomes an element-wise multiply-add that reuses nothing, and the short loops
over lanes are dominated by loop and aliasing overhead: a prototype reached 58k run-steps/s
on the 8-32-1 benchmark. One run per thread keeps each layer product a small matrix product
over the batch (BLAS or the unrolled loops), which reuses every weight for every sample:
380k run-steps/s on the same grid, and runs that stop early cost nothing further.

Why not runs in lockstep, their first layers one GEMM over the stacked weights of R runs
sharing a mini-batch, or fixed-size Numba micro-kernels in place of small BLAS calls?
Measured on the 2-core Xeon (AVX-512; ``python -m bench.grid_products``, one thread, 16
runs): OpenBLAS's small-matrix sgemm already runs one run's product at 110-195 GFLOP/s
(one-thread sgemm: 192). The stacked GEMM saves 0.07-0.2 us per run on the smallest first
layers (32 x 8 x 128: 0.73 -> 0.54 us; 32 x 16 x 32: 0.27 -> 0.20) and loses from 64 x 64 x 32
up (1.5 -> 2.2 us); a register-blocked Numba loop with fused multiply-adds reached 27-51
GFLOP/s (LLVM keeps Numba's loops to 256-bit vectors). Neither pays for its cost here: on
the 8-32-1 grid lockstep would save about a tenth of a run-step, and it would tie a run's
bits to the group it trains in. Where the time goes instead: ``python -m bench.grid_breakdown``.

Threads take runs one at a time from a shared counter (``claim_next``); what a run writes at
every step stays on its thread until it ends (neighbouring runs' entries share cache
lines); BLAS is held to one thread meanwhile (``fastopt.sweep.on_threads``).

The loss recorded at step ``t`` is that of the batch used at step ``t``, with the parameters
after ``t`` updates. A run stops at the first step whose loss is below ``stop_below``
(``steps_to_target = t``), or is NaN/inf or above its divergence threshold
(``diverged_at = t``), or after ``steps`` updates.
"""

import numpy as np
from llvmlite import ir
from numba import literal_unroll, njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from fastopt._kernels.fpenv import flush_subnormals, restore_fpenv
from fastopt._kernels.fused import GC_NONE, fill_coefficients_of, step_chunk
from fastopt._kernels.mlp import LOSS_CROSS_ENTROPY, _backward, _forward, _loss, _workspace_size
from fastopt._kernels.schedules import schedule_value


def _batch_input(XT, n):
    """A new (d, n) mini-batch input laid out as ``XT``.

    ``Xb.T`` of a batch-major ``Xb`` when ``XT`` is ``X.T`` (read in place), else C-ordered.
    For kernels only (see the overload).
    """
    raise NotImplementedError


@overload(_batch_input)
def _batch_input_impl(XT, n):
    if XT.layout == "F":
        return lambda XT, n: np.empty((n, XT.shape[0]), dtype=XT.dtype).T
    return lambda XT, n: np.empty((XT.shape[0], n), dtype=XT.dtype)


PROGRESS_EVERY = 256
"""Steps between updates of a training run's ``steps_done`` (read by progress reports)."""


@njit(cache=True, error_model="numpy")
def _gather(X, Y, y, rows, XT, Yb, yb):
    """Copy the samples ``rows`` into the batch buffers.

    X's rows go to the columns of ``XT`` (d, batch): a transposed buffer, or ``Xb.T`` of a
    batch-major one, so the copy and the transposition the single-run API makes are one pass.
    The same values either way, so the same bits as ``X[rows]`` given to ``MLP.loss_and_grad``.
    """
    for k in range(rows.shape[0]):
        s = rows[k]
        for i in range(X.shape[1]):
            XT[i, k] = X[s, i]
        for j in range(Y.shape[1]):
            Yb[k, j] = Y[s, j]
        if y.shape[0] > 0:  # labels of a classifier (a regression's y is empty)
            yb[k] = y[s]


@intrinsic
def claim_next(typingctx, counter):
    """``counter[0] += 1`` as one atomic operation; the value before it (int64).

    How the threads of a grid call share its runs: each claims the next untrained run when it
    finishes one, so runs that stop early leave no thread idle (a fixed share per thread,
    runs ``k, k + T, ...``, gave 1.38x on 2 threads on the regression grid, where high rates
    diverge within a few steps).
    """
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, signature.args[0], array,
                                           [ir.Constant(ir.IntType(64), 0)])  # fmt: skip
        return builder.atomic_rmw("add", pointer, ir.Constant(ir.IntType(64), 1), "seq_cst")

    return types.int64(counter), codegen


@njit(cache=True, nogil=True, error_model="numpy")
def train_runs(
    counter,
    X,
    XT,
    Y,
    y,
    loss_kind,
    sizes,
    act,
    slope,
    perms,
    batch_size,
    kinds,
    hyper,
    coefficients,
    sched_code,
    sched_params,
    gc_modes,
    chunks_plain,
    chunks_gc,
    params,
    state,
    steps,
    record_every,
    stop_below,
    diverge_above,
    diverge_factor,
    curves,
    steps_to_target,
    diverged_at,
    best_loss,
    steps_done,
):
    """Train runs until none is left, claiming each from ``counter``; outputs in place.

    The caller runs this on several threads of its own at once (the kernel releases the GIL),
    all sharing ``counter``, a (1,) int64 array holding the next unclaimed run (0 at the
    start; see ``claim_next``). A parallel loop (prange) here cost 7.5 s of compiling on an
    empty cache, a quarter of ``fastopt compare``'s first run; runs are independent, so which
    thread trains which changes no bit.

    ``XT`` is X feature-major, (d, n), in the layout the single-run API gives the first layer
    for a batch of this size (``mlp.reads_X_in_place``): ``X.T`` itself, or a C-ordered copy, so
    a full batch is transposed once per sweep instead of at every step (0.3 us of a 4 us
    run-step on 128 x 8 inputs); mini-batches are gathered into a buffer of the same layout.
    The caller picks, so only the kernels for the layout in use are compiled.

    Shapes (R runs, P parameters, k the most optimizer buffers): X (n, d); Y (n, m) float
    targets for MSE (else empty, (0, 0)); y (n,) int64 labels for cross-entropy (else empty);
    perms (n_epochs, n) int64 sample orders, ``batch_size`` consecutive entries of a row per
    step (a single ``arange(n)`` row for full batch); kinds, gc_modes, sched_code (R,) int64;
    hyper and coefficients (R,) of ``fused.combined_records()``: run r's optimizer is kernel
    ``kinds[r]``, its hyperparameters field ``k{kind}`` of ``hyper[r]`` (its per-step
    coefficients go to the same field of a copy of ``coefficients[r]``, which is not
    written); sched_params (R, 4)
    float64;
    chunks_plain / chunks_gc the layout's chunk tables without / with GC rows (chunks_gc
    None when no run uses GC: its loops are then not compiled); params (R, P)
    and state (R, k, P) in/out; curves (R, n_records) float64 (NaN where nothing is
    recorded; n_records 0 records nothing);
    steps_to_target, diverged_at, steps_done (R,) int64 (-1 = no); best_loss (R,) float64.
    ``stop_below`` and ``diverge_above`` are NaN when not used; the divergence threshold is
    then ``diverge_factor`` times the run's first loss.
    """
    full_batch = batch_size == X.shape[0]
    XTr = XT if full_batch else _batch_input(XT, batch_size)
    before = flush_subnormals()  # see fpenv; evaluation (evaluate_runs) keeps them
    while True:
        r = claim_next(counter)
        if r >= params.shape[0]:
            restore_fpenv(before)
            return
        _train_run(r, X, XTr, Y, y, loss_kind, sizes, act, slope, perms, batch_size, kinds,
                   hyper, coefficients, sched_code, sched_params, gc_modes, chunks_plain, chunks_gc,
                   params, state, steps, record_every, stop_below, diverge_above,
                   diverge_factor, curves, steps_to_target, diverged_at, best_loss,
                   steps_done)  # fmt: skip


@njit(cache=True, error_model="numpy")
def _train_run(r, X, XT, Y, y, loss_kind, sizes, act, slope, perms, batch_size, kinds,
               hyper, coefficients, sched_code, sched_params, gc_modes, chunks_plain, chunks_gc,
               params, state, steps, record_every, stop_below, diverge_above, diverge_factor,
               curves, steps_to_target, diverged_at, best_loss, steps_done):  # fmt: skip
    """Train run ``r`` (see ``train_runs``).

    ``XT`` is the run's (d, batch) input: X transposed for a full batch, else a buffer that
    ``_gather`` fills at every step.
    """
    dtype = params.dtype
    full_batch = batch_size == X.shape[0]
    batches_per_epoch = perms.shape[1] // batch_size
    Yb = Y if full_batch else np.empty((batch_size, Y.shape[1]), dtype=dtype)
    yb = y if full_batch else np.empty(batch_size, dtype=np.int64)
    work = np.empty(_workspace_size(sizes, batch_size), dtype=dtype)
    grad = np.empty(params.shape[1], dtype=dtype)
    p = params[r]
    # What is written at every step stays on this thread until the run ends: the record of
    # this step's coefficients and the best loss. Neighbouring runs' entries share cache
    # lines, and the thread training run r + 1 writes them too.
    coefficient = coefficients[r : r + 1].copy()
    best = best_loss[r]
    threshold = diverge_above
    t = 0
    for t in range(steps + 1):
        if not full_batch:
            epoch = (t // batches_per_epoch) % perms.shape[0]
            start = (t % batches_per_epoch) * batch_size
            _gather(X, Y, y, perms[epoch, start : start + batch_size], XT, Yb, yb)
        value = _loss(p, XT, Yb, yb, sizes, act, slope, loss_kind, work)
        if t == 0 and np.isnan(diverge_above):
            threshold = diverge_factor * value if value > 0 else np.inf
        if t % record_every == 0 and curves.shape[1] > 0:
            curves[r, t // record_every] = value
        if value < best or np.isnan(best):
            best = value
        if t % PROGRESS_EVERY == 0:
            steps_done[r] = t  # for progress reports while the run trains
        if not np.isfinite(value) or value > threshold:
            diverged_at[r] = t
            break
        if value < stop_below:
            steps_to_target[r] = t
            break
        if t == steps:
            break
        _backward(p, XT, sizes, act, slope, work, grad)
        lr = schedule_value(sched_code[r], sched_params[r], t)
        _optimizer_step(kinds[r], hyper[r], coefficient[0], t, lr, p, grad, state[r],
                        chunks_plain, chunks_gc, gc_modes[r])  # fmt: skip
    best_loss[r] = best
    steps_done[r] = t


def _optimizer_step(kind, h, c, t, lr, p, grad, S, chunks_plain, chunks_gc, gc_mode):
    """Step ``t`` with the run's optimizer, field ``k{kind}`` of its combined records h, c.

    ``chunks_gc`` is None when no run of the sweep uses GC: no GC loops are compiled then.
    """
    raise NotImplementedError


@overload(_optimizer_step)
def _optimizer_step_impl(kind, h, c, t, lr, p, grad, S, chunks_plain, chunks_gc, gc_mode):
    # One version of the loop body per registered kernel (literal_unroll over the combined
    # record's field names); the run's kind picks one.
    names = tuple(name for name, _ in h.members)
    any_gc = not isinstance(chunks_gc, types.NoneType)

    def impl(kind, h, c, t, lr, p, grad, S, chunks_plain, chunks_gc, gc_mode):
        chunks = _run_chunks(chunks_plain, chunks_gc, gc_mode)
        i = 0
        for name in literal_unroll(names):
            if i == kind:
                ck = c[name]
                fill_coefficients_of(h[name], t, lr, ck)
                for k in range(chunks.shape[0]):
                    if any_gc:  # a constant: Numba prunes the other call before typing it
                        step_chunk(ck, p, grad, S, chunks[k, 0], chunks[k, 1], chunks[k, 2],
                                   gc_mode)  # fmt: skip
                    else:
                        step_chunk(ck, p, grad, S, chunks[k, 0], chunks[k, 1], 0, GC_NONE)
            i += 1

    return impl


def _run_chunks(chunks_plain, chunks_gc, gc_mode):
    """The chunk table of a run with GC mode ``gc_mode``."""
    raise NotImplementedError


@overload(_run_chunks)
def _run_chunks_impl(chunks_plain, chunks_gc, gc_mode):
    if isinstance(chunks_gc, types.NoneType):
        return lambda chunks_plain, chunks_gc, gc_mode: chunks_plain
    return lambda chunks_plain, chunks_gc, gc_mode: (
        chunks_plain if gc_mode == GC_NONE else chunks_gc
    )


@njit(cache=True, nogil=True, error_model="numpy")
def evaluate_runs(counter, XT, Y, y, loss_kind, sizes, act, slope, params, loss, accuracy):
    """Full-batch loss and accuracy of the runs claimed from ``counter`` on (X, Y or y).

    Run on several threads sharing ``counter``, as ``train_runs``; written in place.

    XT (d, n) is X feature-major, as for ``train_runs``; params (R, P); loss, accuracy (R,)
    float64. Accuracy (the fraction of samples whose largest output is the label) is computed
    for cross-entropy only, else left as is.
    """
    work = np.empty(_workspace_size(sizes, XT.shape[1]), dtype=params.dtype)
    while True:
        r = claim_next(counter)
        if r >= params.shape[0]:
            return
        _evaluate_run(params[r], XT, Y, y, loss_kind, sizes, act, slope, work, loss, accuracy, r)


@njit(cache=True, error_model="numpy")
def _evaluate_run(p, XT, Y, y, loss_kind, sizes, act, slope, work, loss, accuracy, r):
    """``loss[r]`` and (cross-entropy) ``accuracy[r]`` of the parameters ``p``."""
    n = XT.shape[1]
    loss[r] = _loss(p, XT, Y, y, sizes, act, slope, loss_kind, work)
    if loss_kind == LOSS_CROSS_ENTROPY:
        outputs = _forward(p, XT, sizes, act, slope, work)
        correct = 0
        for s in range(n):
            best = 0
            for j in range(1, outputs.shape[0]):
                if outputs[j, s] > outputs[best, s]:
                    best = j
            correct += best == y[s]
        accuracy[r] = correct / n
