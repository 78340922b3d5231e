"""The optimizers under test: one table, shared by test_optim.py and test_reference_optim.py.

In the spirit of torch's ``OptimizerInfo``: one :class:`OptimizerInfo` per optimizer holds
the fastopt class, its pure-NumPy reference, the ``torch.optim`` class it follows and a list
of option dicts that together use every constructor argument (``test_optim.py`` checks that
they do). The fused class is checked against the reference for every option set x GC mode x
dtype, and both against torch; :func:`run_against_torch` is the one loop that does the
latter for either implementation.

Adding an optimizer = one row of :data:`OPTIMIZERS`: its class (whose spec gives the name,
the torch counterpart and the defaults), its reference, and option sets.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import fastopt
from fastopt import Layout
from fastopt.reference import optim as ref

# Odd sizes on purpose: 1-D tensors, a (1, 1) matrix, a conv kernel, rows of length 1.
LAYOUT = Layout(
    [
        ("W", (3, 4)),
        ("b", (5,)),
        ("one", (1, 1)),
        ("K", (3, 2, 3, 3)),
        ("s", (1,)),
        ("col", (4, 1)),
    ]
)
ONE_D = ("b", "s")
GC_MODES = [None, "grad", "update"]
GC_IDS = ["gc=None", "gc=grad", "gc=update"]
DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["f64", "f32"]


def make_params(dtype=np.float64, layout=LAYOUT, seed=0) -> np.ndarray:
    """A flat random parameter vector of ``layout``."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=layout.size).astype(dtype)


def make_grads(n_steps, dtype=np.float64, layout=LAYOUT, seed=1) -> list[np.ndarray]:
    """Flat random gradients whose scale changes from step to step (so AMSGrad's max matters)."""
    rng = np.random.default_rng(seed)
    return [
        (rng.uniform(0.1, 2.0) * rng.normal(size=layout.size)).astype(dtype) for _ in range(n_steps)
    ]


def centralize_one(x: np.ndarray) -> np.ndarray:
    """The reference's gradient centralization of one tensor."""
    return ref.centralize({"x": x})["x"]


@dataclass(frozen=True)
class OptimizerInfo:
    """One optimizer under test: its class (whose spec says the rest), reference and options.

    Attributes
    ----------
    cls : type
        The fused fastopt optimizer; ``cls.spec`` gives its name, torch counterpart and
        defaults.
    reference : callable
        Makes the ``fastopt.reference`` optimizer from the same keyword arguments.
    options : list of dict
        Keyword arguments (``gc`` aside), together using every constructor argument.
    rich : dict
        One option set that uses most options, for tests that need only one.
    """

    cls: type
    reference: Callable[..., object]
    options: list[dict]
    rich: dict
    decoupled: bool = False
    """Its weight decay is always decoupled (Lion's); else as its spec and options say."""
    sign_steps: bool = False
    """It steps by the signs of its inputs (Rprop, Lion): a non-finite gradient entry can
    leave a finite parameter."""

    @property
    def name(self) -> str:
        """Test id, e.g. ``"Adam"``."""
        return self.cls.__name__

    @property
    def torch_name(self) -> str | None:
        """The ``torch.optim`` class it follows (None: no torch counterpart)."""
        return self.cls.spec.torch

    def l2_weight_decay(self, kwargs: dict) -> bool:
        """With ``kwargs``, weight decay is an L2 term added to the gradient (or there is
        none); AdamW's, Lion's and ``decoupled_weight_decay=True``'s is decoupled instead."""
        spec = self.cls.spec
        if self.decoupled or spec.constants.get("decoupled", 0.0) != 0.0:
            return False
        return not {**spec.defaults, **kwargs}.get("decoupled_weight_decay", False)

    @property
    def torch_defaults(self) -> dict:
        """Our defaults that torch needs spelled out (Momentum's momentum=0.9)."""
        parameters = inspect.signature(self.torch_class()).parameters
        return {name: value for name, value in self.cls.spec.defaults.items()
                if name in parameters and parameters[name].default != value}  # fmt: skip

    def torch_class(self) -> type:
        """The torch.optim class (skips the test where torch is not installed)."""
        torch = pytest.importorskip("torch")
        return getattr(torch.optim, self.torch_name)


