"""Adadelta (Zeiler 2012) as ``torch.optim.Adadelta``.

``d = g + weight_decay*p``; ``s = rho*s + (1-rho)*d**2``;
``delta = sqrt(a + eps)/sqrt(s + eps) * d``; ``a = rho*a + (1-rho)*delta**2``;
``p -= lr*delta``. State: ``square_avg`` (s), ``acc_delta`` (a).
"""

import numpy as np
from numba import njit

from fastopt._kernels.fused import gc_tally
from fastopt._kernels.rules import decayed, ema
from fastopt._validate import check_fraction, check_nonnegative
from fastopt.optimizers.base import Optimizer
from fastopt.optimizers.spec import Hyper, OptimizerSpec, check_lr


@njit(inline="always")
def _coefficients(h, t, lr, c):
    c.lr = lr
    c.wd = h.weight_decay
    c.rho = h.rho
    c.one_minus_rho = 1.0 - h.rho
    c.eps = h.eps


@njit(inline="always")
def _rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    p, g, square_avg, acc_delta = p[lo:hi], g[lo:hi], S[0][lo:hi], S[1][lo:hi]
    dt = p.dtype.type
    lr, wd, rho, omr, eps = dt(c.lr), dt(c.wd), dt(c.rho), dt(c.one_minus_rho), dt(c.eps)
    total = ahead = dt(0.0)
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        s = ema(square_avg[i], d * d, rho, omr)
        a = acc_delta[i]
        delta = np.sqrt(a + eps) / np.sqrt(s + eps) * d
        square_avg[i] = s
        acc_delta[i] = ema(a, delta * delta, rho, omr)
        p[i] -= lr * delta
        total, ahead = gc_tally(what, i, delta, total, ahead, p_other, g_other, back, wd)
    return total, ahead


def _rho(name: str, value: object) -> float:
    return check_fraction(name, value, allow_one=True)


SPEC = OptimizerSpec(
    name="adadelta",
    hyperparameters=(
        Hyper("lr", 1.0, check_lr, kernel=()),
        Hyper("rho", 0.9, _rho),
        Hyper("eps", 1e-6, check_nonnegative),
        Hyper("weight_decay", 0.0, check_nonnegative),
    ),  # fmt: skip
    buffers=lambda hp: ("square_avg", "acc_delta"),
    coefficients=("rho", "one_minus_rho", "eps"),
    fill_coefficients=_coefficients,
    rows=_rows,
    torch="Adadelta",
)


class Adadelta(Optimizer):
    """Adadelta as ``torch.optim.Adadelta``: steps scaled by the ratio of two running RMS.

    ``d = g + weight_decay*p``; ``s = rho*s + (1-rho)*d**2``;
    ``delta = sqrt(a + eps)/sqrt(s + eps) * d``; ``a = rho*a + (1-rho)*delta**2``;
    ``p -= lr*delta``. State: ``square_avg`` (s), ``acc_delta`` (a). With ``gc="update"``,
    ``delta`` is centralized in the step only: ``acc_delta`` is that of ``gc=None``.

    Parameters
    ----------
    lr : float or Schedule, default 1.0
        Scales ``delta`` (torch's default 1.0: Adadelta's own unit-correct step).
    rho : float, default 0.9
        Decay rate of both running averages, in [0, 1].
    eps : float, default 1e-6
        Added inside both square roots, >= 0.
    weight_decay : float, default 0
        L2 penalty added to the gradient, >= 0.
    gc : {None, "grad", "update"}
        Gradient centralization (see :mod:`fastopt.optim`).
    """

    spec = SPEC
