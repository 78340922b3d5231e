"""The first use of a kernel: compiled before the call, announced on a terminal when slow."""

import io

import numpy as np
from numba import njit

from fastopt import _compile


class Terminal(io.StringIO):
    def isatty(self):
        return True


def fresh_kernel():
    """A kernel of its own (not cached): every test sees it uncompiled."""

    @njit
    def double(x):
        return 2 * x

    return double


def test_a_slow_compile_is_announced_once_on_a_terminal(monkeypatch):
    monkeypatch.setattr(_compile, "NOTICE_AFTER", 0.0)
    kernel, out = fresh_kernel(), Terminal()
    x = np.arange(3.0)
    _compile.ensure_compiled("double/float64", [(kernel, (x,))], key=("double", 1), stream=out)
    assert out.getvalue() == "fastopt: compiling double/float64 kernels (first use only) ...\n"
    assert len(kernel.signatures) == 1  # compiled for exactly the coming call's types
    np.testing.assert_array_equal(kernel(x), 2 * x)
    assert len(kernel.signatures) == 1  # the call found it: nothing compiled twice
    _compile.ensure_compiled("double/float64", [(kernel, (x,))], key=("double", 1), stream=out)
    assert out.getvalue().count("\n") == 1  # the key is ready: not even checked again


def test_no_notice_off_a_terminal_or_when_already_compiled(monkeypatch):
    monkeypatch.setattr(_compile, "NOTICE_AFTER", 0.0)
    kernel, out = fresh_kernel(), io.StringIO()
    _compile.ensure_compiled("double", [(kernel, (np.arange(2),))], stream=out)
    assert out.getvalue() == "" and len(kernel.signatures) == 1
    terminal = Terminal()
    _compile.ensure_compiled("double", [(kernel, (np.arange(5),))], stream=terminal)
    assert terminal.getvalue() == ""  # same types: nothing to compile, nothing said


def test_a_quick_compile_is_not_announced(monkeypatch):
    monkeypatch.setattr(_compile, "NOTICE_AFTER", 60.0)
    kernel, out = fresh_kernel(), Terminal()
    _compile.ensure_compiled("double", [(kernel, (1.5,))], stream=out)
    assert out.getvalue() == "" and kernel(1.5) == 3.0
