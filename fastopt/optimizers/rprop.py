"""Rprop (Riedmiller & Braun 1993, the iRprop- variant) as ``torch.optim.Rprop``.

Per entry, with ``s = sign(g * prev)``: the step size ``eta`` grows by ``etaplus`` where
``s > 0``, shrinks by ``etaminus`` where ``s < 0`` (and the gradient is taken as 0 there),
and is clamped to ``step_sizes``; then ``p -= sign(g) * eta`` and ``prev = g``. State:
``prev`` (zeros), ``step_size`` (starting at ``lr``).

``lr`` is only the starting step size (as in torch, later changes of the learning rate do
nothing); a schedule's value at step 0 is used. For gradient centralization the step
direction is ``u = sign(g) * eta`` of ``p -= 1 * u``. As torch's on the CPU, ``sign`` of NaN
is 0: a NaN gradient leaves its entry where it is.
"""

from numba import njit

from fastopt._kernels.fused import gc_tally
from fastopt._validate import check_nonnegative, check_positive
from fastopt.optimizers.base import Optimizer
from fastopt.optimizers.spec import Hyper, OptimizerSpec, check_lr, check_pair
from fastopt.schedules import Schedule


@njit(inline="always")
def _coefficients(h, t, lr, c):
    c.lr = 1.0  # p -= u: the step sizes live in the state (GC gives back mean(u))
    c.wd = 0.0
    c.etaminus = h.etaminus
    c.etaplus = h.etaplus
    c.step_size_min = h.step_size_min
    c.step_size_max = h.step_size_max


@njit(inline="always")
def _rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    p, g, prev, step_size = p[lo:hi], g[lo:hi], S[0][lo:hi], S[1][lo:hi]
    dt = p.dtype.type
    etaminus, etaplus = dt(c.etaminus), dt(c.etaplus)
    low, high = dt(c.step_size_min), dt(c.step_size_max)
    zero, one = dt(0.0), dt(1.0)
    total = ahead = dt(0.0)
    for i in range(p.shape[0]):
        d = g[i] - d_shift
        agreement = d * prev[i]
        # torch's sign is (x > 0) - (x < 0) on the CPU, 0 for NaN: a NaN agreement keeps the
        # step size, a NaN gradient does not move p (and is kept as prev).
        factor = etaplus if agreement > 0 else (etaminus if agreement < 0 else one)
        eta = step_size[i] * factor
        eta = low if eta < low else (high if eta > high else eta)
        step_size[i] = eta
        if agreement < 0:
            d = zero
        u = (dt(d > 0) - dt(d < 0)) * eta
        prev[i] = d
        p[i] -= u
        total, ahead = gc_tally(what, i, u, total, ahead, p_other, g_other, back, zero)
    return total, ahead


def _etas(name: str, value: object) -> tuple[float, float]:
    minus, plus = check_pair(name, value, "etaminus, etaplus", check_positive, check_positive)
    if not minus < 1.0 < plus:
        raise ValueError(f"{name} must satisfy 0 < etaminus < 1 < etaplus, got {value!r}")
    return minus, plus


def _step_sizes(name: str, value: object) -> tuple[float, float]:
    low, high = check_pair(name, value, "min, max", check_nonnegative, check_positive)
    if low > high:
        raise ValueError(f"{name} must satisfy min <= max, got {value!r}")
    return low, high


def _initial(hp: dict) -> tuple[float, float]:
    lr = hp["lr"]
    return 0.0, float(lr(0) if isinstance(lr, Schedule) else lr)


SPEC = OptimizerSpec(
    name="rprop",
    hyperparameters=(
        Hyper("lr", 1e-2, check_lr, kernel=()),
        Hyper("etas", (0.5, 1.2), _etas, kernel=("etaminus", "etaplus"), axis="pair of numbers"),
        Hyper(
            "step_sizes",
            (1e-6, 50.0),
            _step_sizes,
            kernel=("step_size_min", "step_size_max"),
            axis="pair of numbers",
        ),
    ),  # fmt: skip
    buffers=lambda hp: ("prev", "step_size"),
    coefficients=("etaminus", "etaplus", "step_size_min", "step_size_max"),
    fill_coefficients=_coefficients,
    rows=_rows,
    initial=_initial,
    torch="Rprop",
)


class Rprop(Optimizer):
    """Rprop as ``torch.optim.Rprop``: a step size per entry, grown or shrunk by sign agreement.

    With ``s = sign(g * prev)``: ``eta *= etaplus`` where ``s > 0``, ``eta *= etaminus`` and
    ``g = 0`` where ``s < 0``; ``eta`` is clamped to ``step_sizes``; ``p -= sign(g) * eta``;
    ``prev = g``. State: ``prev`` (zeros), ``step_size`` (``lr`` at first). Full-batch
    gradients suit it; it has no weight decay (as torch's).

    Parameters
    ----------
    lr : float or Schedule, default 1e-2
        The starting step size, > 0 (a schedule: its value at step 0; later values, as
        torch's later learning rates, are not used).
    etas : (float, float), default (0.5, 1.2)
        ``(etaminus, etaplus)``, with ``0 < etaminus < 1 < etaplus``.
    step_sizes : (float, float), default (1e-6, 50)
        The least and largest step size, ``0 <= min <= max``.
    gc : {None, "grad", "update"}
        Gradient centralization (see :mod:`fastopt.optim`): ``"grad"`` centralizes ``g``
        before the sign test, ``"update"`` the step ``sign(g) * eta``.
    """

    spec = SPEC
