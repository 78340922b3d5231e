"""fastopt's fused optimizers as ``torch.optim.Optimizer`` subclasses, copying nothing per step.

``fastopt.torch.SGD``, ``RMSprop``, ``Adam``, ``AdamW``, ``Adagrad``, ``NAdam``, ``RAdam``,
``Adamax``, ``Adadelta`` and ``Rprop`` take torch's arguments, names and defaults, plus ``gc``
and ``gc_conv_only``; ``Lion``, ``Ranger`` and ``Lookahead<Name>`` (``LookaheadAdam``, ...),
which torch lacks, take fastopt's::

    import fastopt.torch

    opt = fastopt.torch.Adam(model.parameters(), lr=1e-3, gc="grad")
    for x, y in batches:
        opt.zero_grad(set_to_none=False)   # keeps the gradients in the flat buffer
        loss_fn(model(x), y).backward()
        opt.step()                         # one fused kernel call per (group, dtype)

Every optimizer of :data:`fastopt.optimizers.OPTIMIZERS` whose spec names a ``torch.optim``
class gets its adapter here, derived from the spec: one generic class,
:class:`FusedOptimizer`, and one subclass per torch class (an optimizer added later gets
its adapter for free). Importing this module needs torch; ``import fastopt`` does not.

Design
------
**Bucket views.** The parameters of each (param group, dtype) are copied once into one flat
contiguous tensor, and each ``p.data`` is rebound to a view of it (torch's own precedent:
``ZeroRedundancyOptimizer(parameters_as_bucket_view=True)``). Each view keeps the
parameter's strides when the parameter is dense (so ``channels_last`` weights stay
``channels_last``); a tensor whose gradient-centralization rows would not be contiguous
that way (dim 0 not outermost) is stored C-contiguous instead. The optimizer state lives in
the same order: ``opt.state[p]["exp_avg"]`` is a view of one flat ``(k, N)`` buffer, with
``p``'s strides, and ``opt.state[p]["step"]`` a 0-d view of one flat step-count tensor.

**Gradient views.** Gradients get a flat buffer of their own, viewed the same way (as DDP's
``gradient_as_bucket_view``). ``zero_grad(set_to_none=False)`` zeroes it and points every
existing ``p.grad`` at its view; backward then accumulates into the views in place, and a
step is one kernel call on ``.numpy()`` views of the three buffers, with no gather.

**What breaks the views, and what happens then.** Every step checks, per parameter, that
``p.data`` still lies where it was put (``data_ptr``) and whether ``p.grad`` is its view:

- ``zero_grad(set_to_none=True)`` (torch's default) sets ``p.grad = None``; backward then
  allocates fresh gradients, and the step copies them into the flat buffer first (the cost
  of one ``torch.cat``; ``p.grad`` is left as it is). The result is the same.
- ``model.to(dtype)``, ``model.to(memory_format=...)``, or ``p.data = ...``: the group is
  re-flattened from the parameters' current values, the state copied over (cast to the
  new dtype).
- A parameter without a gradient is skipped as torch skips it: its value, state and step
  count stay as they are. Parameters whose step counts then differ are stepped in runs of
  consecutive parameters sharing a count (each run one kernel call, on a copy of its state
  rows); the common case, every parameter stepped at one count, is one call.
- Tied weights (one ``Parameter`` used by several modules) are one parameter; two distinct
  parameters sharing memory, the same parameter twice, in one group or two, are errors.
- CUDA and meta tensors, float16/bfloat16, complex parameters, sparse layouts or gradients,
  and empty tensors are refused with a ``TypeError``/``ValueError`` naming the parameter.

torch semantics
---------------
- Per-parameter step counts and bias corrections; state entries appear when torch's would
  (after a parameter's first step; at construction for Adagrad), with torch's keys.
- ``param_groups[i]`` may be edited between steps (LR schedulers write ``lr``;
  ``OneCycleLR``/``CyclicLR`` write ``betas`` or ``momentum``): the learning rate is read at
  every step (0 allowed, as in torch); other changes build a new fastopt optimizer for the
  group (about 20 microseconds); changes that add state buffers (SGD's momentum from 0)
  start those buffers as torch does.
- ``state_dict()``/``load_state_dict()`` in torch's format and key names, both ways with
  ``torch.optim``. As torch's, ``state_dict()`` returns references to the live state. Keys
  torch keeps that fastopt does not use (``foreach``, ``fused``, ``capturable``,
  ``differentiable``) are ignored on loading.
- ``maximize`` negates the gradient in place for the kernel, and negates it back (exactly).
  ``step`` leaves ``p.grad``'s values as they were.
- ``step(closure)``, ``add_param_group``, and the base class's hooks work as in torch.
- Deviation: ``zero_grad(set_to_none=False)`` zeroes a gradient that is not yet a view in
  place, then points ``p.grad`` at the view: a reference kept to the old gradient tensor
  no longer follows ``p.grad``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fastopt._validate import check_bool, check_positive
from fastopt.layout import Layout
from fastopt.optim import OptimizerState
from fastopt.optimizers import OPTIMIZERS
from fastopt.optimizers import Optimizer as FlatOptimizer
from fastopt.optimizers.nadam import mu_product
from fastopt.optimizers.spec import REQUIRED
from fastopt.schedules import Schedule

_FLOAT_DTYPES = (torch.float32, torch.float64)


@dataclass(frozen=True)
class _StateFormat:
    """How torch keeps one optimizer's per-parameter state.

    Attributes
    ----------
    step : bool
        The state holds a ``"step"`` count (SGD's does not: it only knows whether its
        momentum buffer exists).
    eager : bool
        The state of every parameter is made at construction (Adagrad), not at its first
        step.
    """

    step: bool = True
    eager: bool = False
    scalars: tuple[tuple[str, Callable[[FlatOptimizer, int], float]], ...] = ()
    """Per-parameter numbers torch keeps beside the buffers, as functions of the flat
    optimizer and the parameter's step count (NAdam's ``mu_product``): kept as 0-d tensors,
    updated after each step; fastopt's kernels recompute them, so loaded values are not
    read."""


def _nadam_mu_product(flat: FlatOptimizer, step: int) -> float:
    return mu_product(flat.betas[0], flat.momentum_decay, step)


_STATE_FORMATS = {
    "SGD": _StateFormat(step=False),
    "Adagrad": _StateFormat(eager=True),
    "NAdam": _StateFormat(scalars=(("mu_product", _nadam_mu_product),)),
}
"""torch.optim classes whose state differs from the common form (step + buffers, made at a
parameter's first step). ``tests/test_torch.py`` checks every adapter's keys against torch."""


def _scalar_dtype() -> torch.dtype:
    # torch.optim's step tensors: float64 under a float64 default dtype, else float32.
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def _plain(value: object) -> object:
    """A group value as fastopt takes it: one-element tensors as numbers, lists as tuples."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    return value


class _GroupLR(Schedule):
    """One param group's current learning rate, handed to the flat step as a schedule.

    A fastopt optimizer's hyperparameters are fixed when it is made, but its ``lr`` may be a
    schedule, which the step calls with the step count. This one returns the group's
    ``lr`` as read when the step began: a scheduler's change costs no new optimizer, and
    ``lr == 0`` (a warm-up's first step; torch allows it) runs the step as torch does
    (moments and counts advance, parameters stay).
    """

    def __init__(self) -> None:
        super().__init__(1.0, 0)
        self.params = self.params.copy()  # writeable: params[0] follows the value
        self.value = 1.0

    def set(self, value: float) -> None:
        """Use ``value`` from now on."""
        self.value = value
        self.params[0] = value  # the same answer for code that reads (code, params)

    def __call__(self, t: int) -> float:
        return self.value

    def _describe(self) -> str:
        return f"group lr {self.value!r}"


def _describe(group: dict, gi: int, i: int, p: torch.Tensor) -> str:
    names = group.get("param_names")
    name = f" ({names[i]!r})" if names is not None and i < len(names) else ""
    return f"param_groups[{gi}]['params'][{i}]{name} of shape {tuple(p.shape)}"


def _check_param(p: torch.Tensor, where: str) -> None:
    """Refuse, naming the parameter, what the flat CPU kernels cannot update."""
    if p.device.type != "cpu":
        raise ValueError(f"{where} is on {p.device}; fastopt.torch runs on the CPU only")
    if p.layout != torch.strided:
        raise TypeError(f"{where} has layout {p.layout}; fastopt.torch needs dense tensors")
    if p.is_complex():
        raise TypeError(
            f"{where} is complex ({p.dtype}); fastopt.torch updates real parameters only "
            "(view it as real pairs with torch.view_as_real)"
        )
    if p.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"{where} has dtype {p.dtype}; fastopt.torch updates float32 and float64 "
            "parameters (keep float32 master weights for float16/bfloat16 training)"
        )
    if p.numel() == 0:
        raise ValueError(f"{where} is empty; leave it out of the optimizer")


