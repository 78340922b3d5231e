"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms").

``u = sign(b1*m + (1-b1)*g)``; ``p = p*(1 - lr*weight_decay) - lr*u``;
``m = b2*m + (1-b2)*g``. State: ``exp_avg`` (m). torch has no Lion; this follows the
paper's Program 1 (and lucidrains' ``lion-pytorch``).
"""

import numpy as np
from numba import njit

from fastopt._kernels.fused import gc_tally
from fastopt._kernels.rules import decayed, ema
from fastopt._validate import check_nonnegative
from fastopt.optimizers.base import Optimizer
from fastopt.optimizers.spec import Hyper, OptimizerSpec, check_betas, check_lr


@njit(inline="always")
def _coefficients(h, t, lr, c):
    c.lr = lr
    c.wd = 0.0  # decoupled: no L2 term in the gradient
    c.beta1 = h.beta1
    c.one_minus_beta1 = 1.0 - h.beta1
    c.beta2 = h.beta2
    c.one_minus_beta2 = 1.0 - h.beta2
    c.decoupled_wd = h.weight_decay
    c.decay = 1.0 - lr * h.weight_decay


@njit(inline="always")
def _rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    p, g, exp_avg = p[lo:hi], g[lo:hi], S[0][lo:hi]
    dt = p.dtype.type
    lr, decay, decoupled_wd = dt(c.lr), dt(c.decay), dt(c.decoupled_wd)
    beta1, omb1, beta2, omb2 = dt(c.beta1), dt(c.one_minus_beta1), dt(c.beta2), dt(
        c.one_minus_beta2)  # fmt: skip
    zero = dt(0.0)
    total = ahead = zero
    for i in range(p.shape[0]):
        d = g[i] - d_shift
        m = exp_avg[i]
        u = np.sign(ema(m, d, beta1, omb1))
        exp_avg[i] = ema(m, d, beta2, omb2)
        direction = decayed(u, p[i], decoupled_wd)
        p[i] = p[i] * decay - lr * u
        total, ahead = gc_tally(what, i, direction, total, ahead, p_other, g_other, back, zero)
    return total, ahead


SPEC = OptimizerSpec(
    name="lion",
    hyperparameters=(
        Hyper("lr", 1e-4, check_lr, kernel=()),
        Hyper("betas", (0.9, 0.99), check_betas, kernel=("beta1", "beta2"), axis="pair of numbers"),
        Hyper("weight_decay", 0.0, check_nonnegative),
    ),  # fmt: skip
    buffers=lambda hp: ("exp_avg",),
    coefficients=(
        "beta1",
        "one_minus_beta1",
        "beta2",
        "one_minus_beta2",
        "decoupled_wd",
        "decay",
    ),  # fmt: skip
    fill_coefficients=_coefficients,
    rows=_rows,
)


class Lion(Optimizer):
    """Lion (Chen et al. 2023): the sign of an interpolated momentum, decoupled weight decay.

    ``u = sign(b1*m + (1-b1)*g)``; ``p = p*(1 - lr*weight_decay) - lr*u``;
    ``m = b2*m + (1-b2)*g``. State: ``exp_avg`` (m). Every entry moves by ``lr`` (or 0), so
    the paper advises a learning rate 3-10x below AdamW's and a weight decay 3-10x above.
    With ``gc="update"`` the decay joins the direction, as AdamW's.

    Parameters
    ----------
    lr : float or Schedule, default 1e-4
    betas : (float, float), default (0.9, 0.99)
        ``beta1`` interpolates the update, ``beta2`` decays the momentum; each in [0, 1).
    weight_decay : float, default 0
        Decoupled decay: ``p *= 1 - lr*weight_decay`` each step, >= 0.
    gc : {None, "grad", "update"}
        Gradient centralization (see :mod:`fastopt.optim`).
    """

    spec = SPEC
