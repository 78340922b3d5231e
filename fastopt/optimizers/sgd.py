"""SGD with optional (Nesterov) momentum, as ``torch.optim.SGD``; ``Momentum`` is its variant.

``d = g + weight_decay*p``; with momentum, ``buf = d`` on the first step and
``momentum*buf + (1-dampening)*d`` after, and ``d = d + momentum*buf`` (Nesterov) or ``buf``;
then ``p -= lr*d``. State: ``momentum_buffer`` when ``momentum != 0``.
"""

from numba import njit

from fastopt._kernels.rules import decayed
from fastopt._validate import check_bool, check_fraction, check_nonnegative
from fastopt.optimizers.base import Optimizer
from fastopt.optimizers.spec import REQUIRED, Hyper, OptimizerSpec, check_lr


@njit(inline="always")
def _coefficients(h, t, lr, c):
    c.lr = lr
    c.wd = h.weight_decay
    c.momentum = h.momentum
    c.one_minus_dampening = 1.0 - h.dampening
    c.nesterov = h.nesterov
    c.first = 1.0 if t == 0 else 0.0


@njit(inline="always")
def _loop(p, g, buf, c, d_shift, has_momentum):
    # has_momentum is a literal at each call site: both loops are straight-line code that
    # LLVM vectorizes (a runtime flag, or a placeholder row aliasing p, keeps them scalar).
    dt = p.dtype.type
    lr, wd, momentum, omd = dt(c.lr), dt(c.wd), dt(c.momentum), dt(c.one_minus_dampening)
    nesterov, first = c.nesterov > 0, c.first > 0
    total = 0.0
    for i in range(p.shape[0]):
        d = decayed(g[i], p[i], wd) - d_shift
        if has_momentum:
            b = d if first else momentum * buf[i] + omd * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] -= lr * d
        total += d
    return total


@njit(inline="always")
def _rows(c, p, g, S, lo, hi, d_shift):
    p, g = p[lo:hi], g[lo:hi]
    if c.momentum != 0:
        return _loop(p, g, S[0][lo:hi], c, d_shift, True)
    return _loop(p, g, p, c, d_shift, False)


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
    coefficients=("momentum", "one_minus_dampening", "nesterov", "first"),
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
