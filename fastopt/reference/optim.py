"""Reference optimizers in plain NumPy: SGD, RMSprop, Adam, AdamW, Adagrad, plus GC.

This module is the slow, obviously-correct yardstick that the fast fused kernels are
tested against. Every line is meant to be read next to the corresponding
``torch.optim`` single-tensor ("for-loop", ``foreach=False``) implementation, and with
``gc=None`` the results match torch to rounding error.

Data layout
-----------
Parameters, gradients and optimizer buffers are plain dicts of named NumPy arrays::

    params = {"W1": (out, in), "b1": (out,), "K": (o, c, kh, kw), ...}
    grads  = {same keys, same shapes}

Any shape and any floating dtype works; float32 stays float32 (all scalars are Python
floats, so NumPy never upcasts an array). An optimizer is a small object holding only
hyperparameters; everything that changes lives in the ``state`` dict::

    opt = Adam(lr=1e-3)
    state = opt.init(params)       # {"step": 0, "exp_avg": {name: zeros}, ...}
    opt.step(params, grads, state) # params and state updated in place; state["step"] += 1

``step`` writes the new values into the existing arrays (``p[...] = ...``), so views
and references held by the caller see the update. Gradients are never modified.

Notation and step counter
-------------------------
For one tensor ``p`` with gradient ``g``, ``t`` is the 1-based number of the step being
taken (torch increments its counter *before* using it, so ``t == 1`` on the first call).
``lr`` is either a float or a callable ``lr(i)`` evaluated once per step with the
0-based index ``i = t - 1``.

Gradient Centralization (GC)
----------------------------
``centralize(x)`` subtracts, from an array with ``ndim >= 2``, its mean over all axes
but axis 0 (each output row / output filter gets zero mean); 1-D arrays (biases, gains)
are never centralized. Following the official Gradient-Centralization code, each
optimizer accepts ``gc``:

``gc=None``
    Plain torch.optim semantics.
``gc="grad"``
    Centralize the gradient right after the L2 weight-decay term is added, before it
    enters any moment, momentum or accumulator: ``d = centralize(g + wd * p)``.
    (AdamW has no L2 term, so there ``d = centralize(g)``.)
``gc="update"``
    Centralize the final step direction ``u`` of ``p <- p - lr_eff * u`` and nothing
    else; the stored buffers are exactly those of ``gc=None``. The per-optimizer
    ``u`` is given in each class docstring.

For plain SGD (no momentum) both modes give the same result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "RMSprop", "centralize"]

#: The accepted values of the ``gc`` argument.
GC_MODES = (None, "grad", "update")

LearningRate = float | Callable[[int], float]
Arrays = dict[str, np.ndarray]


def _centralize_array(x: np.ndarray) -> np.ndarray:
    """Return ``x`` minus its mean over all axes except axis 0 (a copy if ``x.ndim < 2``).

    Parameters
    ----------
    x : numpy.ndarray, shape (n0, n1, ...)
        Array to centralize.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        A new array. For ``x.ndim >= 2`` every slice ``out[i]`` has mean zero; for
        ``x.ndim < 2`` it is an unchanged copy.
    """
    x = np.asarray(x)
    if x.ndim < 2:
        return x.copy()
    other_axes = tuple(range(1, x.ndim))
    return x - x.mean(axis=other_axes, keepdims=True)


def centralize(grads: Mapping[str, np.ndarray]) -> Arrays:
    """Gradient Centralization of a dict of arrays.

    Parameters
    ----------
    grads : mapping of str to numpy.ndarray
        Arrays of any shapes, e.g. ``(out, in)`` weights, ``(out,)`` biases or
        ``(o, c, kh, kw)`` convolution kernels.

    Returns
    -------
    dict of str to numpy.ndarray
        New arrays with the same keys, shapes and dtypes. An array with ``ndim >= 2``
        has its mean over axes ``1..ndim-1`` subtracted (keepdims), so each of its
        ``shape[0]`` rows has mean zero (a ``(1, 1)`` matrix becomes 0); 1-D arrays are
        returned unchanged (as copies). The input is not modified.
    """
    return {name: _centralize_array(g) for name, g in grads.items()}


class _Optimizer:
    """Shared machinery: hyperparameter storage, ``lr`` schedule, GC hooks, state layout.

    Subclasses define ``_buffers`` (the state buffers and their initial fill value) and
    ``_update`` (the per-tensor update).
    """

    def __init__(self, lr: LearningRate, weight_decay: float, gc: str | None) -> None:
        if gc not in GC_MODES:
            raise ValueError(f"unknown gc mode {gc!r}; expected one of {GC_MODES}")
        if not callable(lr):
            lr = float(lr)
        self.lr = lr
        self.weight_decay = float(weight_decay)
        self.gc = gc

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    # -- state ---------------------------------------------------------------------------

    def _buffers(self) -> dict[str, float]:
        """Return ``{buffer name: initial fill value}`` for the enabled options."""
        raise NotImplementedError

    def init(self, params: Mapping[str, np.ndarray]) -> dict:
        """Create the optimizer state for ``params``.

        Parameters
        ----------
        params : mapping of str to numpy.ndarray
            The parameters to be optimized (any shapes, floating dtype).

        Returns
        -------
        dict
            ``{"step": 0}`` plus, for each buffer of this optimizer, a dict
            ``{name: array}`` of arrays shaped and typed like ``params[name]`` (zeros,
            except Adagrad's ``"sum"`` which starts at ``initial_accumulator_value``).
        """
        state: dict = {"step": 0}
        for key, fill in self._buffers().items():
            state[key] = {
                name: np.full(np.shape(p), fill, dtype=np.asarray(p).dtype)
                for name, p in params.items()
            }
        return state

    # -- step ------------------------------------------------------------------------------

    def lr_at(self, index: int) -> float:
        """Return the learning rate of the step with 0-based ``index``."""
        if callable(self.lr):
            return float(self.lr(index))
        return self.lr

    def step(
        self,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray],
        state: dict,
    ) -> None:
        """Take one optimization step, updating ``params`` and ``state`` in place.

        Parameters
        ----------
        params : mapping of str to numpy.ndarray
            Parameters; each array is overwritten with its new value.
        grads : mapping of str to numpy.ndarray
            Gradients with the same keys and shapes as ``params``; not modified.
        state : dict
            State from :meth:`init`; its buffers are overwritten and ``state["step"]``
            is incremented by one.
        """
        lr = self.lr_at(state["step"])  # evaluated once per step, 0-based index
        t = state["step"] + 1  # 1-based step number, as torch uses it
        buffer_names = list(self._buffers())
        for name, p in params.items():
            g = np.asarray(grads[name])
            bufs = {key: state[key][name] for key in buffer_names}
            self._update(p, g, bufs, t, lr)
        state["step"] = t

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, lr: float) -> None:
        raise NotImplementedError

    # -- weight decay and GC hooks -------------------------------------------------------

    def _l2_then_grad_gc(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Return ``d = g + wd * p`` (if ``wd != 0``), centralized when ``gc == "grad"``."""
        d = g
        if self.weight_decay != 0:
            d = g + self.weight_decay * p
        if self.gc == "grad":
            d = _centralize_array(d)
        return d

    def _update_gc(self, u: np.ndarray) -> np.ndarray:
        """Return the step direction ``u``, centralized when ``gc == "update"``."""
        if self.gc == "update":
            return _centralize_array(u)
        return u


class SGD(_Optimizer):
    r"""Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    For each tensor ``p`` (any shape) with gradient ``g`` of the same shape::

        d = g + weight_decay * p                      # if weight_decay != 0
        d = centralize(d)                             # if gc == "grad"
        if momentum != 0:
            buf = d.copy()                            # first step (t == 1): no dampening
            buf = momentum * buf + (1 - dampening) * d  # later steps
            d = d + momentum * buf if nesterov else buf
        u = centralize(d) if gc == "update" else d    # a copy; buf is not centralized
        p = p - lr * u

    Parameters
    ----------
    lr : float or callable
        Learning rate, or ``lr(i)`` of the 0-based step index ``i``.
    momentum : float, default 0.0
        Momentum factor.
    dampening : float, default 0.0
        Dampening of the momentum (not applied on the first step).
    nesterov : bool, default False
        Use Nesterov momentum.
    weight_decay : float, default 0.0
        L2 penalty coefficient, added to the gradient.
    gc : {None, "grad", "update"}, default None
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, plus ``"momentum_buffer"`` when ``momentum != 0``.
    """

    def __init__(
        self,
        *,
        lr: LearningRate,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        gc: str | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, gc)
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.nesterov = bool(nesterov)

    def _buffers(self) -> dict[str, float]:
        return {"momentum_buffer": 0.0} if self.momentum != 0 else {}

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, lr: float) -> None:
        d = self._l2_then_grad_gc(p, g)
        if self.momentum != 0:
            buf = bufs["momentum_buffer"]
            if t == 1:
                buf[...] = d  # torch clones the first gradient: no dampening here
            else:
                buf[...] = self.momentum * buf + (1 - self.dampening) * d
            if self.nesterov:
                d = d + self.momentum * buf
            else:
                d = buf.copy()
        u = self._update_gc(d)
        p[...] = p - lr * u


