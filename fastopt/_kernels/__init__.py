"""Kernels: @njit functions only, no validation; the public wrappers check inputs.

Numba's on-disk cache (``cache=True``) checks only each function's own source file: a kernel
that calls into another module (``grid.py`` calls ``mlp.py`` and ``fused.py``) keeps its
cached copy of the old callee after that module changes. After editing a kernel, delete the
cache folder (``NUMBA_CACHE_DIR``, ``.numba_cache/`` in this checkout) before measuring or
testing; CI starts from an empty one.
"""
