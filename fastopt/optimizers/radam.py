"""RAdam (Liu et al. 2020, rectified Adam) as ``torch.optim.RAdam``.

``d = g + weight_decay*p`` (or, decoupled, ``p *= 1 - lr*weight_decay`` first);
``m = b1*m + (1-b1)*d``; ``v = b2*v + (1-b2)*d**2``; ``rho_inf = 2/(1-b2) - 1``,
``rho_t = rho_inf - 2*t*b2**t/(1-b2**t)``; while ``rho_t <= 5`` the step is momentum alone,
``p -= lr * m/(1-b1**t)``; after, ``p -= lr * m/(1-b1**t) * r_t * sqrt(1-b2**t)/(sqrt(v) + eps)``
with ``r_t = sqrt((rho_t-4)(rho_t-2)rho_inf / ((rho_inf-4)(rho_inf-2)rho_t))``; ``t`` counted
from 1. State: ``exp_avg``, ``exp_avg_sq``.
"""

import numpy as np
from numba import njit

from fastopt._kernels.fused import gc_tally
from fastopt._kernels.rules import decayed, ema
from fastopt._validate import check_bool, check_nonnegative
from fastopt.optimizers.base import Optimizer
from fastopt.optimizers.spec import Hyper, OptimizerSpec, check_betas, check_lr


@njit(inline="always")
def _coefficients(h, t, lr, c):
    step = t + 1
    bias_correction1 = 1.0 - h.beta1**step
    bias_correction2 = 1.0 - h.beta2**step
    rho_inf = 2.0 / (1.0 - h.beta2) - 1.0
    rho_t = rho_inf - 2.0 * step * h.beta2**step / bias_correction2
    decoupled = h.weight_decay if h.decoupled_weight_decay > 0 else 0.0
    c.lr = lr
    c.wd = 0.0 if h.decoupled_weight_decay > 0 else h.weight_decay
    c.beta1 = h.beta1
    c.one_minus_beta1 = 1.0 - h.beta1
    c.beta2 = h.beta2
    c.one_minus_beta2 = 1.0 - h.beta2
    c.eps = h.eps
    c.inv_bias_correction1 = 1.0 / bias_correction1
    c.rectified = 1.0 if rho_t > 5.0 else 0.0
    c.adaptive_scale = 0.0
    if rho_t > 5.0:
        rect = np.sqrt(
            (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
        )
        c.adaptive_scale = rect * np.sqrt(bias_correction2)
    c.decoupled_wd = decoupled
    c.decay = 1.0 - lr * decoupled


@njit(inline="always")
def _loop(p, g, exp_avg, exp_avg_sq, c, d_shift, rectified, what, p_other, g_other, back):
    # rectified (as what) is a literal at each call site (see sgd._loop).
    dt = p.dtype.type
    lr, wd, eps, inv_bc1 = dt(c.lr), dt(c.wd), dt(c.eps), dt(c.inv_bias_correction1)
    beta1, omb1, beta2, omb2 = dt(c.beta1), dt(c.one_minus_beta1), dt(c.beta2), dt(
        c.one_minus_beta2)  # fmt: skip
    adaptive_scale, decay, decoupled_wd = dt(c.adaptive_scale), dt(c.decay), dt(c.decoupled_wd)
    total = ahead = dt(0.0)
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        m = ema(exp_avg[i], d, beta1, omb1)
        v = ema(exp_avg_sq[i], d * d, beta2, omb2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        u = m * inv_bc1
        if rectified:
            u = u * (adaptive_scale / (np.sqrt(v) + eps))
        direction = decayed(u, p[i], decoupled_wd)
        p[i] = p[i] * decay - lr * u
        total, ahead = gc_tally(what, i, direction, total, ahead, p_other, g_other, back, wd)
    return total, ahead


@njit(inline="always")
def _rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    p, g, exp_avg, exp_avg_sq = p[lo:hi], g[lo:hi], S[0][lo:hi], S[1][lo:hi]
    if c.rectified > 0:
        return _loop(p, g, exp_avg, exp_avg_sq, c, d_shift, True, what, p_other, g_other, back)
    return _loop(p, g, exp_avg, exp_avg_sq, c, d_shift, False, what, p_other, g_other, back)


SPEC = OptimizerSpec(
    name="radam",
    hyperparameters=(
        Hyper("lr", 1e-3, check_lr, kernel=()),
        Hyper(
            "betas", (0.9, 0.999), check_betas, kernel=("beta1", "beta2"), axis="pair of numbers"
        ),
        Hyper("eps", 1e-8, check_nonnegative),
        Hyper("weight_decay", 0.0, check_nonnegative),
        Hyper("decoupled_weight_decay", False, check_bool, axis="bool"),
    ),  # fmt: skip
    buffers=lambda hp: ("exp_avg", "exp_avg_sq"),
    coefficients=(
        "beta1",
        "one_minus_beta1",
        "beta2",
        "one_minus_beta2",
        "eps",
        "inv_bias_correction1",
        "rectified",
        "adaptive_scale",
        "decoupled_wd",
        "decay",
    ),  # fmt: skip
    fill_coefficients=_coefficients,
    rows=_rows,
    torch="RAdam",
)


class RAdam(Optimizer):
    """RAdam as ``torch.optim.RAdam``: Adam whose adaptive step is rectified, then switched on.

    ``d = g + weight_decay*p`` (decoupled: ``p *= 1 - lr*weight_decay`` first, no L2 term);
    ``m = b1*m + (1-b1)*d``; ``v = b2*v + (1-b2)*d**2``; ``rho_inf = 2/(1-b2) - 1``,
    ``rho_t = rho_inf - 2*t*b2**t/(1-b2**t)``. While ``rho_t <= 5``: ``p -= lr*m/(1-b1**t)``;
    after: ``p -= lr*m/(1-b1**t) * r_t*sqrt(1-b2**t)/(sqrt(v) + eps)``, with
    ``r_t = sqrt((rho_t-4)(rho_t-2)rho_inf/((rho_inf-4)(rho_inf-2)rho_t))``; ``t`` counted from
    1 (with the default betas the adaptive step starts at ``t = 6``). State: ``exp_avg``,
    ``exp_avg_sq``. As torch's for-loop code, not the paper's: the switch is at
    ``rho_t > 5`` (the paper's ``> 4``), and ``eps`` is added to ``sqrt(v)`` before the bias
    correction. With ``gc="update"`` and decoupled decay, the decay joins the direction,
    as AdamW's.

    Parameters
    ----------
    lr : float or Schedule, default 1e-3
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the two moments, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator (after the square root), >= 0.
    weight_decay : float, default 0
        L2 penalty added to the gradient (or decoupled decay), >= 0.
    decoupled_weight_decay : bool, default False
        Decay the parameters directly (as AdamW) instead of adding an L2 term.
    gc : {None, "grad", "update"}
        Gradient centralization (see :mod:`fastopt.optim`).
    """

    spec = SPEC