class RMSprop(_Optimizer):
    r"""RMSprop, optionally centered and with momentum, as ``torch.optim.RMSprop``.

    For each tensor ``p`` (any shape) with gradient ``g`` of the same shape::

        d = g + weight_decay * p                         # if weight_decay != 0
        d = centralize(d)                                # if gc == "grad"
        square_avg = alpha * square_avg + (1 - alpha) * d * d
        if centered:
            grad_avg = alpha * grad_avg + (1 - alpha) * d
            avg = sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = sqrt(square_avg) + eps                 # eps outside the sqrt
        if momentum > 0:
            momentum_buffer = momentum * momentum_buffer + d / avg
            u = momentum_buffer
        else:
            u = d / avg
        p = p - lr * (centralize(u) if gc == "update" else u)

    Parameters
    ----------
    lr : float or callable, default 0.01
        Learning rate, or ``lr(i)`` of the 0-based step index ``i``.
    alpha : float, default 0.99
        Smoothing constant of the squared-gradient average.
    eps : float, default 1e-8
        Added to the root-mean-square (outside the square root).
    weight_decay : float, default 0.0
        L2 penalty coefficient, added to the gradient.
    momentum : float, default 0.0
        Momentum factor.
    centered : bool, default False
        Normalize by an estimate of the gradient variance instead of its second moment.
    gc : {None, "grad", "update"}, default None
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, ``"square_avg"``, plus ``"momentum_buffer"`` when
    ``momentum > 0`` and ``"grad_avg"`` when ``centered``.
    """

    def __init__(
        self,
        *,
        lr: LearningRate = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        gc: str | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, gc)
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.momentum = float(momentum)
        self.centered = bool(centered)

    def _buffers(self) -> dict[str, float]:
        buffers = {"square_avg": 0.0}
        if self.momentum > 0:
            buffers["momentum_buffer"] = 0.0
        if self.centered:
            buffers["grad_avg"] = 0.0
        return buffers

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, lr: float) -> None:
        alpha, eps = self.alpha, self.eps
        d = self._l2_then_grad_gc(p, g)
        square_avg = bufs["square_avg"]
        square_avg[...] = alpha * square_avg + (1 - alpha) * d * d
        if self.centered:
            grad_avg = bufs["grad_avg"]
            grad_avg[...] = alpha * grad_avg + (1 - alpha) * d
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = np.sqrt(square_avg) + eps
        if self.momentum > 0:
            buf = bufs["momentum_buffer"]
            buf[...] = self.momentum * buf + d / avg
            u = buf
        else:
            u = d / avg
        p[...] = p - lr * self._update_gc(u)


