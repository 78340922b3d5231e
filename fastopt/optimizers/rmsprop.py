"""RMSprop as ``torch.optim.RMSprop``: eps is added after the square root.

``d = g + weight_decay*p``; ``square_avg = alpha*square_avg + (1-alpha)*d**2``; centered:
``grad_avg = alpha*grad_avg + (1-alpha)*d`` and ``avg = sqrt(square_avg - grad_avg**2) + eps``,
else ``avg = sqrt(square_avg) + eps``; with momentum ``buf = momentum*buf + d/avg`` and
``p -= lr*buf``, else ``p -= lr*d/avg``. State: ``square_avg``, then ``momentum_buffer``
(momentum > 0), then ``grad_avg`` (centered).
"""

import numpy as np
from numba import njit

from fastopt._kernels.fused import gc_tally
from fastopt._kernels.rules import decayed, ema
from fastopt._validate import check_bool, check_fraction, check_nonnegative
from fastopt.optimizers.base import Optimizer
from fastopt.optimizers.spec import Hyper, OptimizerSpec, check_lr


@njit(inline="always")
def _coefficients(h, t, lr, c):
    c.lr = lr
    c.wd = h.weight_decay
    c.alpha = h.alpha
    c.one_minus_alpha = 1.0 - h.alpha
    c.eps = h.eps
    c.momentum = h.momentum
    c.centered = h.centered


@njit(inline="always")
def _loop(p, g, square_avg, buf, grad_avg, c, d_shift, centered, has_momentum, what,
          p_other, g_other, back):  # fmt: skip
    # centered and has_momentum are literals at each call site (see sgd._loop).
    dt = p.dtype.type
    lr, wd, eps, momentum = dt(c.lr), dt(c.wd), dt(c.eps), dt(c.momentum)
    alpha, oma = dt(c.alpha), dt(c.one_minus_alpha)
    total = ahead = dt(0.0)
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        sq = ema(square_avg[i], d * d, alpha, oma)
        square_avg[i] = sq
        if centered:
            ga = ema(grad_avg[i], d, alpha, oma)
            grad_avg[i] = ga
            u = d / (np.sqrt(sq - ga * ga) + eps)
        else:
            u = d / (np.sqrt(sq) + eps)
        if has_momentum:
            u = momentum * buf[i] + u
            buf[i] = u
        p[i] -= lr * u
        total, ahead = gc_tally(what, i, u, total, ahead, p_other, g_other, back, wd)
    return total, ahead


@njit(inline="always")
def _rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    p, g = p[lo:hi], g[lo:hi]
    sq = S[0][lo:hi]
    if c.momentum > 0:
        buf = S[1][lo:hi]
        if c.centered > 0:
            return _loop(
                p, g, sq, buf, S[2][lo:hi], c, d_shift, True, True, what, p_other, g_other, back
            )
        return _loop(p, g, sq, buf, sq, c, d_shift, False, True, what, p_other, g_other, back)
    if c.centered > 0:
        return _loop(
            p, g, sq, sq, S[1][lo:hi], c, d_shift, True, False, what, p_other, g_other, back
        )
    return _loop(p, g, sq, sq, sq, c, d_shift, False, False, what, p_other, g_other, back)


def _buffers(hp: dict) -> tuple[str, ...]:
    names = ["square_avg"]
    if hp["momentum"] > 0:
        names.append("momentum_buffer")
    if hp["centered"]:
        names.append("grad_avg")
    return tuple(names)


SPEC = OptimizerSpec(
    name="rmsprop",
    hyperparameters=(
        Hyper("lr", 0.01, check_lr, kernel=()),
        Hyper("alpha", 0.99, check_fraction),
        Hyper("eps", 1e-8, check_nonnegative),
        Hyper("weight_decay", 0.0, check_nonnegative),
        Hyper("momentum", 0.0, check_nonnegative),
        Hyper("centered", False, check_bool, axis="bool"),
    ),  # fmt: skip
    buffers=_buffers,
    coefficients=("alpha", "one_minus_alpha", "eps", "momentum", "centered"),
    fill_coefficients=_coefficients,
    rows=_rows,
    torch="RMSprop",
)


class RMSprop(Optimizer):
    """RMSprop as ``torch.optim.RMSprop``: eps is added after the square root.

    ``d = g + weight_decay*p``; ``square_avg = alpha*square_avg + (1-alpha)*d**2``;
    centered: ``grad_avg = alpha*grad_avg + (1-alpha)*d`` and
    ``avg = sqrt(square_avg - grad_avg**2) + eps``, else ``avg = sqrt(square_avg) + eps``;
    with momentum ``buf = momentum*buf + d/avg`` and ``p -= lr*buf``, else ``p -= lr*d/avg``.
    State: ``square_avg``, then ``momentum_buffer`` (momentum > 0), then ``grad_avg``
    (centered).

    Parameters
    ----------
    lr : float or Schedule, default 0.01
    alpha : float, default 0.99
        Smoothing constant, in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, >= 0.
    weight_decay : float, default 0
        L2 penalty added to the gradient, >= 0.
    momentum : float, default 0
        Momentum factor, >= 0.
    centered : bool, default False
        Normalize by the gradient's estimated variance.
    gc : {None, "grad", "update"}
        Gradient centralization (see :mod:`fastopt.optim`).
    """

    spec = SPEC
