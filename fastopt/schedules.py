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

import numpy as np

from fastopt._kernels import schedules as _k
from fastopt._validate import check_int, check_positive

MAX_STEP = 2**62
"""Largest step (and warm-up length) a schedule accepts: the kernels count steps in int64."""


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
        self.warmup = check_int("warmup", warmup, 0, MAX_STEP)
        self.params = np.array([self.lr, self.warmup, a, b], dtype=np.float64)
        self.params.setflags(write=False)

    def __call__(self, t: int) -> float:
        """Learning rate at 0-based step ``t``.

        Parameters
        ----------
        t : int
            Index of the step being taken, ``0 <= t <= MAX_STEP``; an int or NumPy integer.

        Raises
        ------
        TypeError
            If ``t`` is not an integer (a float such as ``2.5`` or ``3.0`` included).
        ValueError
            If ``t`` is negative: before the first step there is no learning rate, and the
            formulas would give a negative one (the warm-up ramp ``lr * (t + 1) / warmup``).
        """
        t = check_int("t", t, 0, MAX_STEP)
        return float(_k.schedule_value(self.code, self.params, t))

    def values(self, steps: int) -> np.ndarray:
        """Learning rates of steps ``0 .. steps - 1``, shape (steps,), for plots.

        ``steps`` is an int >= 0.
        """
        steps = check_int("steps", steps, 0)
        return np.array([self(t) for t in range(steps)], dtype=np.float64)

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
        self.step_size = check_int("step_size", step_size, 1, MAX_STEP)
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
    """Cosine annealing from ``lr`` to ``min_lr`` over ``total_steps``, then ``min_lr``.

    ``total_steps`` counts the steps of the annealing itself, after any warm-up: with
    ``warmup=k`` the rate reaches ``min_lr`` at step ``k + total_steps`` (so ``warmup`` may
    exceed ``total_steps``). optax's ``warmup_cosine_decay_schedule`` counts its
    ``decay_steps`` with the warm-up included; this does not.
    """

    code = _k.COSINE

    def __init__(self, lr: float, *, total_steps: int, min_lr: float = 0.0, warmup: int = 0):
        lr = check_positive("lr", lr)
        self.total_steps = check_int("total_steps", total_steps, 1, MAX_STEP)
        self.min_lr = check_positive("min_lr", min_lr, allow_zero=True)
        if self.min_lr > lr:
            raise ValueError(f"min_lr must be <= lr, got min_lr={min_lr!r} > lr={lr!r}")
        super().__init__(lr, warmup, self.total_steps, self.min_lr)

    def _describe(self) -> str:
        return f"{self.lr!r}, total_steps={self.total_steps}, min_lr={self.min_lr!r}"


__all__ = ["Constant", "Cosine", "Exponential", "Schedule", "StepDecay"]