class Adam(_Optimizer):
    r"""Adam (optionally AMSGrad) with L2 weight decay, as ``torch.optim.Adam``.

    For each tensor ``p`` (any shape) with gradient ``g`` of the same shape, at step
    ``t`` (1-based)::

        d = g + weight_decay * p                    # if weight_decay != 0 (L2, coupled)
        d = centralize(d)                           # if gc == "grad"
        exp_avg    = beta1 * exp_avg    + (1 - beta1) * d
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * d * d
        bc1, bc2 = 1 - beta1**t, 1 - beta2**t
        v = exp_avg_sq
        if amsgrad:
            max_exp_avg_sq = maximum(max_exp_avg_sq, exp_avg_sq)
            v = max_exp_avg_sq
        denom = sqrt(v) / sqrt(bc2) + eps           # eps added after bias correction
        if gc == "update":
            u = (exp_avg / bc1) / denom
            p = p - lr * centralize(u)
        else:
            p = p - (lr / bc1) * (exp_avg / denom)

    Parameters
    ----------
    lr : float or callable, default 1e-3
        Learning rate, or ``lr(i)`` of the 0-based step index ``i``.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates ``(beta1, beta2)`` of the first and second moment averages.
    eps : float, default 1e-8
        Added to the bias-corrected root of the second moment.
    weight_decay : float, default 0.0
        L2 penalty coefficient, added to the gradient.
    amsgrad : bool, default False
        Normalize by the running maximum of the second moment.
    gc : {None, "grad", "update"}, default None
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, ``"exp_avg"``, ``"exp_avg_sq"``, plus ``"max_exp_avg_sq"``
    when ``amsgrad``.
    """

    #: Whether weight decay is decoupled (AdamW) instead of an L2 term in the gradient.
    _decoupled = False

    def __init__(
        self,
        *,
        lr: LearningRate = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        gc: str | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, gc)
        beta1, beta2 = betas
        self.betas = (float(beta1), float(beta2))
        self.eps = float(eps)
        self.amsgrad = bool(amsgrad)

    def _buffers(self) -> dict[str, float]:
        buffers = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        if self.amsgrad:
            buffers["max_exp_avg_sq"] = 0.0
        return buffers

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, lr: float) -> None:
        beta1, beta2 = self.betas
        wd = self.weight_decay
        decay_direction = None  # AdamW, gc="update": wd * p joins the step direction
        if self._decoupled:
            d = _centralize_array(g) if self.gc == "grad" else g  # no L2 term
            if wd != 0:
                if self.gc == "update":
                    decay_direction = wd * p  # p before this step
                else:
                    p[...] = p * (1 - lr * wd)  # decoupled decay, before the moments
        else:
            d = self._l2_then_grad_gc(p, g)

        exp_avg, exp_avg_sq = bufs["exp_avg"], bufs["exp_avg_sq"]
        exp_avg[...] = beta1 * exp_avg + (1 - beta1) * d
        exp_avg_sq[...] = beta2 * exp_avg_sq + (1 - beta2) * d * d

        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        v = exp_avg_sq
        if self.amsgrad:
            max_exp_avg_sq = bufs["max_exp_avg_sq"]
            max_exp_avg_sq[...] = np.maximum(max_exp_avg_sq, exp_avg_sq)
            v = max_exp_avg_sq
        denom = np.sqrt(v) / math.sqrt(bias_correction2) + self.eps

        if self.gc == "update":
            u = (exp_avg / bias_correction1) / denom
            if decay_direction is not None:
                u = u + decay_direction
            p[...] = p - lr * _centralize_array(u)
        else:
            step_size = lr / bias_correction1
            p[...] = p - step_size * (exp_avg / denom)


