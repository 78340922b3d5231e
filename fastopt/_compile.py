"""A kernel's first use: compile it (or load it from Numba's disk cache) and say so if slow.

Numba compiles a kernel for each new combination of argument types the first time it is
called, then keeps it in the on-disk cache (``cache=True``) for later processes. On an empty
cache that takes seconds, during which a terminal would show nothing; :func:`ensure_compiled`
compiles first and, when the compile is still running after :data:`NOTICE_AFTER` seconds
(loading from the cache never takes that long), prints one line on a terminal::

    fastopt: compiling adam/float32 step kernels (first use only) ...

A hot path (an optimizer step) checks a key once per process, so it pays one set lookup, not
the typing of its arguments, on later calls.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

import numba

NOTICE_AFTER = 0.5
"""Seconds a compile runs before the notice is printed (a cache load takes ~0.1 s)."""

READY: set[object] = set()
"""Keys of the calls already compiled in this process (see :func:`ensure_compiled`)."""


def ensure_compiled(label: str, calls: Sequence[tuple[object, Sequence[object]]],
                    key: object = None, stream: TextIO | None = None) -> None:  # fmt: skip
    """Have each kernel compiled for the types of its coming call's arguments.

    Parameters
    ----------
    label : str
        What is compiled, for the notice (e.g. ``"adam/float32 step"``).
    calls : sequence of (dispatcher, args)
        The ``@njit`` functions about to be called and their arguments (only the types
        matter).
    key : hashable, optional
        Once this key is in :data:`READY` the calls are not checked again: a hot path checks
        its key (``if key not in READY``) before building ``calls``. The key must stand for
        everything that decides the argument types.
    stream : text file, optional
        Where the notice goes (default stderr); nothing is printed unless it is a terminal.
    """
    if key is not None and key in READY:
        return
    pending = []
    for kernel, args in calls:
        signature = tuple(numba.typeof(a) for a in args)
        if signature not in kernel.overloads:
            pending.append((kernel, signature))
    if pending:
        stream = sys.stderr if stream is None else stream
        timer = None
        if _is_terminal(stream):
            timer = threading.Timer(NOTICE_AFTER, _notice, (stream, label))
            timer.daemon = True
            timer.start()
        try:
            for kernel, signature in pending:
                kernel.compile(signature)
        finally:
            if timer is not None:
                timer.cancel()
    if key is not None:
        READY.add(key)


def _notice(stream: TextIO, label: str) -> None:
    print(f"fastopt: compiling {label} kernels (first use only) ...", file=stream, flush=True)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
