"""One scalar update rule per optimizer, inlined into every driver that uses it.

Each rule maps one parameter's (already weight-decayed, possibly centralized) gradient ``d``
and its state to the new state and the step direction ``u`` (the update is ``p -= lr * u``,
up to each optimizer's own step size). Semantics follow ``torch.optim``'s single-tensor code;
``fastopt.reference.optim`` is the independent NumPy statement of the same rules.

All arguments are scalars of one float dtype; coefficients such as ``1 - beta1`` are computed
once per step by the caller in float64 and cast, so float32 stays float32.
"""

import numpy as np
from numba import njit


@njit(inline="always")
def decayed(g, p, weight_decay):
    """Gradient plus L2 weight decay, ``g + weight_decay*p``; exactly ``g`` when there is none.

    Skipping the term (as torch does) keeps an infinite parameter from turning into NaN.
    """
    if weight_decay != 0:
        return g + weight_decay * p
    return g


@njit(inline="always")
def sgd_momentum(d, buf, momentum, one_minus_dampening, first):
    """New momentum buffer: ``d`` on the first step, else ``momentum*buf + (1-dampening)*d``."""
    if first:
        return d
    return momentum * buf + one_minus_dampening * d


@njit(inline="always")
def sgd_direction(d, buf, momentum, nesterov):
    """Step direction from the (new) momentum buffer: Nesterov looks one step ahead."""
    if nesterov:
        return d + momentum * buf
    return buf


@njit(inline="always")
def ema(average, value, beta, one_minus_beta):
    """Exponential moving average ``beta*average + (1-beta)*value``."""
    return beta * average + one_minus_beta * value


@njit(inline="always")
def rmsprop_denominator(square_avg, grad_avg, eps, centered):
    """``sqrt(square_avg - grad_avg**2) + eps`` if centered, else ``sqrt(square_avg) + eps``."""
    if centered:
        return np.sqrt(square_avg - grad_avg * grad_avg) + eps
    return np.sqrt(square_avg) + eps


@njit(inline="always")
def adam_direction(exp_avg, exp_avg_sq, eps, sqrt_bias_correction2):
    """``m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``, to be scaled by ``lr / (1 - beta1**t)``.

    ``t`` counts steps from 1.
    """
    return exp_avg / (np.sqrt(exp_avg_sq) / sqrt_bias_correction2 + eps)


@njit(inline="always")
def adagrad_direction(d, total, eps):
    """``d / (sqrt(sum of squares) + eps)``."""
    return d / (np.sqrt(total) + eps)
