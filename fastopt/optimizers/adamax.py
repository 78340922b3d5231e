"""Adamax (Kingma & Ba 2015, Adam's infinity-norm variant) as ``torch.optim.Adamax``.

``d = g + weight_decay*p``; ``m = b1*m + (1-b1)*d``; ``u = max(b2*u, |d| + eps)``;
``p -= lr/(1-b1**t) * m/u``, ``t`` counted from 1. State: ``exp_avg``, ``exp_inf``.
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
    bias_correction = 1.0 - h.beta1 ** (t + 1)
    c.lr = lr
    c.wd = h.weight_decay
    c.beta1 = h.beta1
    c.one_minus_beta1 = 1.0 - h.beta1
    c.beta2 = h.beta2
    c.eps = h.eps
    c.step_size = lr / bias_correction
    c.inv_bias_correction = 1.0 / bias_correction


@njit(inline="always")
def _rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    p, g, exp_avg, exp_inf = p[lo:hi], g[lo:hi], S[0][lo:hi], S[1][lo:hi]
    dt = p.dtype.type
    wd, eps, beta1, omb1, beta2 = dt(c.wd), dt(c.eps), dt(c.beta1), dt(c.one_minus_beta1), dt(
        c.beta2)  # fmt: skip
    step_size, inv_bc = dt(c.step_size), dt(c.inv_bias_correction)
    total = ahead = dt(0.0)
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        m = ema(exp_avg[i], d, beta1, omb1)
        norm = np.maximum(beta2 * exp_inf[i], np.abs(d) + eps)  # NaN-propagating, as torch
        exp_avg[i] = m
        exp_inf[i] = norm
        ratio = m / norm
        p[i] -= step_size * ratio
        total, ahead = gc_tally(what, i, ratio * inv_bc, total, ahead, p_other, g_other, back, wd)
    return total, ahead


SPEC = OptimizerSpec(
    name="adamax",
    hyperparameters=(
        Hyper("lr", 2e-3, check_lr, kernel=()),
        Hyper(
            "betas", (0.9, 0.999), check_betas, kernel=("beta1", "beta2"), axis="pair of numbers"
        ),
        Hyper("eps", 1e-8, check_nonnegative),
        Hyper("weight_decay", 0.0, check_nonnegative),
    ),  # fmt: skip
    buffers=lambda hp: ("exp_avg", "exp_inf"),
    coefficients=("beta1", "one_minus_beta1", "beta2", "eps", "step_size", "inv_bias_correction"),
    fill_coefficients=_coefficients,
    rows=_rows,
    torch="Adamax",
)


class Adamax(Optimizer):
    """Adamax as ``torch.optim.Adamax``: Adam with an infinity norm in place of ``v``.

    ``d = g + weight_decay*p``; ``m = b1*m + (1-b1)*d``; ``u = max(b2*u, |d| + eps)``;
    ``p -= lr/(1-b1**t) * m/u`` with ``t`` counted from 1. State: ``exp_avg``, ``exp_inf``.

    Parameters
    ----------
    lr : float or Schedule, default 2e-3
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the moment and of the infinity norm, each in [0, 1).
    eps : float, default 1e-8
        Added to ``|d|`` inside the maximum, >= 0.
    weight_decay : float, default 0
        L2 penalty added to the gradient, >= 0.
    gc : {None, "grad", "update"}
        Gradient centralization (see :mod:`fastopt.optim`).
    """

    spec = SPEC