OPTIMIZERS = [
    OptimizerInfo(
        fastopt.SGD,
        ref.SGD,
        options=[
            dict(lr=0.05),
            dict(lr=0.05, weight_decay=0.1),
            dict(lr=0.05, momentum=0.9),
            dict(lr=0.05, momentum=0.9, dampening=0.3),
            dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1),
            dict(lr=0.05, momentum=0.9, nesterov=True),
            dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
        ],
        rich=dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1),
    ),
    OptimizerInfo(
        fastopt.Momentum,
        lambda **kw: ref.SGD(**{"momentum": 0.9, **kw}),
        options=[
            dict(lr=0.05),
            dict(lr=0.05, momentum=0.5, weight_decay=0.1),
            dict(lr=0.05, nesterov=True),
            dict(lr=0.05, dampening=0.3, weight_decay=0.1),
        ],
        rich=dict(lr=0.05, dampening=0.3, weight_decay=0.1),
    ),
    OptimizerInfo(
        fastopt.RMSprop,
        ref.RMSprop,
        options=[
            dict(lr=0.01),
            dict(lr=0.01, centered=True),
            dict(lr=0.01, momentum=0.9),
            dict(lr=0.01, momentum=0.9, centered=True),
            dict(lr=0.01, weight_decay=0.1),
            dict(lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, centered=True, weight_decay=0.1),
        ],
        rich=dict(lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, centered=True, weight_decay=0.1),
    ),
    OptimizerInfo(
        fastopt.Adam,
        ref.Adam,
        options=[
            dict(lr=0.01),
            dict(lr=0.01, amsgrad=True),
            dict(lr=0.01, weight_decay=0.1),
            dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, amsgrad=True, weight_decay=0.1),
        ],
        rich=dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, amsgrad=True, weight_decay=0.1),
    ),
    OptimizerInfo(
        fastopt.AdamW,
        ref.AdamW,
        options=[
            dict(lr=0.01),  # default weight_decay=1e-2
            dict(lr=0.01, weight_decay=0.0),
            dict(lr=0.01, amsgrad=True),
            dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, amsgrad=True, weight_decay=0.1),
        ],
        rich=dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, amsgrad=True, weight_decay=0.1),
    ),
    OptimizerInfo(
        fastopt.Adagrad,
        ref.Adagrad,
        options=[
            dict(lr=0.1),
            dict(lr=0.1, lr_decay=0.05),
            dict(lr=0.1, weight_decay=0.1),
            dict(lr=0.1, initial_accumulator_value=0.5),
            dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6),
        ],
        rich=dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6),
    ),
    OptimizerInfo(
        fastopt.NAdam,
        ref.NAdam,
        options=[
            dict(lr=0.01),
            dict(lr=0.01, weight_decay=0.1),
            dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
            dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, momentum_decay=0.05, weight_decay=0.1),
        ],
        rich=dict(
            lr=0.01,
            betas=(0.8, 0.99),
            eps=1e-6,
            momentum_decay=0.05,
            weight_decay=0.1,
            decoupled_weight_decay=True,
        ),  # fmt: skip
    ),
    OptimizerInfo(
        fastopt.RAdam,
        ref.RAdam,
        options=[
            dict(lr=0.01),
            dict(lr=0.01, weight_decay=0.1),
            dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
            dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        ],
        rich=dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    OptimizerInfo(
        fastopt.Adamax,
        ref.Adamax,
        options=[
            dict(lr=0.01),
            dict(lr=0.01, weight_decay=0.1),
            dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        ],
        rich=dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    OptimizerInfo(
        fastopt.Adadelta,
        ref.Adadelta,
        options=[
            dict(),
            dict(lr=0.5, rho=0.8),
            dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1),
        ],
        rich=dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1),
    ),
    OptimizerInfo(
        fastopt.Rprop,
        ref.Rprop,
        options=[
            dict(lr=0.01),
            dict(lr=0.01, etas=(0.3, 1.5)),
            dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(1e-3, 0.05)),
        ],
        rich=dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(1e-3, 0.05)),
        sign_steps=True,
    ),
    OptimizerInfo(
        fastopt.Lion,
        ref.Lion,
        options=[
            dict(lr=0.01),
            dict(lr=0.01, weight_decay=0.1),
            dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.1),
        ],
        rich=dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.1),
        decoupled=True,
        sign_steps=True,
    ),
    OptimizerInfo(
        fastopt.optimizers.lookahead_class(fastopt.Adam),
        lambda lookahead_k=5, lookahead_alpha=0.5, **kw: ref.Lookahead(
            ref.Adam(**kw), k=lookahead_k, alpha=lookahead_alpha
        ),  # fmt: skip
        options=[
            dict(lr=0.01),
            dict(lr=0.01, lookahead_k=3, lookahead_alpha=0.8),
            dict(
                lr=0.01,
                betas=(0.8, 0.99),
                eps=1e-6,
                amsgrad=True,
                weight_decay=0.1,
                lookahead_k=2,
                lookahead_alpha=0.3,
            ),  # fmt: skip
        ],
        rich=dict(
            lr=0.01,
            betas=(0.8, 0.99),
            eps=1e-6,
            amsgrad=True,
            weight_decay=0.1,
            lookahead_k=3,
            lookahead_alpha=0.3,
        ),  # fmt: skip
    ),
    OptimizerInfo(
        fastopt.optimizers.lookahead_class(fastopt.SGD),
        lambda lookahead_k=5, lookahead_alpha=0.5, **kw: ref.Lookahead(
            ref.SGD(**kw), k=lookahead_k, alpha=lookahead_alpha
        ),  # fmt: skip
        options=[
            dict(lr=0.05, lookahead_k=3),
            dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1, lookahead_alpha=0.7),
            dict(lr=0.05, momentum=0.9, nesterov=True, lookahead_k=4),
        ],
        rich=dict(
            lr=0.05,
            momentum=0.9,
            dampening=0.3,
            weight_decay=0.1,
            lookahead_k=3,
            lookahead_alpha=0.7,
        ),  # fmt: skip
    ),
    OptimizerInfo(
        fastopt.Ranger,
        ref.Ranger,
        options=[
            dict(),
            dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
            dict(
                lr=0.01,
                betas=(0.9, 0.99),
                eps=1e-6,
                weight_decay=0.1,
                lookahead_k=4,
                lookahead_alpha=0.6,
            ),  # fmt: skip
        ],
        rich=dict(
            lr=0.01,
            betas=(0.9, 0.99),
            eps=1e-6,
            weight_decay=0.1,
            lookahead_k=4,
            lookahead_alpha=0.6,
        ),  # fmt: skip
    ),
]
BY_NAME = {info.name: info for info in OPTIMIZERS}
NAMES = list(BY_NAME)


