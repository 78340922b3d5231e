"""Lookahead (Zhang et al. 2019) around any fused optimizer, and Ranger as its preset.

``Lookahead(inner, k=5, alpha=0.5)`` keeps slow weights, a copy of the parameters at
``init``. The inner optimizer steps the (fast) parameters; after every ``k``-th step the slow
weights move ``alpha`` of the way to the fast ones, ``slow += alpha*(p - slow)``, and the
fast ones restart from them, ``p = slow``.

Each inner spec gets a spec of its own (:func:`lookahead_spec`): the inner's hyperparameters,
buffers and element loop, plus ``lookahead_k`` and ``lookahead_alpha`` and the buffer
``slow_params`` after the inner's. The synchronization is the chunk epilogue of the fused
drivers (``fused.register``'s ``finish``): it runs on each chunk right after that chunk's
step, while it is in cache, and after the chunk's GC give-backs (a sync inside the element
loop would come before them). On the steps between, the epilogue is one test of a flag.
So a Lookahead optimizer is an optimizer like any other: flat state saved and loaded, grid
runs by name (``"lookahead_adam"``), ``fastopt.torch`` classes.

Ranger is Lookahead(RAdam) with the GC authors' defaults (``k=6``, ``alpha=0.5``,
``betas=(0.95, 0.999)``, ``eps=1e-5``, ``gc="grad"``), with torch's RAdam update.
"""

from __future__ import annotations

import functools

from numba import njit

from fastopt._validate import check_int, check_positive
from fastopt.optimizers.base import Optimizer
from fastopt.optimizers.radam import RAdam
from fastopt.optimizers.spec import PARAMS, Hyper, OptimizerSpec

SLOW = "slow_params"
"""The name of the slow weights' buffer."""


def _check_k(name: str, value: object) -> int:
    return check_int(name, value, 1)


def _check_alpha(name: str, value: object) -> float:
    value = check_positive(name, value)
    if value > 1.0:
        raise ValueError(f"{name} must lie in (0, 1], got {value!r}")
    return value


@njit(inline="always")
def _sync(c, p, S, lo, hi):
    """After every k-th step: ``slow += alpha*(p - slow)``, then ``p = slow``, over the chunk."""
    if c.lookahead_sync > 0:
        fast, slow = p[lo:hi], S[int(c.slow_row)][lo:hi]
        alpha = p.dtype.type(c.lookahead_alpha)
        for i in range(fast.shape[0]):
            s = slow[i] + alpha * (fast[i] - slow[i])
            slow[i] = s
            fast[i] = s


_SPECS: dict[str, OptimizerSpec] = {}
_BY_KERNEL: dict[tuple[int, int], OptimizerSpec] = {}


def lookahead_spec(inner: OptimizerSpec) -> OptimizerSpec:
    """The spec of Lookahead around the optimizer that ``inner`` declares (one per spec).

    Specs of one kernel (a spec and its variants: SGD and Momentum) give variants of one
    Lookahead spec: one kernel, as for the inner ones.
    """
    if inner.finish is not None:  # the only epilogue is Lookahead's
        raise TypeError(f"{inner.name} is a Lookahead already; Lookahead wraps a plain optimizer")
    if inner.name not in _SPECS:
        kernel = (id(inner.rows), id(inner.fill_coefficients))
        if kernel not in _BY_KERNEL:
            _BY_KERNEL[kernel] = _make_lookahead_spec(inner)
        _SPECS[inner.name] = _BY_KERNEL[kernel].variant(
            f"lookahead_{inner.name}", defaults=inner.defaults, constants=inner.constants,
            gc=inner.gc,
        )  # fmt: skip
    return _SPECS[inner.name]


def _make_lookahead_spec(inner: OptimizerSpec) -> OptimizerSpec:
    fill_inner = inner.fill_coefficients

    @njit(inline="always")
    def fill_coefficients(h, t, lr, c):
        fill_inner(h, t, lr, c)
        c.lookahead_sync = 1.0 if (t + 1) % h.lookahead_k == 0 else 0.0
        c.lookahead_alpha = h.lookahead_alpha
        c.slow_row = h.slow_row

    def initial(hp: dict) -> tuple:
        return (*inner.initial_values(hp), PARAMS)

    return OptimizerSpec(
        name=f"lookahead_{inner.name}",
        hyperparameters=(
            *inner.hyperparameters,
            Hyper("lookahead_k", 5, _check_k),
            Hyper("lookahead_alpha", 0.5, _check_alpha),
        ),
        buffers=lambda hp: (*inner.buffers(hp), SLOW),
        coefficients=(*inner.coefficients, "lookahead_sync", "lookahead_alpha", "slow_row"),
        fill_coefficients=fill_coefficients,
        rows=inner.rows,
        constants=inner.constants,
        initial=initial,
        check=inner.check,
        derived={**inner.derived, "slow_row": lambda hp: len(inner.buffers(hp))},
        finish=_sync,
        gc=inner.gc,
        sources=(inner.rows, inner.fill_coefficients, *inner.sources),
    )


