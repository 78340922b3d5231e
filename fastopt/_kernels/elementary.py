"""Elementary functions that LLVM can vectorize, for the kernels' inner loops.

Numba calls libm for ``np.exp``: one scalar call per entry (Numba vectorizes it only through
Intel's SVML, which fastopt does not depend on). ``exp_nonpositive`` is Cephes' ``expf`` for
float32 (Cody-Waite range reduction, a degree-5 polynomial, the power of two built in the
exponent bits): straight-line code that vectorizes. Float64 keeps ``np.exp``.

Callers must not compile it with fastmath reassociation: ``x - n*C1 - n*C2`` must not become
``x - n*(C1 + C2)``.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

LOG2E = 1.44269504088896341
# ln 2 split in two (Cody-Waite): n*C1 is exact for the n in range.
LN2_HIGH = 0.693359375
LN2_LOW = -2.12194440e-4
# Below this exp(x) is not a normal float32 (< 1.2e-38); the result is then 0. A subnormal
# result would slow every later operation on it ~100-fold: softmax probabilities of a
# diverging classifier at exp(-87.3) made its run-steps 3x slower.
LOWEST_FLOAT32 = -87.33654


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE bits are the int32 ``bits``."""
    if bits != types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


def exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0`` (NaN stays NaN), in x's dtype; for kernels only."""
    raise NotImplementedError


@overload(exp_nonpositive, inline="always")
def _exp_nonpositive(x):
    if x == types.float64:
        return lambda x: np.exp(x)
    if x != types.float32:
        return None

    def impl(x):
        f = np.float32
        underflow = x < f(LOWEST_FLOAT32)  # False for NaN, which passes through
        x = f(LOWEST_FLOAT32) if underflow else x
        n = np.floor(x * f(LOG2E) + f(0.5))
        r = x - n * f(LN2_HIGH)
        r = r - n * f(LN2_LOW)
        p = f(1.9875691500e-4) * r + f(1.3981999507e-3)
        p = p * r + f(8.3334519073e-3)
        p = p * r + f(4.1665795894e-2)
        p = p * r + f(1.6666665459e-1)
        p = p * r + f(5.0000001201e-1)
        y = p * (r * r) + r + f(1.0)
        n = n if n == n else f(0.0)  # NaN to int is undefined in LLVM; y is NaN then anyway
        y = y * _float32_from_bits(np.int32((np.int32(n) + np.int32(127)) << np.int32(23)))
        return f(0.0) if underflow else y

    return impl


@njit(cache=True, error_model="numpy")
def exp_nonpositive_array(x, out):
    """``out = exp_nonpositive(x)`` element-wise, x and out (n,); for tests and benchmarks."""
    for i in range(x.shape[0]):
        out[i] = exp_nonpositive(x[i])
