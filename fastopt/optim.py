"""Fused optimizers over flat parameter vectors, with gradient centralization built in.

Each optimizer updates a flat parameter vector and its flat state buffers in place, in one
pass over memory (plus, with gradient centralization, a row mean taken while the row is in
cache). Hyperparameters, defaults and update rules are those of ``torch.optim``::

    opt = fastopt.Adam(lr=1e-3, gc="grad")
    state = opt.init(params, layout)       # zeroed buffers, same dtype and layout as params
    for ...:
        opt.step(params, grads, state)     # params and state updated in place

Gradient centralization (``gc``): for a tensor of shape ``(out, *rest)`` with ``rest``
non-empty, each of its ``out`` rows is shifted to zero mean; 1-D tensors never are.

- ``gc=None``: off (default).
- ``gc="grad"``: gradient -> + L2 weight decay -> centralize -> moments (the official ``_GC``
  optimizers).
- ``gc="update"``: centralize the final step direction ``u`` of ``p -= lr * u`` (the official
  ``GC2`` / ``gc_loc=False``); the stored state is the same as without GC. For Adam that is
  ``m_hat / (sqrt(v_hat) + eps)``, plus ``weight_decay * p`` for AdamW.

For plain SGD (no momentum) both modes give the same step.
"""

from __future__ import annotations

import json
import numbers
import os
import weakref

import numpy as np

from fastopt._kernels import fused as _k
from fastopt.layout import Layout
from fastopt.schedules import Schedule, check_positive

GC_MODES = {None: _k.GC_NONE, "grad": _k.GC_GRAD, "update": _k.GC_UPDATE}
"""Accepted ``gc`` values and the kernels' codes."""

PARALLEL_MIN_SIZE = 1 << 15
"""Parameters from which a step runs on Numba's threads; below, thread start-up costs more
than it saves: on the 2-core EPYC threads win from 32k entries for Adam (1.6x) and 64k for
SGD (``python -m bench.optim_bandwidth --threshold``)."""

CHUNK = 1 << 14
"""Entries per chunk handed to one thread, outside GC rows."""

STATE_FORMAT = "fastopt-optimizer-state"
STATE_VERSION = 1


def _check_nonnegative(name: str, value: object) -> float:
    return check_positive(name, value, allow_zero=True)