@functools.cache
def lookahead_class(inner: type[Optimizer]) -> type[Optimizer]:
    """The Lookahead optimizer class around ``inner`` (``LookaheadAdam`` for ``Adam``)."""
    if not (isinstance(inner, type) and issubclass(inner, Optimizer) and "spec" in vars(inner)):
        raise TypeError(f"inner must be a fastopt optimizer class, got {inner!r}")
    name = f"Lookahead{inner.__name__}"
    doc = (
        f"Lookahead around :class:`{inner.__name__}`: see :func:`Lookahead`.\n\n    "
        f"Parameters: those of {inner.__name__}, then ``lookahead_k`` (int >= 1, default 5) "
        "and ``lookahead_alpha`` (in (0, 1], default 0.5).\n    State: the inner's buffers, "
        f"then ``{SLOW}`` (the parameters at ``init``).\n    "
    )
    return type(name, (Optimizer,), {"spec": lookahead_spec(inner.spec), "__doc__": doc,
                                     "__module__": __name__, "__qualname__": name})  # fmt: skip


def Lookahead(inner: Optimizer, k: int = 5, alpha: float = 0.5) -> Optimizer:  # noqa: N802
    """Lookahead (Zhang et al. 2019) around the fused optimizer ``inner``.

    The inner optimizer steps the parameters (its hyperparameters and GC mode are kept);
    after every ``k``-th step the slow weights, a copy of the parameters at ``init``, move
    ``alpha`` of the way to them, ``slow += alpha*(p - slow)``, and the parameters restart
    from them, ``p = slow``.

    Parameters
    ----------
    inner : Optimizer
        Any fastopt optimizer but a Lookahead (``Adam(lr=1e-3)``, ``SGD(lr=0.1, gc="grad")``).
    k : int, default 5
        Steps between synchronizations, >= 1.
    alpha : float, default 0.5
        The slow weights' step toward the fast ones, in (0, 1] (1: plain ``inner``).

    Returns
    -------
    Optimizer
        An instance of ``lookahead_class(type(inner))`` (e.g. ``LookaheadAdam``, state name
        ``"lookahead_adam"``): its state holds the inner's buffers, then ``slow_params``.
    """
    if not isinstance(inner, Optimizer):
        raise TypeError(f"inner must be a fastopt optimizer, got {inner!r}")
    cls = lookahead_class(type(inner))
    return cls(lookahead_k=k, lookahead_alpha=alpha, **inner.hyperparameters())


RADAM_DEFAULTS_OF_RANGER = {"betas": (0.95, 0.999), "eps": 1e-5}

RANGER = lookahead_spec(RAdam.spec).variant(
    "ranger", defaults={**RADAM_DEFAULTS_OF_RANGER, "lookahead_k": 6, "lookahead_alpha": 0.5},
    gc="grad",
)  # fmt: skip


class Ranger(Optimizer):
    """Ranger: RAdam + Lookahead + gradient centralization, the GC authors' optimizer.

    ``Lookahead(RAdam(betas=(0.95, 0.999), eps=1e-5, gc="grad"), k=6, alpha=0.5)`` as one
    named preset, with the defaults of the GC authors' Ranger and, where their code and
    torch's differ, torch's RAdam update. State: ``exp_avg``, ``exp_avg_sq``,
    ``slow_params``.

    Parameters
    ----------
    lr : float or Schedule, default 1e-3
    betas : (float, float), default (0.95, 0.999)
    eps : float, default 1e-5
    weight_decay : float, default 0
    decoupled_weight_decay : bool, default False
        As :class:`RAdam`'s.
    lookahead_k : int, default 6
    lookahead_alpha : float, default 0.5
        As :func:`Lookahead`'s ``k`` and ``alpha``.
    gc : {None, "grad", "update"}, default "grad"
        Gradient centralization, on by default.
    """

    spec = RANGER
