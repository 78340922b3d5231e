"""Argument checks shared by every public entry point: one function per kind of value.

Each function takes the argument's name (as the user typed it, e.g. ``"betas[0]"``) and its
value, and returns the value in canonical form (a Python ``int``, ``float`` or ``bool``) or
raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, out of range) with
a message that starts with the name, so the user knows which argument to fix.

``bool`` is refused wherever a number is expected (``True`` is an ``int`` to Python, but
``lr=True`` or ``steps=True`` is always a slip), and numbers are refused where a ``bool`` is
expected (``amsgrad="False"`` or ``nesterov=0`` would otherwise be read by truthiness).
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_int(
    name: str, value: object, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` as a Python int.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
        An ``int`` or NumPy integer; ``bool`` and floats (even ``3.0``) are refused.
    minimum, maximum : int, optional
        Inclusive bounds.

    Raises
    ------
    TypeError
        If ``value`` is not an integer.
    ValueError
        If it lies outside ``[minimum, maximum]``.
    """
    # A plain int takes the short way: the ABC check costs a microsecond, on every step.
    if type(value) is not int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {value!r}")
        value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return value


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` as a Python bool; only ``bool`` and ``numpy.bool_`` are accepted.

    Strings (``"False"``, ``"no"``), numbers (0, 1) and None are refused: read by
    truthiness, ``"False"`` would mean True.

    Raises
    ------
    TypeError
        If ``value`` is not a bool.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _real(name: str, value: object, what: str = "a number") -> float:
    if type(value) is float:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    return float(value)


def check_positive(name: str, value: object, allow_zero: bool = False) -> float:
    """Return ``value`` as a float that is finite and > 0 (>= 0 with ``allow_zero``).

    Raises
    ------
    TypeError
        If ``value`` is not a real number (bools are refused).
    ValueError
        If it is NaN, infinite, negative, or zero without ``allow_zero``.
    """
    value = _real(name, value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return value


def check_nonnegative(name: str, value: object) -> float:
    """A real, finite number >= 0 (see :func:`check_positive`)."""
    return check_positive(name, value, allow_zero=True)


def check_fraction(name: str, value: object, allow_one: bool = False) -> float:
    """Return ``value`` as a float in ``[0, 1)`` (``[0, 1]`` with ``allow_one``).

    For decay rates such as Adam's betas or RMSprop's alpha, where 1 would freeze the
    running average (and divide by zero in a bias correction).

    Raises
    ------
    TypeError
        If ``value`` is not a real number (bools are refused).
    ValueError
        If it lies outside the interval (NaN included).
    """
    value = _real(name, value)
    inside = 0.0 <= value <= 1.0 if allow_one else 0.0 <= value < 1.0
    if not inside:
        raise ValueError(f"{name} must lie in [0, {'1]' if allow_one else '1)'}, got {value!r}")
    return value


def check_finite_or_none(name: str, value: object, positive: bool = False) -> float:
    """Return ``value`` as a finite float (> 0 with ``positive``), or NaN for None.

    NaN stands for "not given" downstream (kernels compare against it and never trigger).

    Raises
    ------
    TypeError
        If ``value`` is neither None nor a real number (bools are refused).
    ValueError
        If it is NaN, infinite, or not > 0 with ``positive``.
    """
    if value is None:
        return math.nan
    value = _real(name, value, "a number or None")
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{name} must be finite{' and > 0' if positive else ''}, got {value!r}")
    return value


__all__ = ["check_bool", "check_finite_or_none", "check_fraction", "check_int", "check_positive"]
