"""Learning-rate schedules: pure functions of the step that kernels can evaluate too.

Every schedule is called with the 0-based index ``t`` of the step being taken and returns a
learning rate. Each takes ``warmup=k``: the first ``k`` steps ramp linearly,
``lr * (t + 1) / k``, and the schedule proper starts at ``t = k`` as if from its own step 0
(this is the linear warm-up; ``Constant(lr, warmup=k)`` is warm-up alone). Pass a schedule as
an optimizer's ``lr``.

Examples
--------
>>> sched = Cosine(0.1, total_steps=100, warmup=10)
>>> round(sched(0), 4), round(sched(9), 4), round(sched(10), 4), round(sched(110), 4)
(0.01, 0.1, 0.1, 0.0)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from fastopt._kernels import schedules as _k


def check_positive(name: str, value: object, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, or raise naming ``name`` if it is not finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return value


def _check_steps(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


class Schedule:
    """Base of the schedules: ``sched(t)`` is the learning rate of 0-based step ``t``.

    Attributes
    ----------
    code : int
        The kernels' code for this kind of schedule.
    params : ndarray of shape (4,), float64
        ``[lr, warmup, a, b]`` as the kernels read them.
    """

    code: int = _k.CONSTANT

    def __init__(self, lr: float, warmup: int, a: float = 0.0, b: float = 0.0):
        self.lr = check_positive("lr", lr)
        self.warmup = _check_steps("warmup", warmup, 0)
        self.params = np.array([self.lr, self.warmup, a, b], dtype=np.float64)
        self.params.setflags(write=False)

    def __call__(self, t: int) -> float:
        """Learning rate at 0-based step ``t``."""
        return float(_k.schedule_value(self.code, self.params, int(t)))

    def values(self, steps: int) -> np.ndarray:
        """Learning rates of steps ``0 .. steps - 1``, shape (steps,), for plots."""
        return np.array([self(t) for t in range(steps)])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()}, warmup={self.warmup})"

    def _describe(self) -> str:
        return f"{self.lr!r}"


class Constant(Schedule):
    """A constant learning rate ``lr`` (after the optional linear warm-up)."""

    code = _k.CONSTANT

    def __init__(self, lr: float, *, warmup: int = 0):
        super().__init__(lr, warmup)


class StepDecay(Schedule):
    """``lr * gamma ** floor(t / step_size)``: multiply by ``gamma`` every ``step_size`` steps."""

    code = _k.STEP_DECAY

    def __init__(self, lr: float, *, step_size: int, gamma: float = 0.1, warmup: int = 0):
        self.step_size = _check_steps("step_size", step_size, 1)
        self.gamma = check_positive("gamma", gamma)
        super().__init__(lr, warmup, self.step_size, self.gamma)

    def _describe(self) -> str:
        return f"{self.lr!r}, step_size={self.step_size}, gamma={self.gamma!r}"


class Exponential(Schedule):
    """``lr * gamma ** t``."""

    code = _k.EXPONENTIAL

    def __init__(self, lr: float, *, gamma: float, warmup: int = 0):
        self.gamma = check_positive("gamma", gamma)
        super().__init__(lr, warmup, self.gamma)

    def _describe(self) -> str:
        return f"{self.lr!r}, gamma={self.gamma!r}"


class Cosine(Schedule):
    """Cosine annealing from ``lr`` to ``min_lr`` over ``total_steps``, then ``min_lr``."""

    code = _k.COSINE

    def __init__(self, lr: float, *, total_steps: int, min_lr: float = 0.0, warmup: int = 0):
        lr = check_positive("lr", lr)
        self.total_steps = _check_steps("total_steps", total_steps, 1)
        self.min_lr = check_positive("min_lr", min_lr, allow_zero=True)
        if self.min_lr > lr:
            raise ValueError(f"min_lr must be <= lr, got min_lr={min_lr!r} > lr={lr!r}")
        super().__init__(lr, warmup, self.total_steps, self.min_lr)

    def _describe(self) -> str:
        return f"{self.lr!r}, total_steps={self.total_steps}, min_lr={self.min_lr!r}"


__all__ = ["Constant", "Cosine", "Exponential", "Schedule", "StepDecay"]