def _check_fraction(name: str, value: object) -> float:
    """A float in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
    return value


def _chunk_table(layout: Layout, centralize: bool) -> np.ndarray:
    """Rows ``(start, stop, gc_row_length)`` tiling ``[0, layout.size)``; see ``_kernels.fused``."""
    rows = []

    def blocks(start: int, stop: int) -> None:
        for lo in range(start, stop, CHUNK):
            rows.append((lo, min(lo + CHUNK, stop), 0))

    if not centralize:
        blocks(0, layout.size)
    else:
        for spec in layout:
            if len(spec.shape) > 1:
                # Whole rows, about CHUNK entries a chunk (at least one row).
                length = spec.size // spec.shape[0]
                per_chunk = max(1, CHUNK // length) * length
                for lo in range(spec.offset, spec.stop, per_chunk):
                    rows.append((lo, min(lo + per_chunk, spec.stop), length))
            else:
                blocks(spec.offset, spec.stop)
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


class OptimizerState:
    """The flat state of one optimizer for one parameter vector.

    Made by :meth:`Optimizer.init` (or :meth:`Optimizer.load_state`); updated in place by
    :meth:`Optimizer.step`.

    Attributes
    ----------
    optimizer : str
        Name of the optimizer that made it, e.g. ``"adam"``.
    layout : Layout
        Layout of the parameters (and of every buffer).
    buffer_names : tuple of str
        Names of the buffers, e.g. ``("exp_avg", "exp_avg_sq")``.
    buffers : ndarray of shape (len(buffer_names), layout.size)
        One flat buffer per row, in the dtype of the parameters.
    step : int
        Number of steps taken.
    """

    def __init__(
        self,
        optimizer: str,
        layout: Layout,
        buffer_names: tuple[str, ...],
        buffers: np.ndarray,
        step: int,
        params: np.ndarray,
    ):
        self.optimizer = optimizer
        self.layout = layout
        self.buffer_names = tuple(buffer_names)
        self.buffers = buffers
        self.step = step
        self._bind(params)
        self._chunks = {False: _chunk_table(layout, False)}
        self._coefficients = np.empty(_k.N_COEFFICIENTS, dtype=buffers.dtype)

    @property
    def dtype(self) -> np.dtype:
        """The buffers' dtype (that of the parameters)."""
        return self.buffers.dtype

    def _bind(self, params: np.ndarray) -> None:
        self._params = weakref.ref(params)
        self._params_address = params.__array_interface__["data"][0]

    def _belongs_to(self, params: np.ndarray) -> bool:
        if self._params() is params:
            return True
        # Another array object over the same memory (e.g. params[:]) is the same parameters.
        if params.__array_interface__["data"][0] == self._params_address:
            self._params = weakref.ref(params)
            return True
        return False

    def chunks(self, centralize: bool) -> np.ndarray:
        """The kernels' chunk table for this layout, with or without GC rows (cached)."""
        if centralize not in self._chunks:
            self._chunks[centralize] = _chunk_table(self.layout, centralize)
        return self._chunks[centralize]

    def __getitem__(self, name: str) -> np.ndarray:
        """One buffer as a flat view of shape (layout.size,)."""
        try:
            return self.buffers[self.buffer_names.index(name)]
        except ValueError:
            raise KeyError(
                f"{self.optimizer} state has no buffer {name!r}; it has {list(self.buffer_names)}"
            ) from None

    def views(self, name: str) -> dict[str, np.ndarray]:
        """One buffer as named tensor views (see :meth:`Layout.views`)."""
        return self.layout.views(self[name])

    def __repr__(self) -> str:
        return (
            f"OptimizerState(optimizer={self.optimizer!r}, step={self.step}, "
            f"buffers={list(self.buffer_names)}, size={self.layout.size}, dtype={self.dtype})"
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the state to an ``.npz`` file; :meth:`Optimizer.load_state` reads it exactly."""
        meta = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "optimizer": self.optimizer,
            "buffer_names": list(self.buffer_names),
            "layout": [[spec.name, list(spec.shape)] for spec in self.layout],
            "dtype": self.dtype.name,
            "step": self.step,
        }
        with open(path, "wb") as f:
            np.savez(f, buffers=self.buffers, meta=np.array(json.dumps(meta)))


class Optimizer:
    """Base class of the fused optimizers; see the module docstring for the conventions.

    Subclasses set ``name`` and ``kind`` and define their buffers and per-step coefficients.
    """

    name: str = ""
    kind: int = -1

    def __init__(self, *, lr: float | Schedule, weight_decay: float, gc: str | None):
        if isinstance(lr, Schedule):
            self.lr: float | Schedule = lr
        else:
            self.lr = check_positive("lr", lr)
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)
        if gc not in GC_MODES:
            raise ValueError(f"gc must be None, 'grad' or 'update', got {gc!r}")
        self.gc = gc

    # --- what subclasses define ---------------------------------------------------------
    @property
    def buffer_names(self) -> tuple[str, ...]:
        """Names of the state buffers this optimizer keeps, in storage order."""
        raise NotImplementedError

    def hyper_vector(self) -> np.ndarray:
        """The hyperparameters as the kernels read them: float64 of shape (N_HYPER,)."""
        raise NotImplementedError

    def _initial_buffers(self, buffers: np.ndarray) -> None:
        """Set initial buffer values (zeros already)."""

    def hyperparameters(self) -> dict[str, object]:
        """The constructor's arguments, e.g. for a results table."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"

    # --- public API ---------------------------------------------------------------------
    def lr_at(self, t: int) -> float:
        """Learning rate of 0-based step ``t``."""
        return self.lr(t) if isinstance(self.lr, Schedule) else self.lr

    def init(self, params: np.ndarray, layout: Layout) -> OptimizerState:
        """Allocate this optimizer's state for ``params``.

        Parameters
        ----------
        params : ndarray of shape (layout.size,)
            The flat parameters the state will update (float32 or float64, C-contiguous).
        layout : Layout
            Their layout; GC rows come from it.

        Returns
        -------
        OptimizerState
            Buffers of shape (n_buffers, layout.size) in params' dtype, step 0.
        """
        if not isinstance(layout, Layout):
            raise TypeError(f"layout must be a fastopt.Layout, got {type(layout).__name__}")
        params = _check_params(params, layout)
        buffers = np.zeros((len(self.buffer_names), layout.size), dtype=params.dtype)
        self._initial_buffers(buffers)
        return OptimizerState(self.name, layout, self.buffer_names, buffers, 0, params)

    def step(
        self,
        params: np.ndarray,
        grads: np.ndarray,
        state: OptimizerState,
        *,
        check_finite: bool = False,
    ) -> None:
        """Take one step: update ``params`` and ``state`` in place.

        Parameters
        ----------
        params : ndarray of shape (layout.size,)
            The parameters ``state`` was made for; C-contiguous and writeable.
        grads : ndarray of shape (layout.size,)
            Their gradient, same dtype; not modified.
        state : OptimizerState
            This optimizer's state for ``params``; its step count advances by one.
        check_finite : bool
            If true, first check ``grads`` and raise ``FloatingPointError`` naming the first
            tensor that holds NaN or inf, leaving ``params`` and ``state`` untouched.
        """
        layout = self._check_state(state)
        params = _check_params(params, layout)
        if not state._belongs_to(params):
            raise ValueError(
                "state was made by init() for another params array; "
                "call init() (or load_state()) for this one"
            )
        if params.dtype != state.dtype:
            raise TypeError(f"params has dtype {params.dtype} but state has {state.dtype}")
        grads = _check_grads(grads, params, layout)
        if check_finite:
            bad = _k.first_nonfinite(grads)
            if bad >= 0:
                name = next(spec.name for spec in layout if spec.offset <= bad < spec.stop)
                raise FloatingPointError(
                    f"grads of tensor {name!r} hold NaN or inf (first at flat index {bad}); "
                    "params and state are unchanged"
                )
        t = state.step
        coef = state._coefficients
        _k.fill_coefficients(self.kind, self.hyper_vector(), t, self.lr_at(t), coef)
        gc_mode = GC_MODES[self.gc]
        chunks = state.chunks(gc_mode != _k.GC_NONE)
        run = _k.step_parallel if layout.size >= PARALLEL_MIN_SIZE else _k.step_serial
        run(self.kind, params, grads, state.buffers, coef, chunks, gc_mode)
        state.step = t + 1

    def load_state(
        self, path: str | os.PathLike, params: np.ndarray, layout: Layout
    ) -> OptimizerState:
        """Read a state written by :meth:`OptimizerState.save`, for ``params`` and ``layout``.

        Raises
        ------
        ValueError
            If the file is not a fastopt optimizer state, or was saved by another optimizer,
            for another layout, or with other buffers (e.g. momentum on vs off).
        TypeError
            If its dtype is not that of ``params``.
        """
        params = _check_params(params, layout)
        not_a_state = f"{path} is not a fastopt optimizer state"
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError(f"{not_a_state} (not an .npz archive)")
        with loaded as data:
            if "meta" not in data or "buffers" not in data:
                raise ValueError(f"{not_a_state} (no meta/buffers)")
            try:
                meta = json.loads(str(data["meta"]))
            except json.JSONDecodeError:
                raise ValueError(f"{not_a_state} (unreadable meta)") from None
            buffers = data["buffers"]
        if not isinstance(meta, dict):
            raise ValueError(f"{not_a_state} (unreadable meta)")
        if meta.get("format") != STATE_FORMAT or meta.get("version") != STATE_VERSION:
            raise ValueError(f"{path} is not a fastopt optimizer state of version {STATE_VERSION}")
        if meta["optimizer"] != self.name:
            raise ValueError(
                f"{path} holds a {meta['optimizer']!r} state; this optimizer is {self.name!r}"
            )
        saved_layout = Layout([(name, tuple(shape)) for name, shape in meta["layout"]])
        if saved_layout != layout:
            raise ValueError(f"{path} was saved for {saved_layout!r}, not for {layout!r}")
        if meta["dtype"] != params.dtype.name or buffers.dtype != params.dtype:
            raise TypeError(f"{path} holds {meta['dtype']} buffers but params has {params.dtype}")
        if tuple(meta["buffer_names"]) != self.buffer_names:
            raise ValueError(
                f"{path} holds buffers {meta['buffer_names']} but {self!r} needs "
                f"{list(self.buffer_names)}"
            )
        if buffers.shape != (len(self.buffer_names), layout.size):
            raise ValueError(f"{path} holds buffers of shape {buffers.shape}, which is corrupt")
        buffers = np.ascontiguousarray(buffers)
        return OptimizerState(self.name, layout, self.buffer_names, buffers, meta["step"], params)

    def _check_state(self, state: object) -> Layout:
        if not isinstance(state, OptimizerState):
            raise TypeError(f"state must come from init(), got {type(state).__name__}")
        if state.optimizer != self.name:
            raise ValueError(f"state belongs to a {state.optimizer!r} optimizer, not {self.name!r}")
        if state.buffer_names != self.buffer_names:
            raise ValueError(
                f"state holds buffers {list(state.buffer_names)} but {self!r} needs "
                f"{list(self.buffer_names)}"
            )
        buffers = state.buffers
        if not (
            isinstance(buffers, np.ndarray)
            and buffers.shape == (len(self.buffer_names), state.layout.size)
            and buffers.flags.c_contiguous
            and buffers.flags.writeable
        ):
            raise ValueError(
                "state.buffers must stay a writeable C-contiguous array of shape "
                f"({len(self.buffer_names)}, {state.layout.size})"
            )
        return state.layout


def _hyper(*values: float) -> np.ndarray:
    """A read-only float64 hyperparameter vector of length ``N_HYPER``, zero-padded."""
    vector = np.zeros(_k.N_HYPER, dtype=np.float64)
    vector[: len(values)] = values
    vector.setflags(write=False)
    return vector


def _check_params(params: object, layout: Layout) -> np.ndarray:
    params = layout.check_flat(params, "params")
    flags = params.flags
    if not flags.c_contiguous:
        raise ValueError("params must be C-contiguous: it is updated in place")
    if not flags.writeable:
        raise ValueError("params is read-only: it is updated in place")
    return params


def _check_grads(grads: object, params: np.ndarray, layout: Layout) -> np.ndarray:
    grads = layout.check_flat(grads, "grads")
    if grads.dtype != params.dtype:
        raise TypeError(f"grads has dtype {grads.dtype} but params has {params.dtype}")
    if grads is params:
        raise ValueError("grads is params; pass the gradient in its own array")
    return grads if grads.flags.c_contiguous else np.ascontiguousarray(grads)


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    ``d = g + weight_decay*p``; with momentum, ``buf = d`` on the first step and
    ``momentum*buf + (1-dampening)*d`` after, and ``d = d + momentum*buf`` (Nesterov) or
    ``buf``; then ``p -= lr*d``. State: ``momentum_buffer`` when ``momentum != 0``.

    Parameters
    ----------
    lr : float or Schedule
        Learning rate, > 0.
    momentum : float
        Momentum factor, >= 0.
    dampening : float
        Dampening of the momentum, in [0, 1].
    nesterov : bool
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    weight_decay : float
        L2 penalty added to the gradient, >= 0.
    gc : {None, "grad", "update"}
        Gradient centralization (see the module docstring).
    """

    name = "sgd"
    kind = _k.SGD

    def __init__(
        self,
        *,
        lr: float | Schedule,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        gc: str | None = None,
    ):
        super().__init__(lr=lr, weight_decay=weight_decay, gc=gc)
        self.momentum = _check_nonnegative("momentum", momentum)
        self.dampening = _check_nonnegative("dampening", dampening)
        if self.dampening > 1:
            raise ValueError(f"dampening must lie in [0, 1], got {dampening!r}")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening == 0")

    @property
    def buffer_names(self) -> tuple[str, ...]:
        """``("momentum_buffer",)`` with momentum, else ``()``."""
        return ("momentum_buffer",) if self.momentum != 0 else ()

    def hyperparameters(self) -> dict[str, object]:
        """The constructor's arguments."""
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "dampening": self.dampening,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
            "gc": self.gc,
        }

    def hyper_vector(self) -> np.ndarray:
        """``[momentum, dampening, nesterov, weight_decay]`` (see ``_kernels.fused``)."""
        return _hyper(self.momentum, self.dampening, self.nesterov, self.weight_decay)