def option_id(info: OptimizerInfo, kwargs: dict) -> str:
    """A readable test id, e.g. ``"Adam-lr=0.01-amsgrad=True"``."""
    return "-".join([info.name, *(f"{k}={v}" for k, v in kwargs.items())])


def option_cases(torch_only: bool = False) -> list:
    """``pytest.param(info, kwargs)`` for every option set of every optimizer."""
    return [
        pytest.param(info, kwargs, id=option_id(info, kwargs))
        for info in OPTIMIZERS
        if info.torch_name is not None or not torch_only
        for kwargs in info.options
    ]


def info_cases(torch_only: bool = False) -> list:
    """``pytest.param(info)`` for every optimizer."""
    return [
        pytest.param(info, id=info.name)
        for info in OPTIMIZERS
        if info.torch_name is not None or not torch_only
    ]


def run_against_torch(
    info: OptimizerInfo,
    kwargs: dict,
    dtype,
    *,
    implementation: str,
    rtol: float,
    atol: float,
    n_steps: int = 50,
    lr: Callable[[int], float] | None = None,
    gc: str | None = None,
    torch_overrides: dict | None = None,
    torch_grad: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    layout: Layout = LAYOUT,
) -> None:
    """Step ours and ``torch.optim`` side by side on the same gradients; compare every step.

    Parameters
    ----------
    implementation : {"fused", "reference"}
        Which of ours: ``info.cls`` on a flat vector, or ``info.reference`` on named views.
    lr : callable, optional
        Replaces ``kwargs["lr"]`` for us (a ``fastopt.schedules`` object for the fused
        class); torch's ``param_groups[0]["lr"]`` is set to ``lr(i)`` before its step ``i``.
    gc : {None, "grad", "update"}
        Ours only; emulate it in torch with ``torch_overrides`` and ``torch_grad``.
    torch_overrides : dict, optional
        Changes torch's hyperparameters only.
    torch_grad : callable, optional
        ``torch_grad(p, g)`` (NumPy, one tensor) is the gradient torch is fed.
    """
    torch = pytest.importorskip("torch")
    # torch keeps scalar state (NAdam's mu_product) in its default dtype: make it ours.
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    try:
        _run_against_torch(torch, info, kwargs, dtype, implementation, rtol, atol, n_steps, lr,
                           gc, torch_overrides, torch_grad, layout)  # fmt: skip
    finally:
        torch.set_default_dtype(default_dtype)


def _run_against_torch(torch, info, kwargs, dtype, implementation, rtol, atol, n_steps, lr, gc,
                       torch_overrides, torch_grad, layout):  # fmt: skip
    ours_kwargs = {**kwargs, "gc": gc, **({} if lr is None else {"lr": lr})}
    flat = make_params(dtype, layout)
    views = layout.views(flat)  # the reference writes through these
    torch_params = {n: torch.nn.Parameter(torch.from_numpy(v.copy())) for n, v in views.items()}
    torch_kwargs = {**info.torch_defaults, **kwargs, **(torch_overrides or {})}
    theirs = info.torch_class()(list(torch_params.values()), foreach=False, **torch_kwargs)
    if implementation == "fused":
        opt = info.cls(**ours_kwargs)
        state = opt.init(flat, layout)

        def step(g):
            opt.step(flat, g, state)

    elif implementation == "reference":
        opt = info.reference(**ours_kwargs)
        state = opt.init(views)

        def step(g):
            opt.step(views, layout.views(g), state)

    else:
        raise ValueError(f"implementation must be 'fused' or 'reference', got {implementation!r}")

    for i, g in enumerate(make_grads(n_steps, dtype, layout)):
        for n, gv in layout.views(g).items():
            tp = torch_params[n]
            fed = gv if torch_grad is None else torch_grad(tp.detach().numpy(), gv)
            tp.grad = torch.from_numpy(np.array(fed, dtype=dtype, copy=True))
        if lr is not None:
            theirs.param_groups[0]["lr"] = lr(i)
        theirs.step()
        step(g)
        expected = layout.pack({n: tp.detach().numpy() for n, tp in torch_params.items()})
        assert expected.dtype == dtype
        np.testing.assert_allclose(flat, expected, rtol=rtol, atol=atol, err_msg=f"step {i}")
