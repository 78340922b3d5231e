"""Scalar rules shared by several optimizers, inlined into their element loops.

Each optimizer's own rule lives in its module (``fastopt/optimizers/<name>.py``); semantics
follow ``torch.optim``'s single-tensor code, and ``fastopt.reference.optim`` is the
independent NumPy statement of the same rules. All arguments are scalars of one float dtype.
"""

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
def ema(average, value, beta, one_minus_beta):
    """Exponential moving average ``beta*average + (1-beta)*value``."""
    return beta * average + one_minus_beta * value
