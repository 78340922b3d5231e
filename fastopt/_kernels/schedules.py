"""Learning-rate schedules as pure functions of the step, callable from any kernel.

A schedule is ``(code, params)`` with ``params`` a float64 array
``[lr, warmup, a, b]``; ``t`` is the 0-based index of the step being taken.
"""

import math

from numba import njit

CONSTANT = 0
STEP_DECAY = 1  # a = step_size, b = gamma
EXPONENTIAL = 2  # a = gamma
COSINE = 3  # a = total_steps, b = min_lr


@njit(cache=True)
def schedule_value(code, params, t):
    """Learning rate at 0-based step ``t``: linear warm-up over ``params[1]`` steps, then decay."""
    lr = params[0]
    warmup = params[1]
    if t < warmup:
        return lr * ((t + 1) / warmup)  # (t+1)/warmup <= 1 exactly, so the value never exceeds lr
    t = t - warmup
    if code == STEP_DECAY:
        return lr * params[3] ** math.floor(t / params[2])
    if code == EXPONENTIAL:
        return lr * params[2] ** t
    if code == COSINE:
        progress = min(t, params[2]) / params[2]
        value = params[3] + (lr - params[3]) * 0.5 * (1.0 + math.cos(math.pi * progress))
        return min(value, lr)  # min_lr + (lr - min_lr) can round one ulp above lr
    return lr
