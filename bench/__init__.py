"""fastopt's benchmarks: ``python -m bench.report`` (the report), ``pytest bench/`` (the suite).

Every entry point imports this package first, so the checkout's Numba cache
(``.numba_cache/``) is used unless ``NUMBA_CACHE_DIR`` says otherwise.
"""

import os

_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(_CHECKOUT, ".numba_cache"))
