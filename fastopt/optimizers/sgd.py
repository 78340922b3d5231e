"""SGD with optional (Nesterov) momentum, as ``torch.optim.SGD``; ``Momentum`` is its variant.

``d = g + weight_decay*p``; with momentum, ``buf = d`` on the first step and
``momentum*buf + (1-dampening)*d`` after, and ``d = d + momentum*buf`` (Nesterov) or ``buf``;
then ``p -= lr*d``. State: ``momentum_buffer`` when ``momentum != 0``.
"""

from numba import njit

from fastopt._kernels.fused import gc_tally
from fastopt._kernels.rules import decayed
from fastopt._validate import check_bool, check_fraction, check_nonnegative
from fastopt.optimizers.base import Optimizer
from fastopt.optimizers.spec import REQUIRED, Hyper, OptimizerSpec, check_lr


@njit(inline="always")
def _coefficients(h, t, lr, c):
    c.lr = lr
    c.wd = h.weight_decay
    c.momentum = h.momentum
    # buf = buffer_decay*buf + gradient_scale*d: torch's buf = d on the first step, without a
    # branch in the loop (a load of buf under a condition keeps the GC loops scalar: 2.7x).
    c.buffer_decay = 0.0 if t == 0 else h.momentum
    c.gradient_scale = 1.0 if t == 0 else 1.0 - h.dampening
    c.nesterov = h.nesterov


@njit(inline="always")
def _loop(p, g, buf, c, d_shift, has_momentum, what, p_other, g_other, back):
    # has_momentum (as what) is a literal at each call site: every loop is straight-line code
    # that LLVM vectorizes (a runtime flag, or a placeholder row aliasing p, keeps it scalar).
    dt = p.dtype.type
    lr, wd, momentum, nesterov = dt(c.lr), dt(c.wd), dt(c.momentum), c.nesterov > 0
    buffer_decay, gradient_scale = dt(c.buffer_decay), dt(c.gradient_scale)
    total = ahead = dt(0.0)
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        if has_momentum:
            b = buffer_decay * buf[i] + gradient_scale * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] -= lr * d
        total, ahead = gc_tally(what, i, d, total, ahead, p_other, g_other, back, wd)
    return total, ahead


@njit(inline="always")
def _rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    p, g = p[lo:hi], g[lo:hi]
    if c.momentum != 0:
        return _loop(p, g, S[0][lo:hi], c, d_shift, True, what, p_other, g_other, back)
    return _loop(p, g, p, c, d_shift, False, what, p_other, g_other, back)


def _check(hp: dict) -> None:
    if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
        raise ValueError("nesterov needs momentum > 0 and dampening == 0")


SPEC = OptimizerSpec(
    name="sgd",
    hyperparameters=(
        Hyper("lr", REQUIRED, check_lr, kernel=()),
        Hyper("momentum", 0.0, check_nonnegative),
        Hyper("dampening", 0.0, lambda n, v: check_fraction(n, v, allow_one=True)),
        Hyper("nesterov", False, check_bool, axis="bool"),
        Hyper("weight_decay", 0.0, check_nonnegative),
    ),  # fmt: skip
    buffers=lambda hp: ("momentum_buffer",) if hp["momentum"] != 0 else (),
    coefficients=("momentum", "buffer_decay", "gradient_scale", "nesterov"),
    fill_coefficients=_coefficients,
    rows=_rows,
    check=_check,
    torch="SGD",
)

MOMENTUM = SPEC.variant("momentum", defaults={"momentum": 0.9})


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    ``d = g + weight_decay*p``; with momentum, ``buf = d`` on the first step and
    ``momentum*buf + (1-dampening)*d`` after, and ``d = d + momentum*buf`` (Nesterov) or
    ``buf``; then ``p -= lr*d``. State: ``momentum_buffer`` when ``momentum != 0``.

    Parameters
    ----------
    lr : float or Schedule
        Learning rate, > 0 (required).
    momentum : float, default 0
        Momentum factor, >= 0.
    dampening : float, default 0
        Dampening of the momentum, in [0, 1].
    nesterov : bool, default False
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    weight_decay : float, default 0
        L2 penalty added to the gradient, >= 0.
    gc : {None, "grad", "update"}
        Gradient centralization (see :mod:`fastopt.optim`).
    """

    spec = SPEC


class Momentum(Optimizer):
    """SGD with momentum 0.9 by default: ``Momentum(lr=0.01)`` reads better than ``SGD(...)``.

    The same update and parameters as :class:`SGD`, under its own name ``"momentum"``: a
    state it makes (or saves) belongs to a ``Momentum`` and is refused by an ``SGD``, and the
    other way round.
    """

    spec = MOMENTUM