def _is_dense(shape: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """The strides are a permutation of C-contiguous ones (non-overlapping and dense)."""
    expected = 1
    for st, size in sorted((st, size) for size, st in zip(shape, stride, strict=True) if size != 1):
        if st != expected:
            return False
        expected *= size
    return True


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def _extent(p: torch.Tensor) -> tuple[int, int, int]:
    """``(storage address, first byte, one past the last byte)`` that ``p`` can touch."""
    span = 1 + sum((size - 1) * st for size, st in zip(p.shape, p.stride(), strict=True))
    start = p.storage_offset() * p.element_size()
    return p.untyped_storage().data_ptr(), start, start + span * p.element_size()


def _step_count(value: object, where: str) -> int:
    """A loaded ``"step"``: a number or one-element tensor holding an integer >= 0."""
    number = _plain(value)
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise TypeError(f"{where}['step'] must be a number, got {value!r}")
    if not (math.isfinite(number) and number >= 0 and number == int(number)):
        raise ValueError(f"{where}['step'] must be a whole number >= 0, got {number!r}")
    return int(number)


class _Bucket:
    """The parameters of one (group, dtype): flat parameters, gradients, state and counts.

    Attributes
    ----------
    params : list of torch.Tensor
        The parameters, in group order; each ``p.data`` is a view of :attr:`flat_params`.
    flat_params, flat_grads : torch.Tensor of shape (N,)
        The flat buffers; ``grad_views[i]`` is parameter ``i``'s gradient view.
    buffers : ndarray of shape (len(buffer_names), N)
        The optimizer state, torch's buffers in the flat optimizer's order.
    steps : torch.Tensor of shape (n_params,)
        Each parameter's step count (float, as torch's ``state["step"]``).
    """

    def __init__(
        self,
        owner: FusedOptimizer,
        group: dict,
        gi: int,
        items: list[tuple[int, torch.Tensor]],
        flat: FlatOptimizer,
        conv_only: bool,
    ):
        dtype = items[0][1].dtype
        self.params = [p for _, p in items]
        n = len(items)
        min_rows = 4 if conv_only else 2  # GC rows: tensors with this many dims or more
        shapes, strides, layout_shapes, offsets = [], [], [], [0]
        for _, p in items:
            shape, stride = tuple(p.shape), tuple(p.stride())
            rows = len(shape) >= min_rows
            # Keep p's strides if dense and, for a centralized tensor, dim 0 outermost (each
            # GC row is then one contiguous block; the row mean does not mind the order).
            keep = _is_dense(shape, stride) and (
                not rows or shape[0] == 1 or stride[0] * shape[0] == p.numel()
            )
            shapes.append(shape)
            strides.append(stride if keep else _contiguous_strides(shape))
            size = p.numel()
            layout_shapes.append((shape[0], size // shape[0]) if rows else (size,))
            offsets.append(offsets[-1] + size)
        total = offsets[-1]
        self.offsets = offsets
        self.flat_params = torch.empty(total, dtype=dtype)
        self.flat_grads = torch.zeros(total, dtype=dtype)
        self._views = list(zip(shapes, strides, offsets, strict=False))
        param_views = [self._view(self.flat_params, i) for i in range(n)]
        self.grad_views = [self._view(self.flat_grads, i) for i in range(n)]
        for p, view in zip(self.params, param_views, strict=True):
            view.copy_(p.detach())
        self.layout = Layout([(str(i), s) for i, s in enumerate(layout_shapes)])
        self._layout_shapes = layout_shapes
        self._sub_layouts: dict[tuple[int, int], Layout] = {}

        self.buffer_names = flat.buffer_names
        self.buffers = np.empty(
            (len(self.buffer_names), total), dtype=self.flat_params.numpy().dtype
        )
        flat.fill_initial_buffers(self.buffers, self.flat_params.numpy())
        buffers = torch.from_numpy(self.buffers)
        self._buffer_views = [
            [self._view(buffers[k], i) for i in range(n)] for k in range(len(self.buffer_names))
        ]
        self.steps = torch.zeros(n, dtype=_scalar_dtype())
        self._steps = self.steps.numpy()
        self.format = owner._state_format
        self.scalars = {name: torch.ones(n, dtype=_scalar_dtype()) for name, _ in
                        self.format.scalars}  # fmt: skip
        self._adopt(owner.state, group, gi, items, flat)

        # Only now rebind: an error above leaves every parameter as it was.
        for p, view in zip(self.params, param_views, strict=True):
            p.data = view
        self._param_ptrs = [view.data_ptr() for view in param_views]
        self._grad_ptrs = [view.data_ptr() for view in self.grad_views]
        self._params_np = self.flat_params.numpy()
        self._grads_np = self.flat_grads.numpy()
        self._state = OptimizerState(
            flat.name, self.layout, self.buffer_names, self.buffers, 0, self._params_np
        )
        self._entries = [owner.state.get(p) is not None for p in self.params]
        self._all_entries = all(self._entries)
        self.gathered = 0
        """Gradients copied into the flat buffer by the last step (0: zero copy)."""

    def _view(self, flat: torch.Tensor, i: int) -> torch.Tensor:
        shape, stride, offset = self._views[i]
        # as_strided's offset counts from the storage's start, not from flat's.
        return flat.as_strided(shape, stride, flat.storage_offset() + offset)

    def _entry(self, i: int) -> dict[str, torch.Tensor]:
        """Parameter ``i``'s state as torch keeps it: views of the flat buffers."""
        entry = {"step": self.steps[i]} if self.format.step else {}
        for name, views in zip(self.buffer_names, self._buffer_views, strict=True):
            entry[name] = views[i]
        for name, values in self.scalars.items():
            entry[name] = values[i]
        return entry

    def _update_scalars(self, flat: FlatOptimizer) -> None:
        """Each parameter's scalars (``mu_product``) at its step count, after a step."""
        for name, value_of in self.format.scalars:
            values = self.scalars[name].numpy()
            for step in np.unique(self._steps):
                values[self._steps == step] = value_of(flat, int(step))

    def _adopt(self, state: dict, group: dict, gi: int, items: list,
               owner_flat: FlatOptimizer) -> None:  # fmt: skip
        """Copy each parameter's existing state (ours or a loaded one) into the flat buffers.

        Missing buffers keep their starting values. Without a count in torch's format
        (SGD), a parameter counts as stepped once all its buffers exist.
        """
        for i, (index, p) in enumerate(items):
            old = state.get(p)
            if not old:
                continue
            where = f"state of {_describe(group, gi, index, p)}"
            found = 0
            for name, views in zip(self.buffer_names, self._buffer_views, strict=True):
                value = old.get(name)
                if value is None:
                    continue
                if not isinstance(value, torch.Tensor) or value.shape != p.shape:
                    shape = tuple(value.shape) if isinstance(value, torch.Tensor) else value
                    raise ValueError(
                        f"{where}: {name!r} must be a tensor of shape "
                        f"{tuple(p.shape)}, got {shape!r}"
                    )
                views[i].copy_(value.detach())
                found += 1
            if self.format.step:
                self._steps[i] = _step_count(old.get("step", 0), where)
            else:
                self._steps[i] = 1 if found == len(self.buffer_names) > 0 else 0
        if self.scalars:
            self._update_scalars(owner_flat)
        # Entries torch would have now, as views; the old ones go.
        for i, p in enumerate(self.params):
            has = (self.format.eager or self._steps[i] > 0) and (
                self.format.step or len(self.buffer_names) > 0
            )
            if has:
                state[p] = self._entry(i)
            else:
                state.pop(p, None)

    def moved(self) -> bool:
        """Some ``p.data`` no longer lies in the flat buffer (``model.to()``, ``p.data = x``)."""
        return any(
            p.data_ptr() != ptr for p, ptr in zip(self.params, self._param_ptrs, strict=True)
        )

    def zero_grad(self) -> None:
        """``zero_grad(set_to_none=False)``: zero the gradients, as views of the flat buffer."""
        self.flat_grads.zero_()
        for p, view in zip(self.params, self.grad_views, strict=True):
            g = p.grad
            if g is None or g is view:
                continue
            # As torch: the old gradient is zeroed in place, for whoever still holds it.
            if g.grad_fn is not None:
                g.detach_()
            else:
                g.requires_grad_(False)
            g.zero_()
            p.grad = view

    def step(self, flat: FlatOptimizer, maximize: bool, state: dict, describe: Callable) -> None:
        """One step of every parameter that has a gradient (see the module docstring)."""
        missing = []
        gathered = 0
        for i, (p, view, ptr) in enumerate(
            zip(self.params, self.grad_views, self._grad_ptrs, strict=True)
        ):
            g = p.grad
            if g is view and g.data_ptr() == ptr:
                continue
            if g is None:
                missing.append(i)
                continue
            if g.layout != torch.strided:
                raise TypeError(
                    f"the gradient of {describe(p)} is sparse ({g.layout}); fastopt.torch "
                    "needs dense gradients (torch.optim.SparseAdam takes sparse ones)"
                )
            view.copy_(g.detach())
            gathered += 1
        self.gathered = gathered
        steps = self._steps
        if len(missing) == len(self.params):
            return
        if maximize:
            self.flat_grads.neg_()  # exact, and undone below: step keeps p.grad's values
        try:
            if not missing and steps[0] == steps[-1] and steps.min() == steps.max():
                self._run(flat, 0, len(self.params), int(steps[0]))
                steps += 1
                stepped = None
            else:
                stepped = np.ones(len(self.params), dtype=bool)
                stepped[missing] = False
                for a, b in self._runs(stepped):
                    self._run(flat, a, b, int(steps[a]))
                steps[stepped] += 1
        finally:
            if maximize:
                self.flat_grads.neg_()
        if self.scalars:
            self._update_scalars(flat)
        if not self._all_entries:
            self._add_entries(stepped, state)

    def _runs(self, stepped: np.ndarray) -> Iterable[tuple[int, int]]:
        """Maximal ``[a, b)`` of consecutive stepped parameters sharing a step count."""
        steps, n, a = self._steps, len(stepped), 0
        while a < n:
            if not stepped[a]:
                a += 1
                continue
            b = a + 1
            while b < n and stepped[b] and steps[b] == steps[a]:
                b += 1
            yield a, b
            a = b

    def _run(self, flat: FlatOptimizer, a: int, b: int, t: int) -> None:
        """The kernel on parameters ``[a, b)``, all at step count ``t``."""
        if a == 0 and b == len(self.params):
            self._state.step = t
            flat.step(self._params_np, self._grads_np, self._state)
            return
        lo, hi = self.offsets[a], self.offsets[b]
        layout = self._sub_layouts.get((a, b))
        if layout is None:
            shapes = self._layout_shapes[a:b]
            layout = self._sub_layouts[a, b] = Layout([(str(i), s) for i, s in enumerate(shapes)])
        # The state of a run is a column block of the (k, N) buffers: C-contiguous only for
        # k <= 1, so the kernel gets a copy otherwise, written back after.
        block = self.buffers[:, lo:hi]
        copied = not block.flags.c_contiguous
        if copied:
            block = np.ascontiguousarray(block)
        params = self._params_np[lo:hi]
        run_state = OptimizerState(flat.name, layout, self.buffer_names, block, t, params)
        flat.step(params, self._grads_np[lo:hi], run_state)
        if copied:
            self.buffers[:, lo:hi] = block

    def _add_entries(self, stepped: np.ndarray | None, state: dict) -> None:
        if not (self.format.step or self.buffer_names):
            self._all_entries = True  # torch keeps no state for this optimizer
            return
        for i, p in enumerate(self.params):
            if not self._entries[i] and (stepped is None or stepped[i]):
                state[p] = self._entry(i)
                self._entries[i] = True
        self._all_entries = all(self._entries)


class _Group:
    """One param group's buckets and its fastopt optimizer, rebuilt when they go stale."""

    def __init__(self, owner: FusedOptimizer, group: dict, index: int):
        self.owner = owner
        self.group = group
        self.index = index
        self._lr = _GroupLR()
        self._key: tuple | None = None
        self.flat: FlatOptimizer | None = None
        self.buckets: list[_Bucket] = []
        self._built_for: tuple | None = None
        self.refresh()

    @property
    def where(self) -> str:
        """How errors name this group."""
        return f"param_groups[{self.index}]"

    def describe(self, p: torch.Tensor) -> str:
        """How errors name parameter ``p`` of this group."""
        for i, q in enumerate(self.group["params"]):
            if q is p:
                return _describe(self.group, self.index, i, p)
        return f"a parameter of shape {tuple(p.shape)}"

    def _options(self) -> tuple[FlatOptimizer, bool, bool]:
        """The group's fastopt optimizer, ``maximize`` and ``gc_conv_only``, checked.

        The optimizer is made anew when a hyperparameter other than ``lr`` changed; the
        learning rate of the next step is set here.
        """
        owner, group = self.owner, self.group
        try:
            lr = check_positive(f"{self.where}['lr']", _plain(group["lr"]), allow_zero=True)
            key = tuple(_plain(group[name]) for name in owner._torch_names) + (group["gc"],)
            maximize = group["maximize"]
            if type(maximize) is not bool:
                maximize = check_bool(f"{self.where}['maximize']", maximize)
            conv_only = group["gc_conv_only"]
            if type(conv_only) is not bool:
                conv_only = check_bool(f"{self.where}['gc_conv_only']", conv_only)
        except KeyError as error:
            raise KeyError(f"{self.where} lacks the key {error.args[0]!r}") from None
        if key != self._key:
            kwargs = dict(zip(owner._flat_names, key[:-1], strict=True))
            try:
                self.flat = owner.fastopt_class(lr=self._lr, gc=key[-1], **kwargs)
            except (TypeError, ValueError) as error:
                raise type(error)(f"{self.where}: {error}") from None
            self._key = key
        self._lr.set(lr)
        return self.flat, maximize, conv_only

    def refresh(self) -> tuple[FlatOptimizer, bool]:
        """Check the group, rebuilding its buckets if anything broke them.

        Returns the fastopt optimizer and ``maximize`` for a step.
        """
        flat, maximize, conv_only = self._options()
        params = self.group["params"]
        built_for = (id(params), len(params), flat.buffer_names, conv_only)
        if built_for != self._built_for or any(b.moved() for b in self.buckets):
            self._build(flat, conv_only)
            self._built_for = built_for
        return flat, maximize

    def _build(self, flat: FlatOptimizer, conv_only: bool) -> None:
        group, gi = self.group, self.index
        params = list(group["params"])
        for i, p in enumerate(params):
            _check_param(p, _describe(group, gi, i, p))
        self.owner._check_no_shared_memory()
        by_dtype: dict[torch.dtype, list[tuple[int, torch.Tensor]]] = {}
        for i, p in enumerate(params):
            by_dtype.setdefault(p.dtype, []).append((i, p))
        self.buckets = [
            _Bucket(self.owner, group, gi, items, flat, conv_only) for items in by_dtype.values()
        ]

    def step(self) -> None:
        """Step every bucket of the group."""
        flat, maximize = self.refresh()
        for bucket in self.buckets:
            bucket.step(flat, maximize, self.owner.state, self.describe)

    def zero_grad(self) -> None:
        """``zero_grad(set_to_none=False)`` of every bucket."""
        self.refresh()
        for bucket in self.buckets:
            bucket.zero_grad()


class FusedOptimizer(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` that steps with a fastopt fused kernel.

    A subclass sets ``fastopt_class`` (a :class:`fastopt.optimizers.Optimizer` whose spec
    names a ``torch.optim`` class); its signature, defaults and state format are then
    torch's. Use the subclasses, e.g. :class:`fastopt.torch.Adam`. See the module docstring
    for the design and the semantics.

    Parameters
    ----------
    params : iterable of torch.Tensor, of (name, tensor) pairs, or of dicts
        Parameters or param groups, as for any ``torch.optim`` optimizer. CPU, float32 or
        float64, real, dense.
    *hyperparameters
        The torch optimizer's, with its names and defaults (``lr``, ``betas``, ...).
    maximize : bool, default False
        Maximize the objective (the gradient is negated), as torch's.
    gc : {None, "grad", "update"}, default None
        Gradient centralization: each row ``p[j]`` of a tensor with 2 or more dims gets
        zero mean, in the gradient before the moments (``"grad"``) or in the step direction
        (``"update"``); see :mod:`fastopt.optim`.
    gc_conv_only : bool, default False
        Centralize only tensors with more than 3 dims (conv weights), as the official GC
        code's conv-only variant.

    Attributes
    ----------
    fastopt_class : type
        The flat fastopt optimizer that does the arithmetic.
    """

    fastopt_class: type[FlatOptimizer]
    _torch_names: tuple[str, ...] = ()
    """Hyperparameters other than ``lr``, torch's names, in spec order."""
    _flat_names: tuple[str, ...] = ()
    """The same, fastopt's names."""
    _state_format: _StateFormat = _StateFormat()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        flat = cls.__dict__.get("fastopt_class")
        if flat is None:
            return
        spec = flat.spec
        ours = {h.torch or h.name: h for h in spec.hyperparameters}
        if spec.torch is not None:
            theirs = dict(inspect.signature(getattr(torch.optim, spec.torch).__init__).parameters)
        else:  # no torch class (Lion, Lookahead, Ranger): lr positional, as torch's, then ours
            lr = spec.hyperparameters[0]
            theirs = {
                "self": None,
                "params": None,
                "lr": inspect.Parameter(
                    "lr", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    default=inspect.Parameter.empty if lr.default is REQUIRED else lr.default,
                ),
            }  # fmt: skip
        positional, keyword = [], []
        in_order = True
        # torch's positional hyperparameters first, in its order; the rest keyword-only.
        for name, parameter in list(theirs.items())[2:]:  # self, params
            if name not in ours or parameter.kind is not parameter.POSITIONAL_OR_KEYWORD:
                in_order = False
                continue
            default = parameter.default
            if in_order:
                positional.append(
                    inspect.Parameter(name, parameter.POSITIONAL_OR_KEYWORD, default=default)
                )
            else:
                keyword.append(inspect.Parameter(name, parameter.KEYWORD_ONLY, default=default))
        for name, hyper in ours.items():
            if name not in theirs:  # fastopt-only: keyword, fastopt's default
                default = inspect.Parameter.empty if hyper.default is REQUIRED else hyper.default
                keyword.append(
                    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
                )
        maximize = theirs["maximize"].default if "maximize" in theirs else False
        options = [
            inspect.Parameter("maximize", inspect.Parameter.KEYWORD_ONLY, default=maximize),
            inspect.Parameter("gc", inspect.Parameter.KEYWORD_ONLY, default=spec.gc),
            inspect.Parameter("gc_conv_only", inspect.Parameter.KEYWORD_ONLY, default=False),
        ]
        params = inspect.Parameter("params", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        cls.__signature__ = inspect.Signature([params, *positional, *keyword, *options])
        cls._torch_names = tuple(h.torch or h.name for h in spec.hyperparameters if h.name != "lr")
        cls._flat_names = tuple(h.name for h in spec.hyperparameters if h.name != "lr")
        cls._state_format = _STATE_FORMATS.get(spec.torch or "", _StateFormat())

    def __init__(self, params: Iterable, *args: object, **kwargs: object):
        if not hasattr(type(self), "fastopt_class"):
            raise TypeError("use a subclass of FusedOptimizer, e.g. fastopt.torch.Adam")
        bound = type(self).__signature__.bind(params, *args, **kwargs)
        bound.apply_defaults()
        defaults = dict(bound.arguments)
        del defaults["params"]
        # Checked here first, so that an error names the argument as the caller spelled it.
        flat_kwargs = {
            f: _plain(defaults[t]) for f, t in zip(self._flat_names, self._torch_names, strict=True)
        }
        lr = check_positive("lr", _plain(defaults["lr"]), allow_zero=True)
        self.fastopt_class(lr=lr or 1.0, gc=defaults["gc"], **flat_kwargs)
        check_bool("maximize", defaults["maximize"])
        check_bool("gc_conv_only", defaults["gc_conv_only"])
        self._groups: list[_Group] = []
        super().__init__(params, defaults)

    # --- param groups ---------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a param group (torch's rules), flattening its parameters at once.

        Raises
        ------
        TypeError, ValueError
            For a bad hyperparameter (naming ``param_groups[i]`` and the key), a parameter
            given twice (in this group or another), or one the kernels cannot update.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        params = param_group.get("params")
        if isinstance(params, torch.Tensor):
            params = [params]
        elif params is not None and not isinstance(params, set):
            params = list(params)  # torch would consume a generator: keep what it reads
        param_group["params"] = params
        if isinstance(params, list):
            tensors = [p[1] if isinstance(p, tuple) else p for p in params]
            index = len(self.param_groups)
            seen: dict[int, int] = {}
            others = {id(p) for g in self.param_groups for p in g["params"]}
            for i, p in enumerate(tensors):
                if not isinstance(p, torch.Tensor):
                    continue  # torch's own check names it
                if id(p) in seen:
                    raise ValueError(
                        f"param_groups[{index}]['params'][{i}] is the same "
                        f"tensor as [{seen[id(p)]}]; give each parameter once"
                    )
                if id(p) in others:
                    raise ValueError(
                        f"param_groups[{index}]['params'][{i}] is in another "
                        "param group already; a parameter belongs to one group"
                    )
                seen[id(p)] = i
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        try:
            self._groups.append(_Group(self, group, len(self.param_groups) - 1))
        except BaseException:
            self.param_groups.pop()
            raise

    def _sync_groups(self) -> list[_Group]:
        """The groups' engines, made anew for any group replaced or added behind our back."""
        groups = self._groups
        if len(groups) != len(self.param_groups) or any(
            e.group is not g for e, g in zip(groups, self.param_groups, strict=False)
        ):
            kept = {id(e.group): e for e in groups}
            groups = self._groups = [
                kept.get(id(g)) or _Group(self, g, i) for i, g in enumerate(self.param_groups)
            ]
            for i, engine in enumerate(groups):
                engine.index = i
        return groups

    def _check_no_shared_memory(self) -> None:
        """Distinct parameters that share memory would be split apart by re-flattening."""
        spans = []
        for gi, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                if isinstance(p, torch.Tensor) and p.device.type == "cpu" and p.numel() > 0:
                    spans.append((*_extent(p), gi, i, p))
        spans.sort(key=lambda s: s[:3])
        for (ptr_a, _, end_a, ga, ia, pa), (ptr_b, start_b, _, gb, ib, pb) in zip(
            spans, spans[1:], strict=False
        ):
            if ptr_a == ptr_b and start_b < end_a:
                raise ValueError(
                    f"{_describe(self.param_groups[ga], ga, ia, pa)} and "
                    f"{_describe(self.param_groups[gb], gb, ib, pb)} share memory; "
                    "fastopt.torch needs parameters of their own (tie weights by using one "
                    "Parameter in both places)"
                )

    # --- the torch.optim API --------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Take one step on every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (called with gradients enabled).

        Returns
        -------
        The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self._sync_groups():
            group.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients, as torch's.

        Parameters
        ----------
        set_to_none : bool, default True
            Set every ``p.grad`` to None (the next step then copies the fresh gradients into
            the flat buffer). With False, zero them and make each a view of the flat
            gradient buffer, so that the next step copies nothing.
        """
        if set_to_none:
            super().zero_grad(set_to_none=True)
            return
        with torch.no_grad():
            for group in self._sync_groups():
                group.zero_grad()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict`, ours or a ``torch.optim`` optimizer's.

        Values are copied into new flat buffers (the dict is not referenced after). On an
        error (a buffer of the wrong shape, a negative step...) the optimizer is left as it
        was.
        """
        saved = (self.state, self.param_groups, self._groups)
        try:
            super().load_state_dict(state_dict)
        except BaseException:
            # Parameters already moved to new buffers are found moved at the next step, and
            # flattened again from the old state.
            self.state, self.param_groups, self._groups = saved
            raise

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self.defaults.items():
                group.setdefault(key, value)
            decoupled = group.get("decoupled_weight_decay")
            ours = self.fastopt_class.spec.constants.get("decoupled")
            if decoupled is not None and ours is not None and bool(decoupled) != (ours > 0):
                raise ValueError(
                    f"the state was saved with decoupled_weight_decay={decoupled}; "
                    f"{type(self).__name__} has decoupled_weight_decay={ours > 0}"
                )
        # Loaded state (torch's or ours) is copied into new flat buffers.
        with torch.no_grad():
            self._groups = [_Group(self, g, i) for i, g in enumerate(self.param_groups)]


def _adapter(flat: type[FlatOptimizer]) -> type[FusedOptimizer]:
    name = flat.spec.torch or flat.__name__
    if flat.spec.torch is not None:
        doc = (
            f"fastopt's fused {flat.__name__} as ``torch.optim.{name}``, with ``gc`` and "
            f"``gc_conv_only``.\n\n    The update is that of :class:`fastopt.{flat.__name__}`; "
            "arguments, defaults and state format are torch's.\n    See "
            ":class:`FusedOptimizer` and the module docstring.\n    "
        )
    else:
        doc = (
            f"fastopt's fused {flat.__name__} as a ``torch.optim.Optimizer`` (torch has "
            f"none), with ``gc`` and ``gc_conv_only``.\n\n    The update, arguments and "
            f"defaults are those of :class:`fastopt.optimizers.{flat.__name__}` (``lr`` "
            "positional, the rest keyword-only); the state holds ``step`` and its buffers.\n"
            "    See :class:`FusedOptimizer` and the module docstring.\n    "
        )
    return type(
        name,
        (FusedOptimizer,),
        {"fastopt_class": flat, "__doc__": doc, "__module__": __name__, "__qualname__": name},
    )


def _adapters() -> dict[str, type[FusedOptimizer]]:
    """One adapter per torch.optim class named by a spec.

    For a class several optimizers name, the one whose name is torch's lower-cased (``SGD``,
    not its variant ``Momentum``), else the first registered.
    """
    chosen: dict[str, type[FlatOptimizer]] = {}
    for flat in OPTIMIZERS.values():
        name = flat.spec.torch
        if name is None:  # no torch class: an adapter under our class's name
            chosen[flat.__name__] = flat
            continue
        if not hasattr(torch.optim, name):
            continue
        if name not in chosen or flat.spec.name == name.lower():
            chosen[name] = flat
    return {name: _adapter(flat) for name, flat in chosen.items()}


ADAPTERS: dict[str, type[FusedOptimizer]] = _adapters()
"""The adapters by class name: one per torch.optim class a spec names (``SGD``, ``RMSprop``,
``Adam``, ``AdamW``, ``Adagrad``, ``NAdam``, ``RAdam``, ``Adamax``, ``Adadelta``, ``Rprop``),
and one per optimizer torch lacks, under fastopt's class name (``Lion``, ``Ranger``,
``LookaheadAdam``, ``LookaheadSGD``, ...)."""
globals().update(ADAPTERS)

__all__ = ["ADAPTERS", "FusedOptimizer", *ADAPTERS]
