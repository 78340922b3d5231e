"""NAdam (Adam with Nesterov momentum, Dozat 2016) as ``torch.optim.NAdam``.

``d = g + weight_decay*p`` (or, decoupled, ``p *= 1 - lr*weight_decay`` first);
``m = b1*m + (1-b1)*d``; ``v = b2*v + (1-b2)*d**2``; with the momentum schedule
``mu_t = b1*(1 - 0.5*0.96**(t*momentum_decay))`` and ``P_t = mu_1*...*mu_t``:
``p -= lr * ((1-mu_t)/(1-P_t) * d + mu_{t+1}/(1-P_t*mu_{t+1}) * m) / (sqrt(v/(1-b2**t)) + eps)``,
``t`` counted from 1. State: ``exp_avg``, ``exp_avg_sq``.

The product ``P_t`` is torch's ``state["mu_product"]``. Here it rides in the coefficient
record from one step to the next (one multiplication a step) and is recomputed from the step
count whenever the record is new (a loaded state, a grid run's first step); below 2**-60 it is
kept as 0, where ``1 - P`` is 1 either way, so both ways give the same bits. torch keeps it
in the default dtype (float32 unless changed); here it is float64.
"""

import numpy as np
from numba import njit

from fastopt._kernels.fused import gc_tally
from fastopt._kernels.rules import decayed, ema
from fastopt._validate import check_bool, check_nonnegative
from fastopt.optimizers.base import Optimizer
from fastopt.optimizers.spec import Hyper, OptimizerSpec, check_betas, check_lr

MU_PRODUCT_FLOOR = 2.0**-60
"""Below this the product of momentum factors is kept as 0 (``1 - P`` rounds to 1 anyway)."""


@njit(inline="always")
def _mu(beta1, momentum_decay, step):
    """The momentum factor ``mu`` of 1-based step ``step``, as torch computes it."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))


@njit(cache=True)
def mu_product(beta1, momentum_decay, steps):
    """``mu_1 * ... * mu_steps`` (float64), 0 once it falls below ``MU_PRODUCT_FLOOR``."""
    product = 1.0
    for step in range(1, steps + 1):
        product *= _mu(beta1, momentum_decay, step)
        if product < MU_PRODUCT_FLOOR:
            return 0.0
    return product


@njit(inline="always")
def _coefficients(h, t, lr, c):
    step = t + 1
    mu = _mu(h.beta1, h.momentum_decay, step)
    mu_next = _mu(h.beta1, h.momentum_decay, step + 1)
    # c still holds the product of step t's fill if this record took step t: one factor more.
    if t > 0 and c.mu_steps == t:
        product = c.mu_product * mu
        if product < MU_PRODUCT_FLOOR:
            product = 0.0
    else:
        product = mu_product(h.beta1, h.momentum_decay, step)
    c.mu_product = product
    c.mu_steps = step
    decoupled = h.weight_decay if h.decoupled_weight_decay > 0 else 0.0
    c.lr = lr
    c.wd = 0.0 if h.decoupled_weight_decay > 0 else h.weight_decay
    c.beta1 = h.beta1
    c.one_minus_beta1 = 1.0 - h.beta1
    c.beta2 = h.beta2
    c.one_minus_beta2 = 1.0 - h.beta2
    c.eps = h.eps
    c.inv_bias_correction2 = 1.0 / (1.0 - h.beta2**step)
    c.grad_scale = (1.0 - mu) / (1.0 - product)
    c.avg_scale = mu_next / (1.0 - product * mu_next)
    c.decoupled_wd = decoupled
    c.decay = 1.0 - lr * decoupled


@njit(inline="always")
def _rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    p, g, exp_avg, exp_avg_sq = p[lo:hi], g[lo:hi], S[0][lo:hi], S[1][lo:hi]
    dt = p.dtype.type
    lr, wd, eps, inv_bc2 = dt(c.lr), dt(c.wd), dt(c.eps), dt(c.inv_bias_correction2)
    beta1, omb1, beta2, omb2 = dt(c.beta1), dt(c.one_minus_beta1), dt(c.beta2), dt(
        c.one_minus_beta2)  # fmt: skip
    grad_scale, avg_scale = dt(c.grad_scale), dt(c.avg_scale)
    decay, decoupled_wd = dt(c.decay), dt(c.decoupled_wd)
    total = ahead = dt(0.0)
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        m = ema(exp_avg[i], d, beta1, omb1)
        v = ema(exp_avg_sq[i], d * d, beta2, omb2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        # torch: sqrt(v / bias_correction2); the product is within 1 ulp and spares a division.
        u = (grad_scale * d + avg_scale * m) / (np.sqrt(v * inv_bc2) + eps)
        direction = decayed(u, p[i], decoupled_wd)
        p[i] = p[i] * decay - lr * u
        total, ahead = gc_tally(what, i, direction, total, ahead, p_other, g_other, back, wd)
    return total, ahead


SPEC = OptimizerSpec(
    name="nadam",
    hyperparameters=(
        Hyper("lr", 2e-3, check_lr, kernel=()),
        Hyper(
            "betas", (0.9, 0.999), check_betas, kernel=("beta1", "beta2"), axis="pair of numbers"
        ),
        Hyper("eps", 1e-8, check_nonnegative),
        Hyper("weight_decay", 0.0, check_nonnegative),
        Hyper("momentum_decay", 4e-3, check_nonnegative),
        Hyper("decoupled_weight_decay", False, check_bool, axis="bool"),
    ),  # fmt: skip
    buffers=lambda hp: ("exp_avg", "exp_avg_sq"),
    coefficients=(
        "beta1",
        "one_minus_beta1",
        "beta2",
        "one_minus_beta2",
        "eps",
        "inv_bias_correction2",
        "grad_scale",
        "avg_scale",
        "decoupled_wd",
        "decay",
        "mu_product",
        "mu_steps",
    ),  # fmt: skip
    fill_coefficients=_coefficients,
    rows=_rows,
    torch="NAdam",
)


class NAdam(Optimizer):
    """NAdam as ``torch.optim.NAdam``: Adam with Nesterov momentum and a momentum schedule.

    ``d = g + weight_decay*p`` (decoupled: ``p *= 1 - lr*weight_decay`` first, no L2 term);
    ``m = b1*m + (1-b1)*d``; ``v = b2*v + (1-b2)*d**2``;
    ``mu_t = b1*(1 - 0.5*0.96**(t*momentum_decay))``, ``P_t = mu_1*...*mu_t``;
    ``p -= lr*((1-mu_t)/(1-P_t)*d + mu_{t+1}/(1-P_t*mu_{t+1})*m) / (sqrt(v/(1-b2**t)) + eps)``
    with ``t`` counted from 1. State: ``exp_avg``, ``exp_avg_sq`` (torch's ``mu_product`` is
    recomputed from the step count, in float64; torch keeps it in its default dtype).
    With ``gc="update"`` and decoupled decay, the decay joins the direction, as AdamW's.

    Parameters
    ----------
    lr : float or Schedule, default 2e-3
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the two moments, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator (after the square root), >= 0.
    weight_decay : float, default 0
        L2 penalty added to the gradient (or decoupled decay), >= 0.
    momentum_decay : float, default 4e-3
        The momentum schedule's decay ``psi``, >= 0.
    decoupled_weight_decay : bool, default False
        Decay the parameters directly (NAdamW) instead of adding an L2 term.
    gc : {None, "grad", "update"}
        Gradient centralization (see :mod:`fastopt.optim`).
    """

    spec = SPEC