class Momentum(SGD):
    """SGD with momentum 0.9 by default: ``Momentum(lr=0.01)`` reads better than ``SGD(...)``."""

    def __init__(
        self,
        *,
        lr: float | Schedule,
        momentum: float = 0.9,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        gc: str | None = None,
    ):
        super().__init__(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
            gc=gc,
        )


class RMSprop(Optimizer):
    """RMSprop as ``torch.optim.RMSprop``: eps is added after the square root.

    ``d = g + weight_decay*p``; ``square_avg = alpha*square_avg + (1-alpha)*d**2``;
    centered: ``grad_avg = alpha*grad_avg + (1-alpha)*d`` and
    ``avg = sqrt(square_avg - grad_avg**2) + eps``, else ``avg = sqrt(square_avg) + eps``;
    with momentum ``buf = momentum*buf + d/avg`` and ``p -= lr*buf``, else ``p -= lr*d/avg``.
    State: ``square_avg``, then ``momentum_buffer`` (momentum > 0), then ``grad_avg`` (centered).
    """

    name = "rmsprop"
    kind = _k.RMSPROP

    def __init__(
        self,
        *,
        lr: float | Schedule = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        gc: str | None = None,
    ):
        super().__init__(lr=lr, weight_decay=weight_decay, gc=gc)
        self.alpha = _check_fraction("alpha", alpha)
        self.eps = _check_nonnegative("eps", eps)
        self.momentum = _check_nonnegative("momentum", momentum)
        self.centered = bool(centered)

    @property
    def buffer_names(self) -> tuple[str, ...]:
        """``square_avg``, then ``momentum_buffer`` and ``grad_avg`` where used."""
        names = ["square_avg"]
        if self.momentum > 0:
            names.append("momentum_buffer")
        if self.centered:
            names.append("grad_avg")
        return tuple(names)

    def hyperparameters(self) -> dict[str, object]:
        """The constructor's arguments."""
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
            "gc": self.gc,
        }

    def hyper_vector(self) -> np.ndarray:
        """``[alpha, eps, weight_decay, momentum, centered]`` (see ``_kernels.fused``)."""
        return _hyper(self.alpha, self.eps, self.weight_decay, self.momentum, self.centered)


