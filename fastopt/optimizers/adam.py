"""Adam as ``torch.optim.Adam``, and ``AdamW`` (decoupled weight decay) as its variant.

``d = g + weight_decay*p`` (Adam) or ``p *= 1 - lr*weight_decay`` first (AdamW);
``m = b1*m + (1-b1)*d``; ``v = b2*v + (1-b2)*d**2`` (AMSGrad: ``v_max = max(v_max, v)`` used in
place of ``v``); ``p -= lr/(1-b1**t) * m / (sqrt(v)/sqrt(1-b2**t) + eps)``, ``t`` counted
from 1. State: ``exp_avg``, ``exp_avg_sq`` and, with AMSGrad, ``max_exp_avg_sq``.
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
    bias_correction1 = 1.0 - h.beta1 ** (t + 1)
    bias_correction2 = 1.0 - h.beta2 ** (t + 1)
    decoupled = h.weight_decay if h.decoupled > 0 else 0.0
    c.lr = lr
    c.wd = 0.0 if h.decoupled > 0 else h.weight_decay
    c.beta1 = h.beta1
    c.one_minus_beta1 = 1.0 - h.beta1
    c.beta2 = h.beta2
    c.one_minus_beta2 = 1.0 - h.beta2
    c.eps = h.eps
    c.step_size = lr / bias_correction1
    c.bias_correction1 = bias_correction1
    c.inv_sqrt_bias_correction2 = 1.0 / np.sqrt(bias_correction2)
    c.decoupled_wd = decoupled
    c.decay = 1.0 - lr * decoupled
    c.amsgrad = h.amsgrad


@njit(inline="always")
def _loop(p, g, exp_avg, exp_avg_sq, max_sq, c, d_shift, amsgrad, what, p_other, g_other, back):
    # amsgrad (as what) is a literal at each call site (see sgd._loop).
    dt = p.dtype.type
    wd, eps, inv_sqrt_bc2 = dt(c.wd), dt(c.eps), dt(c.inv_sqrt_bias_correction2)
    beta1, omb1, beta2, omb2 = dt(c.beta1), dt(c.one_minus_beta1), dt(c.beta2), dt(
        c.one_minus_beta2)  # fmt: skip
    step_size, decay = dt(c.step_size), dt(c.decay)
    bias_correction1, decoupled_wd = dt(c.bias_correction1), dt(c.decoupled_wd)
    total = ahead = dt(0.0)
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        m = ema(exp_avg[i], d, beta1, omb1)
        v = ema(exp_avg_sq[i], d * d, beta2, omb2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = np.maximum(max_sq[i], v)  # NaN-propagating, as torch.maximum
            max_sq[i] = v
        # torch divides by sqrt(bias_correction2); a product is within 1 ulp of it and
        # spares a division (the step's throughput bound on cached data: sqrt and divisions).
        u = m / (np.sqrt(v) * inv_sqrt_bc2 + eps)
        # The step is lr * (u / bias_correction1 + decoupled_wd * p): its direction.
        direction = decayed(u / bias_correction1, p[i], decoupled_wd)
        p[i] = p[i] * decay - step_size * u
        total, ahead = gc_tally(what, i, direction, total, ahead, p_other, g_other, back, wd)
    return total, ahead


@njit(inline="always")
def _rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    p, g = p[lo:hi], g[lo:hi]
    exp_avg, exp_avg_sq = S[0][lo:hi], S[1][lo:hi]
    if c.amsgrad > 0:
        return _loop(
            p, g, exp_avg, exp_avg_sq, S[2][lo:hi], c, d_shift, True, what, p_other, g_other, back
        )
    return _loop(
        p, g, exp_avg, exp_avg_sq, exp_avg_sq, c, d_shift, False, what, p_other, g_other, back
    )


SPEC = OptimizerSpec(
    name="adam",
    hyperparameters=(
        Hyper("lr", 1e-3, check_lr, kernel=()),
        Hyper(
            "betas", (0.9, 0.999), check_betas, kernel=("beta1", "beta2"), axis="pair of numbers"
        ),
        Hyper("eps", 1e-8, check_nonnegative),
        Hyper("weight_decay", 0.0, check_nonnegative),
        Hyper("amsgrad", False, check_bool, axis="bool"),
    ),  # fmt: skip
    buffers=lambda hp: ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if hp["amsgrad"] else ()),
    coefficients=(
        "beta1",
        "one_minus_beta1",
        "beta2",
        "one_minus_beta2",
        "eps",
        "step_size",
        "bias_correction1",
        "inv_sqrt_bias_correction2",
        "decoupled_wd",
        "decay",
        "amsgrad",
    ),  # fmt: skip
    fill_coefficients=_coefficients,
    rows=_rows,
    constants={"decoupled": 0.0},
    torch="Adam",
)

ADAMW = SPEC.variant("adamw", defaults={"weight_decay": 1e-2}, constants={"decoupled": 1.0},
                     torch="AdamW")  # fmt: skip


class Adam(Optimizer):
    """Adam as ``torch.optim.Adam`` (L2 weight decay added to the gradient).

    ``d = g + weight_decay*p``; ``m = b1*m + (1-b1)*d``; ``v = b2*v + (1-b2)*d**2``;
    (AMSGrad: ``v_max = max(v_max, v)`` used in place of ``v``);
    ``p -= lr/(1-b1**t) * m / (sqrt(v)/sqrt(1-b2**t) + eps)`` with ``t`` counted from 1.
    State: ``exp_avg``, ``exp_avg_sq`` and, with AMSGrad, ``max_exp_avg_sq``.

    Parameters
    ----------
    lr : float or Schedule, default 1e-3
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the two moments, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator (after the square root), >= 0.
    weight_decay : float, default 0
        L2 penalty added to the gradient, >= 0.
    amsgrad : bool, default False
        Use the maximum of the second moments (AMSGrad).
    gc : {None, "grad", "update"}
        Gradient centralization (see :mod:`fastopt.optim`).
    """

    spec = SPEC


class AdamW(Optimizer):
    """AdamW as ``torch.optim.AdamW``: Adam with decoupled weight decay (default 1e-2).

    ``p *= 1 - lr*weight_decay`` before the Adam step, and no L2 term in the gradient. With
    ``gc="update"`` the decay joins the centralized direction: ``u = adam_u + weight_decay*p``.
    Parameters as :class:`Adam`.
    """

    spec = ADAMW
