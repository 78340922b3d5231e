"""The grid trainer's floating-point environment: subnormal numbers flushed to zero.

A run that saturates makes subnormal floats (below 1.2e-38 in float32, 2.2e-308 in
float64): the moments of parameters whose gradient has gone to zero decay geometrically
(Adam's ``exp_avg`` by 0.9 a step, under 1e-38 within about 800 steps), and so do softmax
probabilities far from the label. x86 cores take a slow path, about a hundred cycles, for
every operation that reads or makes one. On the digits grid (64-100-10, Adam at rates 0.1
and 0.3) run-steps took twice as long as at 1e-3; with subnormals flushed to zero the whole
grid took 0.31 s instead of 0.40 s on one thread, and the 16-32-32-4 classifier grid 1.33 s
instead of 1.50 s. XLA, and so JAX, run on the CPU with them flushed too.

``flush_subnormals()`` sets the thread's MXCSR flags FTZ (results that would be subnormal
become 0) and DAZ (subnormal inputs read as 0) and returns the flags before; ``restore_fpenv``
puts them back. On other machines (not x86-64) both do nothing.
"""

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

X86 = platform.machine().lower() in ("x86_64", "amd64")
"""Whether this machine has MXCSR (elsewhere the functions below do nothing)."""

FTZ_DAZ = 0x8040
"""MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) flags."""


def _mxcsr_call(builder, name, slot):
    """Call ``llvm.x86.sse.{stmxcsr,ldmxcsr}`` on the 32-bit ``slot``."""
    pointer = builder.bitcast(slot, ir.IntType(8).as_pointer())
    fn = builder.module.declare_intrinsic(name, fnty=ir.FunctionType(ir.VoidType(), [pointer.type]))
    builder.call(fn, [pointer])


@intrinsic
def flush_subnormals(typingctx):
    """Flush subnormals to zero on this thread; returns the previous state (int64)."""

    def codegen(context, builder, signature, args):
        if not X86:
            return ir.Constant(ir.IntType(64), 0)
        i32 = ir.IntType(32)
        slot = cgutils.alloca_once(builder, i32)
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        before = builder.load(slot)
        builder.store(builder.or_(before, ir.Constant(i32, FTZ_DAZ)), slot)
        _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return builder.zext(before, ir.IntType(64))

    return types.int64(), codegen


@intrinsic
def restore_fpenv(typingctx, before):
    """Put back the state ``flush_subnormals`` returned."""
    if before != types.int64:
        return None

    def codegen(context, builder, signature, args):
        if X86:
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            builder.store(builder.trunc(args[0], ir.IntType(32)), slot)
            _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.none(types.int64), codegen
