"""Reference optimizers in plain NumPy: the torch.optim family, Lion, Lookahead, Ranger; GC.

This module is the slow, obviously-correct yardstick that the fast fused kernels are
tested against. Every line is meant to be read next to the corresponding
``torch.optim`` single-tensor ("for-loop", ``foreach=False``) implementation, and with
``gc=None`` the results match torch to rounding error. Where torch's code and the paper
differ, the reference follows torch and the class docstring says so.

- Following ``torch.optim``: :class:`SGD`, :class:`RMSprop`, :class:`Adam`,
  :class:`AdamW`, :class:`Adagrad`, :class:`NAdam`, :class:`RAdam`, :class:`Adamax`,
  :class:`Adadelta`, :class:`Rprop`.
- Without a torch counterpart: :class:`Lion` (Chen et al. 2023), :class:`Lookahead`
  (Zhang et al. 2019, wrapping any of the above) and :class:`Ranger` (RAdam + Lookahead
  + GC, the Gradient-Centralization authors' combination).

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
    With decoupled weight decay (AdamW, Lion, NAdam/RAdam with
    ``decoupled_weight_decay=True``) there is no L2 term, so there ``d = centralize(g)``.
``gc="update"``
    Centralize the final step direction ``u`` of ``p <- p - lr_eff * u`` and nothing
    else; the stored buffers are exactly those of ``gc=None``. The per-optimizer
    ``u`` is given in each class docstring. Decoupled weight decay then joins the step
    direction before it is centralized, ``u + wd * p`` (``p`` before the step), instead
    of a separate ``p *= 1 - lr * wd``. Rprop's step is ``p <- p - u`` (no ``lr``).

For plain SGD (no momentum) both modes give the same result.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping

import numpy as np

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Lion",
    "Lookahead",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Ranger",
    "Rprop",
    "centralize",
]

#: The accepted values of the ``gc`` argument.
GC_MODES = (None, "grad", "update")

LearningRate = float | Callable[[int], float]
Arrays = dict[str, np.ndarray]


def _check(ok: bool, name: str, value: object) -> None:
    """Raise ``ValueError`` naming the hyperparameter ``name`` unless ``ok``."""
    if not ok:
        raise ValueError(f"invalid {name}: {value!r}")


def _check_lr(lr: LearningRate) -> None:
    """A float learning rate must be >= 0 (a callable one is checked by nobody)."""
    if not callable(lr):
        _check(float(lr) >= 0.0, "lr", lr)


def _checked_betas(
    betas: tuple[float, float], *, upper_closed: bool = False
) -> tuple[float, float]:
    """Return ``betas`` as two floats in ``[0, 1)`` (``[0, 1]`` if ``upper_closed``)."""
    beta1, beta2 = (float(b) for b in betas)
    for i, beta in enumerate((beta1, beta2)):
        inside = 0.0 <= beta <= 1.0 if upper_closed else 0.0 <= beta < 1.0
        _check(inside, f"betas[{i}]", beta)
    return beta1, beta2


def _torch_sign(x: np.ndarray) -> np.ndarray:
    """``torch.sign``: ``(x > 0) - (x < 0)`` in ``x``'s dtype, so NaN (and -0.0) give 0."""
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


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
        shared = self._shared_scalars(state, t)  # per-step scalars (NAdam's mu_product)
        buffer_names = list(self._buffers())
        for name, p in params.items():
            g = np.asarray(grads[name])
            bufs = {key: state[key][name] for key in buffer_names}
            self._update(p, g, bufs, t, lr, **shared)
        state["step"] = t

    def _shared_scalars(self, state: dict, t: int) -> dict[str, float]:
        """Update per-step scalars kept in ``state``; return extra ``_update`` arguments."""
        return {}

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

    def _decay_then_grad_gc(
        self, p: np.ndarray, g: np.ndarray, lr: float, decoupled: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Apply L2 or decoupled weight decay and ``gc="grad"``; return ``(d, decay_u)``.

        L2 (``decoupled`` false): ``d = g + wd * p``, centralized when ``gc == "grad"``.
        Decoupled, as :class:`AdamW`: ``d = g`` (centralized when ``gc == "grad"``) and
        ``p *= 1 - lr * wd`` in place now, except with ``gc == "update"``, where ``p`` is
        left alone and ``decay_u = wd * p`` (``p`` before this step) is returned to be
        added to the step direction before it is centralized (see :meth:`_apply`).
        """
        if not decoupled:
            return self._l2_then_grad_gc(p, g), None
        d = _centralize_array(g) if self.gc == "grad" else g  # no L2 term
        wd = self.weight_decay
        if wd != 0:
            if self.gc == "update":
                return d, wd * p
            p[...] = p * (1 - lr * wd)  # torch: param.mul_(1 - lr * weight_decay), first
        return d, None

    def _apply(
        self, p: np.ndarray, u: np.ndarray, lr: float, decay_u: np.ndarray | None = None
    ) -> None:
        """``p = p - lr * u``; with ``gc == "update"``: ``p - lr * centralize(u + decay_u)``."""
        if self.gc == "update":
            if decay_u is not None:
                u = u + decay_u
            u = _centralize_array(u)
        p[...] = p - lr * u


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


class NAdam(_Optimizer):
    r"""Adam with Nesterov momentum (Dozat 2016), as ``torch.optim.NAdam``.

    For each tensor ``p`` (any shape) with gradient ``g`` of the same shape, at step
    ``t`` (1-based)::

        mu      = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = mu_product * mu                # one scalar, starts at 1.0
        if decoupled_weight_decay:
            d = g                                   # no L2 term
            p = p * (1 - lr * weight_decay)         # first (not with gc == "update")
        else:
            d = g + weight_decay * p                # if weight_decay != 0 (L2, coupled)
        d = centralize(d)                           # if gc == "grad"
        exp_avg    = beta1 * exp_avg    + (1 - beta1) * d
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * d * d
        bc2 = 1 - beta2**t
        denom = sqrt(exp_avg_sq / bc2) + eps        # divide, then sqrt (not Adam's order)
        u = (1 - mu) / (1 - mu_product) * d / denom
            + mu_next / (1 - mu_product * mu_next) * exp_avg / denom
        if gc == "update":
            u = u + weight_decay * p                # decoupled only; p before this step
            u = centralize(u)
        p = p - lr * u

    torch adds the two terms to ``p`` one after the other (two ``addcdiv_``); the sum is
    the same up to rounding.

    Parameters
    ----------
    lr : float or callable, default 2e-3
        Learning rate, or ``lr(i)`` of the 0-based step index ``i``.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates ``(beta1, beta2)`` of the first and second moment averages.
    eps : float, default 1e-8
        Added to the bias-corrected root of the second moment.
    weight_decay : float, default 0.0
        Weight-decay coefficient: an L2 term added to the gradient, or decoupled.
    momentum_decay : float, default 4e-3
        Rate of the momentum schedule ``mu``.
    decoupled_weight_decay : bool, default False
        Decay the parameter directly (NAdamW) instead of adding an L2 term.
    gc : {None, "grad", "update"}, default None
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, ``"exp_avg"``, ``"exp_avg_sq"`` and ``"mu_product"``, a
    Python float (float64) shared by all tensors. torch keeps one ``mu_product`` per
    tensor as a 0-d tensor of the *default* dtype (float32 unless
    ``torch.set_default_dtype`` says otherwise), so it rounds the product to float32
    every step; in float64 the two match to rounding only under a float64 default dtype.
    """

    def __init__(
        self,
        *,
        lr: LearningRate = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        gc: str | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, gc)
        _check_lr(lr)
        self.betas = _checked_betas(betas)
        self.eps = float(eps)
        self.momentum_decay = float(momentum_decay)
        self.decoupled_weight_decay = bool(decoupled_weight_decay)
        _check(self.eps >= 0.0, "eps", eps)
        _check(self.weight_decay >= 0.0, "weight_decay", weight_decay)
        _check(self.momentum_decay >= 0.0, "momentum_decay", momentum_decay)

    def _buffers(self) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def init(self, params: Mapping[str, np.ndarray]) -> dict:
        """Create the state: zero ``"exp_avg"``, ``"exp_avg_sq"`` and ``"mu_product"=1.0``.

        Parameters
        ----------
        params : mapping of str to numpy.ndarray
            The parameters to be optimized (any shapes, floating dtype).

        Returns
        -------
        dict
            ``{"step": 0, "exp_avg": {name: zeros}, "exp_avg_sq": {name: zeros},
            "mu_product": 1.0}``.
        """
        state = super().init(params)
        state["mu_product"] = 1.0
        return state

    def _shared_scalars(self, state: dict, t: int) -> dict[str, float]:
        beta1 = self.betas[0]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * self.momentum_decay))
        state["mu_product"] *= mu
        return {"mu": mu, "mu_next": mu_next, "mu_product": state["mu_product"]}

    def _update(
        self,
        p: np.ndarray,
        g: np.ndarray,
        bufs: Arrays,
        t: int,
        lr: float,
        *,
        mu: float,
        mu_next: float,
        mu_product: float,
    ) -> None:
        beta1, beta2 = self.betas
        d, decay_u = self._decay_then_grad_gc(p, g, lr, self.decoupled_weight_decay)
        exp_avg, exp_avg_sq = bufs["exp_avg"], bufs["exp_avg_sq"]
        exp_avg[...] = beta1 * exp_avg + (1 - beta1) * d
        exp_avg_sq[...] = beta2 * exp_avg_sq + (1 - beta2) * d * d
        bias_correction2 = 1 - beta2**t
        denom = np.sqrt(exp_avg_sq / bias_correction2) + self.eps
        mu_product_next = mu_product * mu_next
        grad_coef = (1.0 - mu) / (1.0 - mu_product)  # torch: value=-lr * grad_coef
        exp_avg_coef = mu_next / (1.0 - mu_product_next)  # torch: value=-lr * exp_avg_coef
        u = grad_coef * (d / denom) + exp_avg_coef * (exp_avg / denom)
        self._apply(p, u, lr, decay_u)


class RAdam(_Optimizer):
    r"""Rectified Adam (Liu et al. 2020), as ``torch.optim.RAdam``.

    For each tensor ``p`` (any shape) with gradient ``g`` of the same shape, at step
    ``t`` (1-based)::

        d, weight decay, gc == "grad"               # exactly as NAdam (L2 or decoupled)
        exp_avg    = beta1 * exp_avg    + (1 - beta1) * d
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * d * d
        bc1, bc2 = 1 - beta1**t, 1 - beta2**t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / bc2
        if rho_t > 5:
            rect = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            u = (exp_avg / bc1) * sqrt(bc2) / (sqrt(exp_avg_sq) + eps) * rect
        else:
            u = exp_avg / bc1                       # un-adapted momentum step
        if gc == "update":
            u = u + weight_decay * p                # decoupled only; p before this step
            u = centralize(u)
        p = p - lr * u

    The threshold ``rho_t > 5`` and ``eps`` added to ``sqrt(exp_avg_sq)`` (before the
    bias correction ``sqrt(bc2)``) are torch's; the paper's Algorithm 2 rectifies when
    ``rho_t > 4`` and has no ``eps``. We follow torch's for-loop code.

    Parameters
    ----------
    lr : float or callable, default 1e-3
        Learning rate, or ``lr(i)`` of the 0-based step index ``i``.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates ``(beta1, beta2)`` of the first and second moment averages.
    eps : float, default 1e-8
        Added to the root of the second moment.
    weight_decay : float, default 0.0
        Weight-decay coefficient: an L2 term added to the gradient, or decoupled.
    decoupled_weight_decay : bool, default False
        Decay the parameter directly (as AdamW) instead of adding an L2 term.
    gc : {None, "grad", "update"}, default None
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, ``"exp_avg"``, ``"exp_avg_sq"``.
    """

    def __init__(
        self,
        *,
        lr: LearningRate = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        gc: str | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, gc)
        _check_lr(lr)
        self.betas = _checked_betas(betas)
        self.eps = float(eps)
        self.decoupled_weight_decay = bool(decoupled_weight_decay)
        _check(self.eps >= 0.0, "eps", eps)
        _check(self.weight_decay >= 0.0, "weight_decay", weight_decay)

    def _buffers(self) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, lr: float) -> None:
        beta1, beta2 = self.betas
        d, decay_u = self._decay_then_grad_gc(p, g, lr, self.decoupled_weight_decay)
        exp_avg, exp_avg_sq = bufs["exp_avg"], bufs["exp_avg_sq"]
        exp_avg[...] = beta1 * exp_avg + (1 - beta1) * d
        exp_avg_sq[...] = beta2 * exp_avg_sq + (1 - beta2) * d * d

        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        bias_corrected_exp_avg = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1  # maximum length of the approximated SMA
        rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            adaptive_lr = math.sqrt(bias_correction2) / (np.sqrt(exp_avg_sq) + self.eps)
            u = bias_corrected_exp_avg * adaptive_lr * rect
        else:
            u = bias_corrected_exp_avg
        self._apply(p, u, lr, decay_u)


class Adamax(_Optimizer):
    r"""Adamax, Adam with the infinity norm (Kingma & Ba 2015), as ``torch.optim.Adamax``.

    For each tensor ``p`` (any shape) with gradient ``g`` of the same shape, at step
    ``t`` (1-based)::

        d = g + weight_decay * p                    # if weight_decay != 0 (L2)
        d = centralize(d)                           # if gc == "grad"
        exp_avg = beta1 * exp_avg + (1 - beta1) * d
        exp_inf = maximum(beta2 * exp_inf, abs(d) + eps)   # NaN propagates
        u = exp_avg / exp_inf / (1 - beta1**t)
        p = p - lr * (centralize(u) if gc == "update" else u)

    ``eps`` goes inside the maximum (torch's code; the paper has none). torch writes the
    step as ``p.addcdiv_(exp_avg, exp_inf, value=-lr / bc1)``, equal up to rounding.

    Parameters
    ----------
    lr : float or callable, default 2e-3
        Learning rate, or ``lr(i)`` of the 0-based step index ``i``.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates ``(beta1, beta2)`` of the first moment and of the infinity norm.
    eps : float, default 1e-8
        Added to ``abs(d)`` before the running maximum.
    weight_decay : float, default 0.0
        L2 penalty coefficient, added to the gradient.
    gc : {None, "grad", "update"}, default None
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, ``"exp_avg"``, ``"exp_inf"``.
    """

    def __init__(
        self,
        *,
        lr: LearningRate = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        gc: str | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, gc)
        _check_lr(lr)
        self.betas = _checked_betas(betas)
        self.eps = float(eps)
        _check(self.eps >= 0.0, "eps", eps)
        _check(self.weight_decay >= 0.0, "weight_decay", weight_decay)

    def _buffers(self) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_inf": 0.0}

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, lr: float) -> None:
        beta1, beta2 = self.betas
        d = self._l2_then_grad_gc(p, g)
        exp_avg, exp_inf = bufs["exp_avg"], bufs["exp_inf"]
        exp_avg[...] = beta1 * exp_avg + (1 - beta1) * d
        exp_inf[...] = np.maximum(beta2 * exp_inf, np.abs(d) + self.eps)
        bias_correction = 1 - beta1**t
        u = exp_avg / exp_inf / bias_correction
        self._apply(p, u, lr)


class Adadelta(_Optimizer):
    r"""Adadelta (Zeiler 2012) with a learning rate, as ``torch.optim.Adadelta``.

    For each tensor ``p`` (any shape) with gradient ``g`` of the same shape::

        d = g + weight_decay * p                    # if weight_decay != 0 (L2)
        d = centralize(d)                           # if gc == "grad"
        square_avg = rho * square_avg + (1 - rho) * d * d
        delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * d
        acc_delta = rho * acc_delta + (1 - rho) * delta * delta   # delta not centralized
        u = delta
        p = p - lr * (centralize(u) if gc == "update" else u)

    ``eps`` goes inside both square roots and the step is scaled by ``lr`` (torch's; the
    paper's update is ``lr = 1``).

    Parameters
    ----------
    lr : float or callable, default 1.0
        Learning rate (scales ``delta``), or ``lr(i)`` of the 0-based step index ``i``.
    rho : float, default 0.9
        Decay rate of the running averages.
    eps : float, default 1e-6
        Added inside both square roots.
    weight_decay : float, default 0.0
        L2 penalty coefficient, added to the gradient.
    gc : {None, "grad", "update"}, default None
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, ``"square_avg"``, ``"acc_delta"``.
    """

    def __init__(
        self,
        *,
        lr: LearningRate = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        gc: str | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, gc)
        _check_lr(lr)
        self.rho = float(rho)
        self.eps = float(eps)
        _check(0.0 <= self.rho <= 1.0, "rho", rho)
        _check(self.eps >= 0.0, "eps", eps)
        _check(self.weight_decay >= 0.0, "weight_decay", weight_decay)

    def _buffers(self) -> dict[str, float]:
        return {"square_avg": 0.0, "acc_delta": 0.0}

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, lr: float) -> None:
        rho, eps = self.rho, self.eps
        d = self._l2_then_grad_gc(p, g)
        square_avg, acc_delta = bufs["square_avg"], bufs["acc_delta"]
        square_avg[...] = rho * square_avg + (1 - rho) * d * d
        std = np.sqrt(square_avg + eps)
        delta = np.sqrt(acc_delta + eps) / std * d
        acc_delta[...] = rho * acc_delta + (1 - rho) * delta * delta
        self._apply(p, delta, lr)


class Rprop(_Optimizer):
    r"""Resilient backpropagation (Riedmiller & Braun 1993), as ``torch.optim.Rprop``.

    Each entry has its own step size; only the sign of the gradient is used. For each
    tensor ``p`` (any shape) with gradient ``g`` of the same shape::

        d = centralize(g) if gc == "grad" else g     # no weight decay
        s = sign(d * prev)                           # torch.sign: sign(NaN) == 0
        factor = etaplus where s > 0, etaminus where s < 0, 1 where s == 0
        step_size = clip(step_size * factor, step_size_min, step_size_max)
        d = where(s < 0, 0, d)                       # sign flip: skip this entry once
        u = sign(d) * step_size                      # sign(NaN) == 0 again
        p = p - (centralize(u) if gc == "update" else u)   # no lr factor
        prev = d

    ``sign`` is ``torch.sign``, ``(x > 0) - (x < 0)``, which maps NaN to 0 (NumPy's
    ``np.sign`` keeps NaN). So a NaN gradient entry neither moves ``p`` nor changes its
    step size; it is stored in ``prev``, which makes the next ``s`` 0 (factor 1) there,
    and the entry then carries on as if ``prev`` had been 0. The factor itself is never
    NaN (unless ``step_size`` already is; torch's ``clamp`` keeps a NaN, as ``np.clip``).

    ``step_size`` starts at ``lr`` (``lr(0)`` if ``lr`` is callable, when :meth:`init`
    runs); later values of ``lr`` are never used, as in torch, whose state is created
    at the first step from the then-current ``lr``. torch zeroes ``d`` where the factor
    equals ``etaminus``, which, with ``0 < etaminus < 1 < etaplus``, is where ``s < 0``.

    Parameters
    ----------
    lr : float or callable, default 1e-2
        Initial step size of every entry, or ``lr(i)`` of which only ``lr(0)`` is used.
    etas : tuple of float, default (0.5, 1.2)
        ``(etaminus, etaplus)``, the factors applied to the step size when the gradient
        changes or keeps its sign; ``0 < etaminus < 1 < etaplus``.
    step_sizes : tuple of float, default (1e-6, 50.0)
        ``(step_size_min, step_size_max)``, the bounds of the step sizes.
    gc : {None, "grad", "update"}, default None
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, ``"prev"`` (zeros), ``"step_size"`` (filled with ``lr``).
    """

    def __init__(
        self,
        *,
        lr: LearningRate = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50.0),
        gc: str | None = None,
    ) -> None:
        super().__init__(lr, 0.0, gc)
        _check_lr(lr)
        etaminus, etaplus = (float(e) for e in etas)
        step_size_min, step_size_max = (float(s) for s in step_sizes)
        _check(0.0 < etaminus < 1.0 < etaplus, "etas", etas)
        _check(0.0 <= step_size_min <= step_size_max, "step_sizes", step_sizes)
        self.etas = (etaminus, etaplus)
        self.step_sizes = (step_size_min, step_size_max)

    def _buffers(self) -> dict[str, float]:
        return {"prev": 0.0, "step_size": 0.0}  # step_size is filled with lr(0) by init

    def init(self, params: Mapping[str, np.ndarray]) -> dict:
        """Create the state: ``"prev"`` zeros, ``"step_size"`` filled with ``lr``.

        Parameters
        ----------
        params : mapping of str to numpy.ndarray
            The parameters to be optimized (any shapes, floating dtype).

        Returns
        -------
        dict
            ``{"step": 0, "prev": {name: zeros}, "step_size": {name: full of lr}}``,
            where ``lr`` is ``lr(0)`` for a callable ``lr``.
        """
        state = super().init(params)
        initial = self.lr_at(0)
        for step_size in state["step_size"].values():
            step_size[...] = initial
        return state

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, lr: float) -> None:
        etaminus, etaplus = self.etas
        step_size_min, step_size_max = self.step_sizes
        prev, step_size = bufs["prev"], bufs["step_size"]
        d = _centralize_array(g) if self.gc == "grad" else g.copy()
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN, whose torch.sign is 0
            s = _torch_sign(d * prev)
        factor = s.copy()  # torch overwrites sign in place with three masks
        factor[s > 0] = etaplus
        factor[s < 0] = etaminus
        factor[s == 0] = 1.0
        step_size[...] = np.clip(step_size * factor, step_size_min, step_size_max)
        d[s < 0] = 0  # the gradient changed sign: no step and no sign memory for this entry
        self._apply(p, _torch_sign(d) * step_size, 1.0)
        prev[...] = d


class Lion(_Optimizer):
    r"""Lion, EvoLved Sign Momentum (Chen et al. 2023, Algorithm 2); no torch counterpart.

    For each tensor ``p`` (any shape) with gradient ``g`` of the same shape::

        d = centralize(g) if gc == "grad" else g    # no L2 term
        u = sign(beta1 * exp_avg + (1 - beta1) * d)
        if gc == "update":
            u = u + weight_decay * p                # p before this step
            p = p - lr * centralize(u)
        else:
            p = p * (1 - lr * weight_decay) - lr * u   # decoupled weight decay
        exp_avg = beta2 * exp_avg + (1 - beta2) * d

    ``sign`` is ``np.sign`` (as ``jnp.sign`` of the paper's code): a NaN stays NaN and
    reaches ``p``, unlike ``torch.sign`` (used by :class:`Rprop`), which gives 0.

    Parameters
    ----------
    lr : float or callable, default 1e-4
        Learning rate, or ``lr(i)`` of the 0-based step index ``i``.
    betas : tuple of float, default (0.9, 0.99)
        ``beta1`` interpolates the update direction, ``beta2`` is the momentum decay.
    weight_decay : float, default 0.0
        Decoupled weight-decay coefficient (multiplied by ``lr``).
    gc : {None, "grad", "update"}, default None
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, ``"exp_avg"``.
    """

    def __init__(
        self,
        *,
        lr: LearningRate = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        gc: str | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, gc)
        _check_lr(lr)
        self.betas = _checked_betas(betas, upper_closed=True)
        _check(self.weight_decay >= 0.0, "weight_decay", weight_decay)

    def _buffers(self) -> dict[str, float]:
        return {"exp_avg": 0.0}

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, lr: float) -> None:
        beta1, beta2 = self.betas
        wd = self.weight_decay
        d = _centralize_array(g) if self.gc == "grad" else g
        exp_avg = bufs["exp_avg"]
        u = np.sign(beta1 * exp_avg + (1 - beta1) * d)
        if self.gc == "update":
            if wd != 0:
                u = u + wd * p  # p before this step
            p[...] = p - lr * _centralize_array(u)
        else:
            p[...] = p * (1 - lr * wd) - lr * u
        exp_avg[...] = beta2 * exp_avg + (1 - beta2) * d


class Lookahead:
    r"""Lookahead (Zhang et al. 2019) around any reference optimizer; no torch counterpart.

    The ``inner`` optimizer moves the ("fast") parameters every step; every ``k`` steps
    they are pulled towards a slow copy, and both are set to the result. For each tensor
    ``p`` with slow weights ``slow`` (``p`` itself at :meth:`init`)::

        inner.step(p, g)                            # state["step"] becomes t (1-based)
        if t % k == 0:
            slow = slow + alpha * (p - slow)
            p = slow

    Parameters
    ----------
    inner : optimizer
        A reference optimizer (anything with ``init(params)`` and
        ``step(params, grads, state)`` that counts ``state["step"]``).
    k : int, default 5
        Synchronization period, ``k >= 1``.
    alpha : float, default 0.5
        Slow-weights step size, ``0 < alpha <= 1`` (1: plain ``inner``).

    Notes
    -----
    State keys: those of ``inner`` plus ``"slow_params"`` (``{name: array}``, a copy of
    the parameters at :meth:`init`). ``lr`` and ``gc`` are those of ``inner``.
    """

    def __init__(self, inner: _Optimizer, *, k: int = 5, alpha: float = 0.5) -> None:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"invalid k: {k!r}; expected an int >= 1")
        if not 0.0 < float(alpha) <= 1.0:
            raise ValueError(f"invalid alpha: {alpha!r}; expected 0 < alpha <= 1")
        self.inner = inner
        self.k = int(k)
        self.alpha = float(alpha)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r}, k={self.k!r}, alpha={self.alpha!r})"

    @property
    def lr(self) -> LearningRate:
        """The inner optimizer's learning rate."""
        return self.inner.lr

    @property
    def gc(self) -> str | None:
        """The inner optimizer's GC mode."""
        return self.inner.gc

    def lr_at(self, index: int) -> float:
        """Return the inner optimizer's learning rate of the step with 0-based ``index``."""
        return self.inner.lr_at(index)

    def init(self, params: Mapping[str, np.ndarray]) -> dict:
        """Create the state: the inner optimizer's plus ``"slow_params"``.

        Parameters
        ----------
        params : mapping of str to numpy.ndarray
            The parameters to be optimized (any shapes, floating dtype).

        Returns
        -------
        dict
            ``inner.init(params)`` with ``"slow_params"`` added: ``{name: copy of p}``.
        """
        state = self.inner.init(params)
        state["slow_params"] = {name: np.array(p, copy=True) for name, p in params.items()}
        return state

    def step(
        self,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray],
        state: dict,
    ) -> None:
        """Take one inner step, then synchronize with the slow weights every ``k`` steps.

        Parameters
        ----------
        params : mapping of str to numpy.ndarray
            Parameters; each array is overwritten with its new value.
        grads : mapping of str to numpy.ndarray
            Gradients with the same keys and shapes as ``params``; not modified.
        state : dict
            State from :meth:`init`; updated in place (``state["step"]`` += 1).
        """
        self.inner.step(params, grads, state)
        if state["step"] % self.k == 0:
            for name, p in params.items():
                slow = state["slow_params"][name]
                slow[...] = slow + self.alpha * (p - slow)
                p[...] = slow


class Ranger(Lookahead):
    r"""Ranger: RAdam + Lookahead + Gradient Centralization, with the GC authors' defaults.

    ``Ranger(**kw)`` is ``Lookahead(RAdam(lr, betas, eps, weight_decay,
    decoupled_weight_decay, gc), k=lookahead_k, alpha=lookahead_alpha)``; see
    :class:`RAdam` and :class:`Lookahead` for the update. The defaults (``betas=(0.95,
    0.999)``, ``eps=1e-5``, ``k=6``, ``alpha=0.5``, ``gc="grad"``) are those of the
    Ranger code released with Gradient Centralization; the RAdam step is torch's (see
    :class:`RAdam`), not that code's own RAdam variant.

    Parameters
    ----------
    lr : float or callable, default 1e-3
        Learning rate, or ``lr(i)`` of the 0-based step index ``i``.
    betas : tuple of float, default (0.95, 0.999)
        RAdam's ``(beta1, beta2)``.
    eps : float, default 1e-5
        RAdam's ``eps``.
    weight_decay : float, default 0.0
        Weight-decay coefficient: an L2 term added to the gradient, or decoupled.
    decoupled_weight_decay : bool, default False
        Decay the parameter directly instead of adding an L2 term.
    lookahead_k : int, default 6
        Lookahead synchronization period.
    lookahead_alpha : float, default 0.5
        Lookahead slow-weights step size.
    gc : {None, "grad", "update"}, default "grad"
        Gradient Centralization mode (see the module docstring).

    Notes
    -----
    State keys: ``"step"``, ``"exp_avg"``, ``"exp_avg_sq"``, ``"slow_params"``.
    """

    def __init__(
        self,
        *,
        lr: LearningRate = 1e-3,
        betas: tuple[float, float] = (0.95, 0.999),
        eps: float = 1e-5,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        lookahead_k: int = 6,
        lookahead_alpha: float = 0.5,
        gc: str | None = "grad",
    ) -> None:
        inner = RAdam(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            gc=gc,
        )
        super().__init__(inner, k=lookahead_k, alpha=lookahead_alpha)
