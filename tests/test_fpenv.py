"""The grid trainer's floating-point environment (``fastopt._kernels.fpenv``)."""

import numpy as np
import pytest
from numba import njit

import fastopt
from fastopt import MLP
from fastopt._kernels.fpenv import X86, flush_subnormals, restore_fpenv

pytestmark = pytest.mark.skipif(not X86, reason="MXCSR is x86-64's")

TINY = np.float32(1e-30)  # TINY * TINY_FACTOR is subnormal in float32


# Separate compiled functions called in turn: within one function LLVM may compute a product
# once and reuse it across the flag change.
@njit
def _flush():
    return flush_subnormals()


@njit
def _restore(before):
    restore_fpenv(before)


@njit
def _products(a, b, out):
    out[0] = a * b  # subnormal, or 0 when flushed (FTZ)


def _subnormal_product() -> float:
    out = np.zeros(1, dtype=np.float32)
    _products(TINY, np.float32(1e-10), out)
    return float(out[0])


def test_flush_then_restore():
    plain = _subnormal_product()
    assert 0 < plain < np.finfo(np.float32).tiny  # subnormal without flushing
    before = _flush()
    try:
        flushed = _subnormal_product()
    finally:
        _restore(before)
    assert flushed == 0.0
    assert _subnormal_product() == plain  # the thread's flags are back


def test_a_sweep_leaves_the_callers_flags_alone():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 3)).astype(np.float32)
    Y = rng.standard_normal((16, 1)).astype(np.float32)
    fastopt.sweep(MLP([3, 4, 1]), X, Y, optimizer="adam", lr=[1e-3, 1e-2], steps=3,
                  progress=False)  # fmt: skip
    assert _subnormal_product() > 0  # this thread still makes subnormals