class Adam(Optimizer):
    """Adam as ``torch.optim.Adam`` (L2 weight decay added to the gradient).

    ``d = g + weight_decay*p``; ``m = b1*m + (1-b1)*d``; ``v = b2*v + (1-b2)*d**2``;
    (AMSGrad: ``v_max = max(v_max, v)`` used in place of ``v``);
    ``p -= lr/(1-b1**t) * m / (sqrt(v)/sqrt(1-b2**t) + eps)`` with ``t`` counted from 1.
    State: ``exp_avg``, ``exp_avg_sq`` and, with AMSGrad, ``max_exp_avg_sq``.
    """

    name = "adam"
    kind = _k.ADAM
    _decoupled = False

    def __init__(
        self,
        *,
        lr: float | Schedule = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        gc: str | None = None,
    ):
        super().__init__(lr=lr, weight_decay=weight_decay, gc=gc)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_check_fraction("betas[0]", betas[0]), _check_fraction("betas[1]", betas[1]))
        self.eps = _check_nonnegative("eps", eps)
        self.amsgrad = bool(amsgrad)

    @property
    def buffer_names(self) -> tuple[str, ...]:
        """``exp_avg``, ``exp_avg_sq`` and, with AMSGrad, ``max_exp_avg_sq``."""
        names = ("exp_avg", "exp_avg_sq")
        return names + ("max_exp_avg_sq",) if self.amsgrad else names

    def hyperparameters(self) -> dict[str, object]:
        """The constructor's arguments."""
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "amsgrad": self.amsgrad,
            "gc": self.gc,
        }

    def hyper_vector(self) -> np.ndarray:
        """``[beta1, beta2, eps, weight_decay, amsgrad, decoupled]`` (see ``_kernels.fused``)."""
        beta1, beta2 = self.betas
        return _hyper(beta1, beta2, self.eps, self.weight_decay, self.amsgrad, self._decoupled)


