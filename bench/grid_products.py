"""How the grid's small layer products are best computed: the measurements behind its choice.

Run ``python -m bench.grid_products``. On one thread (BLAS held to one), for layer shapes of
the grid workloads, ``Z = W @ A`` with W (out, in) and A (in, batch), as:

- ``per run``: one OpenBLAS sgemm call per run (``np.dot`` from Numba), what the grid does;
- ``lockstep``: the runs trained in lockstep on one mini-batch, their first-layer weights
  stacked, one sgemm of ``(R*out, in) @ (in, batch)`` for R runs (the input read once);
- ``micro-kernel``: a register-blocked Numba loop (4 outputs x 4 inputs per sweep over the
  batch, explicit fused multiply-adds), the fixed-size kernel alternative to BLAS;

and the weight gradient ``dW = dZ @ A.T`` as OpenBLAS takes it from the activations as
stored (both operands contiguous along the batch: its small-matrix path is slow there)
against a batch-major copy of A (``_mlp._transpose``) and ``dZ @ At``, which the MLP kernels
use for batches up to ``BATCH_MAJOR_MAX``.

Times are microseconds per run (the best of 5 loops), with the rate in GFLOP/s.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (Numba's BLAS: loaded, so threadpoolctl limits it)
from llvmlite import ir
from numba import njit
from numba.extending import intrinsic
from threadpoolctl import threadpool_limits

from fastopt._kernels import mlp as _mlp

SHAPES = [(32, 8, 128), (32, 16, 32), (32, 32, 32), (4, 32, 32), (64, 64, 32), (100, 64, 32),
          (10, 100, 32), (128, 32, 64), (128, 128, 64)]  # fmt: skip
"""(out, in, batch) of layers of the grid workloads (bench.sweep_workloads)."""

RUNS = 16
"""Runs per lockstep group."""


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's fma intrinsic), for float32 or float64."""

    def codegen(context, builder, signature, args):
        ty = args[0].type
        name = "llvm.fma.f32" if ty == ir.FloatType() else "llvm.fma.f64"
        fn = builder.module.declare_intrinsic(name, fnty=ir.FunctionType(ty, [ty, ty, ty]))
        return builder.call(fn, args)

    return a(a, a, a), codegen


@njit(error_model="numpy")
def _micro_kernel(W, A, Z):
    """``Z = W @ A``: 4 output rows x 4 inputs per sweep over the batch (16 FMAs per 8 loads)."""
    fan_out, fan_in = W.shape
    n = A.shape[1]
    zero = W.dtype.type(0.0)
    j = 0
    while j + 4 <= fan_out:
        z0, z1, z2, z3 = Z[j], Z[j + 1], Z[j + 2], Z[j + 3]
        for s in range(n):
            z0[s] = z1[s] = z2[s] = z3[s] = zero
        for i in range(fan_in):
            a = A[i]
            w0, w1, w2, w3 = W[j, i], W[j + 1, i], W[j + 2, i], W[j + 3, i]
            for s in range(n):
                x = a[s]
                z0[s] = _fma(w0, x, z0[s])
                z1[s] = _fma(w1, x, z1[s])
                z2[s] = _fma(w2, x, z2[s])
                z3[s] = _fma(w3, x, z3[s])
        j += 4
    while j < fan_out:
        z = Z[j]
        for s in range(n):
            z[s] = zero
        for i in range(fan_in):
            a = A[i]
            w = W[j, i]
            for s in range(n):
                z[s] = _fma(w, a[s], z[s])
        j += 1


@njit
def _per_run(reps, W, A, Z):
    for _ in range(reps):
        for r in range(W.shape[0]):
            np.dot(W[r], A, Z[r])


@njit
def _lockstep(reps, W, A, Z):
    for _ in range(reps):
        np.dot(W, A, Z)


@njit
def _micro(reps, W, A, Z):
    for _ in range(reps):
        for r in range(W.shape[0]):
            _micro_kernel(W[r], A, Z[r])


@njit
def _dw_direct(reps, dZ, A, dW):
    for _ in range(reps):
        for r in range(dZ.shape[0]):
            np.dot(dZ[r], A.T, dW[r])


@njit
def _dw_batch_major(reps, dZ, A, At, dW):
    for _ in range(reps):
        for r in range(dZ.shape[0]):
            _mlp._transpose(A, At)
            np.dot(dZ[r], At, dW[r])


def _best(loop, *args, reps: int = 200) -> float:
    """Microseconds per run: the best of 5 loops of ``reps`` calls over ``RUNS`` runs."""
    loop(2, *args)
    best = np.inf
    for _ in range(5):
        start = time.perf_counter()
        loop(reps, *args)
        best = min(best, time.perf_counter() - start)
    return best / reps / RUNS * 1e6


def main() -> None:
    print(f"command: python -m bench.grid_products {' '.join(sys.argv[1:])}")
    rng = np.random.default_rng(0)

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    print(f"Z = W @ A, {RUNS} runs, us per run (GFLOP/s):")
    print(f"{'out x in x batch':>18} {'per run':>16} {'lockstep':>16} {'micro-kernel':>16}")
    with threadpool_limits(1):
        for out, fan_in, n in SHAPES:
            W, A, Z = f32(RUNS, out, fan_in), f32(fan_in, n), f32(RUNS, out, n)
            flops = 2 * out * fan_in * n / 1e3
            times = (_best(_per_run, W, A, Z),
                     _best(_lockstep, W.reshape(RUNS * out, fan_in), A, Z.reshape(RUNS * out, n)),
                     _best(_micro, W, A, Z))  # fmt: skip
            cells = " ".join(f"{t:7.3f} ({flops / t:4.0f})" for t in times)
            print(f"{out:>6} x {fan_in:>3} x {n:>3}  {cells}")
        print(f"\ndW = dZ @ A.T, {RUNS} runs, us per run (GFLOP/s):")
        print(f"{'out x in x batch':>18} {'as stored':>16} {'batch-major A':>16}")
        for out, fan_in, n in SHAPES:
            dZ, A, dW = f32(RUNS, out, n), f32(fan_in, n), f32(RUNS, out, fan_in)
            flops = 2 * out * fan_in * n / 1e3
            times = (_best(_dw_direct, dZ, A, dW),
                     _best(_dw_batch_major, dZ, A, f32(n, fan_in), dW))  # fmt: skip
            cells = " ".join(f"{t:7.3f} ({flops / t:4.0f})" for t in times)
            print(f"{out:>6} x {fan_in:>3} x {n:>3}  {cells}")


if __name__ == "__main__":
    main()
