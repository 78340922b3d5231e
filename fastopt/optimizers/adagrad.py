"""Adagrad as ``torch.optim.Adagrad``.

``clr = lr / (1 + (t-1)*lr_decay)``; ``d = g + weight_decay*p``; ``sum += d**2``;
``p -= clr * d / (sqrt(sum) + eps)``. State: ``sum``, starting at
``initial_accumulator_value``.
"""

import numpy as np
from numba import njit

from fastopt._kernels.fused import gc_tally
from fastopt._kernels.rules import decayed
from fastopt._validate import check_nonnegative
from fastopt.optimizers.base import Optimizer
from fastopt.optimizers.spec import Hyper, OptimizerSpec, check_lr


@njit(inline="always")
def _coefficients(h, t, lr, c):
    c.lr = lr / (1.0 + t * h.lr_decay)
    c.wd = h.weight_decay
    c.eps = h.eps


@njit(inline="always")
def _rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    p, g, sums = p[lo:hi], g[lo:hi], S[0][lo:hi]
    dt = p.dtype.type
    clr, wd, eps = dt(c.lr), dt(c.wd), dt(c.eps)
    total = ahead = dt(0.0)
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        s = sums[i] + d * d
        sums[i] = s
        u = d / (np.sqrt(s) + eps)
        p[i] -= clr * u
        total, ahead = gc_tally(what, i, u, total, ahead, p_other, g_other, back, wd)
    return total, ahead


SPEC = OptimizerSpec(
    name="adagrad",
    hyperparameters=(
        Hyper("lr", 1e-2, check_lr, kernel=()),
        Hyper("lr_decay", 0.0, check_nonnegative),
        Hyper("weight_decay", 0.0, check_nonnegative),
        Hyper("initial_accumulator_value", 0.0, check_nonnegative, kernel=()),
        Hyper("eps", 1e-10, check_nonnegative),
    ),  # fmt: skip
    buffers=lambda hp: ("sum",),
    initial=lambda hp: (hp["initial_accumulator_value"],),
    coefficients=("eps",),
    fill_coefficients=_coefficients,
    rows=_rows,
    torch="Adagrad",
)


class Adagrad(Optimizer):
    """Adagrad as ``torch.optim.Adagrad``.

    ``clr = lr / (1 + (t-1)*lr_decay)``; ``d = g + weight_decay*p``; ``sum += d**2``;
    ``p -= clr * d / (sqrt(sum) + eps)``. State: ``sum``, starting at
    ``initial_accumulator_value``.

    Parameters
    ----------
    lr : float or Schedule, default 1e-2
    lr_decay : float, default 0
        Learning-rate decay per step, >= 0.
    weight_decay : float, default 0
        L2 penalty added to the gradient, >= 0.
    initial_accumulator_value : float, default 0
        Starting value of the sum of squares, >= 0.
    eps : float, default 1e-10
        Added to the denominator, >= 0.
    gc : {None, "grad", "update"}
        Gradient centralization (see :mod:`fastopt.optim`).
    """

    spec = SPEC