class AdamW(Adam):
    r"""Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Identical to :class:`Adam` except for the weight decay, which is applied to the
    parameter directly instead of being added to the gradient. For each tensor ``p``
    (any shape) with gradient ``g`` of the same shape::

        d = centralize(g) if gc == "grad" else g         # no L2 term
        (exp_avg, exp_avg_sq, max_exp_avg_sq, bc1, bc2, denom as in Adam, from d)
        if gc == "update":
            u = (exp_avg / bc1) / denom + weight_decay * p   # p before this step
            p = p - lr * centralize(u)
        else:
            p = p * (1 - lr * weight_decay)                  # first, before the moments
            p = p - (lr / bc1) * (exp_avg / denom)

    Parameters
    ----------
    lr : float or callable, default 1e-3
        Learning rate, or ``lr(i)`` of the 0-based step index ``i``.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates ``(beta1, beta2)`` of the first and second moment averages.
    eps : float, default 1e-8
        Added to the bias-corrected root of the second moment.
    weight_decay : float, default 1e-2
        Decoupled weight-decay coefficient (multiplied by ``lr``).
    amsgrad : bool, default False
        Normalize by the running maximum of the second moment.
    gc : {None, "grad", "update"}, default None
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, ``"exp_avg"``, ``"exp_avg_sq"``, plus ``"max_exp_avg_sq"``
    when ``amsgrad``.
    """

    _decoupled = True

    def __init__(
        self,
        *,
        lr: LearningRate = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        gc: str | None = None,
    ) -> None:
        super().__init__(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, gc=gc
        )


class Adagrad(_Optimizer):
    r"""Adagrad with learning-rate decay, as ``torch.optim.Adagrad`` (dense gradients).

    For each tensor ``p`` (any shape) with gradient ``g`` of the same shape, at step
    ``t`` (1-based)::

        clr = lr / (1 + (t - 1) * lr_decay)
        d = g + weight_decay * p                    # if weight_decay != 0
        d = centralize(d)                           # if gc == "grad"
        sum = sum + d * d                           # starts at initial_accumulator_value
        u = d / (sqrt(sum) + eps)
        p = p - clr * (centralize(u) if gc == "update" else u)

    Parameters
    ----------
    lr : float or callable, default 1e-2
        Learning rate, or ``lr(i)`` of the 0-based step index ``i``.
    lr_decay : float, default 0.0
        Learning-rate decay: the step size is ``lr / (1 + (t - 1) * lr_decay)``.
    weight_decay : float, default 0.0
        L2 penalty coefficient, added to the gradient.
    initial_accumulator_value : float, default 0.0
        Initial value of the squared-gradient accumulator ``sum``.
    eps : float, default 1e-10
        Added to the root of the accumulator.
    gc : {None, "grad", "update"}, default None
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, ``"sum"``.
    """

    def __init__(
        self,
        *,
        lr: LearningRate = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        gc: str | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, gc)
        self.lr_decay = float(lr_decay)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.eps = float(eps)

    def _buffers(self) -> dict[str, float]:
        return {"sum": self.initial_accumulator_value}

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, lr: float) -> None:
        clr = lr / (1 + (t - 1) * self.lr_decay)
        d = self._l2_then_grad_gc(p, g)
        state_sum = bufs["sum"]
        state_sum[...] = state_sum + d * d
        u = d / (np.sqrt(state_sum) + self.eps)
        p[...] = p - clr * self._update_gc(u)
