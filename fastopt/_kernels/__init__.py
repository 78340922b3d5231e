"""Kernels: @njit functions only, no validation; the public wrappers check inputs.

Numba's on-disk cache (``cache=True``) checks only each function's own source file: a kernel
that calls into another module (``grid.py`` calls ``mlp.py`` and ``fused.py``) keeps its
cached copy of the old callee after that module changes. After editing a kernel, delete the
cache folder (``NUMBA_CACHE_DIR``, ``.numba_cache/`` in this checkout) before measuring or
testing; CI starts from an empty one.
"""

# Numba fastmath flags of every kernel that sums: reassociation only, so that sums vectorize.
# Never nnan/ninf: divergence is detected through NaN and inf. Not "contract" either: with
# both, the code Numba runs right after compiling and the code it loads from its cache in a
# later process rounded differently (seen on Adam), and a resumed sweep must be bit-identical
# to an uninterrupted one.
FASTMATH = {"reassoc"}