class AdamW(Adam):
    """AdamW as ``torch.optim.AdamW``: Adam with decoupled weight decay.

    ``p *= 1 - lr*weight_decay`` before the Adam step, and no L2 term in the gradient. With
    ``gc="update"`` the decay joins the centralized direction: ``u = adam_u + weight_decay*p``.
    """

    name = "adamw"
    _decoupled = True

    def __init__(
        self,
        *,
        lr: float | Schedule = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        gc: str | None = None,
    ):
        super().__init__(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, gc=gc
        )


class Adagrad(Optimizer):
    """Adagrad as ``torch.optim.Adagrad``.

    ``clr = lr / (1 + (t-1)*lr_decay)``; ``d = g + weight_decay*p``; ``sum += d**2``;
    ``p -= clr * d / (sqrt(sum) + eps)``. State: ``sum``, starting at
    ``initial_accumulator_value``.
    """

    name = "adagrad"
    kind = _k.ADAGRAD

    def __init__(
        self,
        *,
        lr: float | Schedule = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        gc: str | None = None,
    ):
        super().__init__(lr=lr, weight_decay=weight_decay, gc=gc)
        self.lr_decay = _check_nonnegative("lr_decay", lr_decay)
        self.initial_accumulator_value = _check_nonnegative(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.eps = _check_nonnegative("eps", eps)

    @property
    def buffer_names(self) -> tuple[str, ...]:
        """``("sum",)``."""
        return ("sum",)

    def _initial_buffers(self, buffers: np.ndarray) -> None:
        buffers[0] = self.initial_accumulator_value

    def hyperparameters(self) -> dict[str, object]:
        """The constructor's arguments."""
        return {
            "lr": self.lr,
            "lr_decay": self.lr_decay,
            "weight_decay": self.weight_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
            "gc": self.gc,
        }

    def hyper_vector(self) -> np.ndarray:
        """``[lr_decay, weight_decay, eps]`` (see ``_kernels.fused``)."""
        return _hyper(self.lr_decay, self.weight_decay, self.eps)


def centralize(grads: np.ndarray, layout: Layout) -> np.ndarray:
    """Gradient centralization, in place: shift every row of every multi-axis tensor to mean 0.

    Parameters
    ----------
    grads : ndarray of shape (layout.size,)
        Flat vector (float32 or float64, C-contiguous, writeable); modified in place.
    layout : Layout
        Its layout: a tensor of shape ``(out, *rest)`` has ``out`` rows of ``prod(rest)``
        entries; 1-D tensors are left alone.

    Returns
    -------
    ndarray
        ``grads`` itself.
    """
    if not isinstance(layout, Layout):
        raise TypeError(f"layout must be a fastopt.Layout, got {type(layout).__name__}")
    grads = layout.check_flat(grads, "grads")
    if not (grads.flags.c_contiguous and grads.flags.writeable):
        raise ValueError("grads must be C-contiguous and writeable: it is centralized in place")
    _k.centralize_rows(grads, layout.gc_segments)
    return grads


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "adagrad": Adagrad,
}
"""Optimizer classes by name."""

__all__ = [
    "GC_MODES",
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Momentum",
    "Optimizer",
    "OptimizerState",
    "RMSprop",
    "centralize",
]
