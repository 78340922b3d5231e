"""The base of every fused optimizer: checked steps, flat state, state files.

See :mod:`fastopt.optim` for the conventions (gradient centralization modes included) and
:mod:`fastopt.optimizers.spec` for how one optimizer is declared.
"""

from __future__ import annotations

import inspect
import json
import os
import weakref
from typing import NamedTuple

import numba
import numpy as np

from fastopt._compile import READY, ensure_compiled
from fastopt._kernels import fused as _k
from fastopt._npz import ArchiveError, NpzReader, expect, expect_text
from fastopt._validate import check_bool, check_int
from fastopt.layout import FLOAT_DTYPES, Layout
from fastopt.optimizers.spec import PARAMS, REQUIRED, OptimizerSpec
from fastopt.schedules import MAX_STEP, Schedule

GC_MODES = {None: _k.GC_NONE, "grad": _k.GC_GRAD, "update": _k.GC_UPDATE}
"""Accepted ``gc`` values and the kernels' codes."""

PARALLEL_MIN_SIZE = 1 << 15
"""Parameters from which a step runs on Numba's threads; below, thread start-up costs more
than it saves: on the 2-core EPYC threads win from 32k entries for Adam (1.6x) and 64k for
SGD (``python -m bench.optim_bandwidth --threshold``)."""

CHUNK = 1 << 14
"""Entries per chunk handed to one thread, outside GC rows."""

GC_CHUNK = 1 << 17
"""Entries per chunk of GC rows (whole rows, at least one): a chunk's first row takes a mean
pass of its own and its last row a give-back pass, so chunks of GC rows are longer."""

STATE_FORMAT = "fastopt-optimizer-state"
STATE_VERSION = 1


def chunk_table(layout: Layout, centralize: bool) -> np.ndarray:
    """The kernels' work units for a layout: how a step is cut among threads.

    Parameters
    ----------
    layout : Layout
        The flat vector's layout.
    centralize : bool
        With gradient centralization, a chunk holds whole GC rows of one tensor (a row mean
        needs the whole row); without, chunks are ``CHUNK`` entries cut anywhere.

    Returns
    -------
    ndarray of shape (n_chunks, 3), int64
        Rows ``(start, stop, gc_row_length)`` tiling ``[0, layout.size)`` in order, without
        gaps or overlaps; ``gc_row_length`` is 0 where nothing is centralized (see
        ``fastopt._kernels.fused``).
    """
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
                per_chunk = max(1, GC_CHUNK // length) * length
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
        self._checked_buffers: np.ndarray | None = None  # buffers known not to overlap params
        self._chunks = {False: chunk_table(layout, False)}
        self._coefficients: np.ndarray | None = None  # the optimizer's record, per step

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
            self._chunks[centralize] = chunk_table(self.layout, centralize)
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
        """Write the state to an ``.npz`` file; :meth:`Optimizer.load_state` reads it exactly.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced atomically if it exists). The archive holds two arrays
            and no pickle: ``buffers`` and ``meta``, a JSON string (optimizer name, buffer
            names, layout, dtype, step).
        """
        path = _check_path(path)
        meta = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "optimizer": self.optimizer,
            "buffer_names": list(self.buffer_names),
            "layout": [[spec.name, list(spec.shape)] for spec in self.layout],
            "dtype": self.dtype.name,
            "step": check_int("state.step", self.step, 0, MAX_STEP - 1),
        }
        # Written whole, then renamed into place: a killed process never leaves half a state
        # where the previous one was.
        tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                np.savez(f, buffers=self.buffers, meta=np.array(json.dumps(meta)))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


class Optimizer:
    """Base class of the fused optimizers; see the module docstring for the conventions.

    A subclass is one line plus its docstring: ``class Adam(Optimizer): spec = ADAM``, the
    :class:`~fastopt.optimizers.spec.OptimizerSpec` that declares its hyperparameters,
    buffers, coefficients and element loop. Hyperparameters are keyword-only, checked on
    construction, and kept as read-only attributes of the same names.
    """

    spec: OptimizerSpec

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("spec")
        if spec is None:
            return
        cls.name = spec.name
        parameters = [
            inspect.Parameter(h.name, inspect.Parameter.KEYWORD_ONLY,
                              default=inspect.Parameter.empty if h.default is REQUIRED
                              else h.default)
            for h in spec.hyperparameters
        ]  # fmt: skip
        parameters.append(inspect.Parameter("gc", inspect.Parameter.KEYWORD_ONLY,
                                            default=spec.gc))  # fmt: skip
        cls.__signature__ = inspect.Signature(parameters)

    def __init__(self, *, gc: object = REQUIRED, **hyperparameters: object):
        spec = self.spec
        if gc is REQUIRED:  # not given: the spec's default (None but for Ranger)
            gc = spec.gc
        hp = spec.validate(hyperparameters)
        # Test the type first: an unhashable gc (a list) would fail the lookup with a
        # message that does not name it, and True == 1 must not pass for a mode.
        if not (gc is None or isinstance(gc, str)) or gc not in GC_MODES:
            raise ValueError(f"gc must be None, 'grad' or 'update', got {gc!r}")
        self._hp = hp
        self._gc = gc
        self._buffer_names = tuple(spec.buffers(hp))
        self._hyper = spec.hyper_record(hp)

    def __getattr__(self, name: str) -> object:
        # Hyperparameters read as attributes (opt.lr, opt.betas); only called for names
        # that are not found otherwise.
        hp = self.__dict__.get("_hp")
        if hp is not None and name in hp:
            return hp[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: object) -> None:
        if not name.startswith("_"):
            raise AttributeError(
                f"{type(self).__name__}.{name} is fixed at construction (the kernels' record "
                "is built from it); make a new optimizer, or give lr a schedule"
            )
        object.__setattr__(self, name, value)

    @property
    def gc(self) -> str | None:
        """Gradient centralization: None, ``"grad"`` or ``"update"``."""
        return self._gc

    @property
    def buffer_names(self) -> tuple[str, ...]:
        """Names of the state buffers this optimizer keeps, in storage order (torch's names)."""
        return self._buffer_names

    def hyper_record(self) -> np.ndarray:
        """The hyperparameters as the kernels read them: a read-only (1,) record array."""
        return self._hyper

    def hyperparameters(self) -> dict[str, object]:
        """The constructor's arguments, e.g. for a results table."""
        return {**self._hp, "gc": self._gc}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"

    def lr_at(self, t: int) -> float:
        """Learning rate of 0-based step ``t`` (an int >= 0)."""
        if isinstance(self.lr, Schedule):
            return self.lr(t)  # checks t
        check_int("t", t, 0, MAX_STEP)
        return self.lr

    def fill_initial_buffers(self, buffers: np.ndarray, params: np.ndarray | None = None) -> None:
        """Write each state buffer's starting value, in place.

        What :meth:`init` does to a new state, for callers that keep buffers of their own
        (``fastopt.sweep`` keeps one state block per run of a grid).

        Parameters
        ----------
        buffers : ndarray of shape (n_rows, n)
            Float32 or float64, writeable; ``n_rows >= len(buffer_names)``. Row ``i`` is set
            to the start of buffer ``buffer_names[i]`` (zero, Adagrad's
            ``initial_accumulator_value``, Rprop's ``lr``, or a copy of ``params`` for
            Lookahead's ``slow_params``); rows past ``len(buffer_names)`` are left as they
            are (a grid's state block is as tall as its tallest optimizer's).
        params : ndarray of shape (n,), optional
            The parameters the state is for; needed when a buffer starts as their copy.
        """
        n_buffers = len(self.buffer_names)
        if not isinstance(buffers, np.ndarray):
            raise TypeError(f"buffers must be a NumPy array, got {type(buffers).__name__}")
        if buffers.dtype not in FLOAT_DTYPES:
            raise TypeError(f"buffers must have dtype float32 or float64, got {buffers.dtype}")
        if buffers.ndim != 2 or buffers.shape[0] < n_buffers:
            raise ValueError(
                f"buffers must have shape (n_rows >= {n_buffers}, n), got {buffers.shape}"
            )
        if not buffers.flags.writeable:
            raise ValueError("buffers is read-only: it is filled in place")
        initial = self.spec.initial_values(self._hp)
        if any(value is PARAMS for value in initial):
            if not isinstance(params, np.ndarray) or params.shape != buffers.shape[1:]:
                raise ValueError(
                    f"{self.name} starts a buffer as a copy of the parameters: give params, "
                    f"an array of shape {buffers.shape[1:]}"
                )
        for row, value in zip(buffers, initial, strict=False):
            row[...] = params if value is PARAMS else value

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
        buffers = np.empty((len(self.buffer_names), layout.size), dtype=params.dtype)
        self.fill_initial_buffers(buffers, params)
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
            Their gradient, same dtype; not modified. Its memory must not overlap that of
            ``params`` or of the state buffers (the step writes those while reading it).
        state : OptimizerState
            This optimizer's state for ``params``; its step count advances by one.
        check_finite : bool
            If true, first check ``grads`` and raise ``FloatingPointError`` naming the first
            tensor that holds NaN or inf, leaving ``params`` and ``state`` untouched.

        Raises
        ------
        TypeError, ValueError
            On a bad argument (dtype, length, layout, read-only or non-contiguous params,
            overlapping arrays, a state made for other params or another optimizer), before
            anything is written.
        """
        if check_finite is not False:  # the default skips the call: this runs on every step
            check_finite = check_bool("check_finite", check_finite)
        layout = self._check_state(state)
        params = _check_params(params, layout)
        if not state._belongs_to(params):
            raise ValueError(
                "state was made by init() for another params array; "
                "call init() (or load_state()) for this one"
            )
        if params.dtype != state.dtype:
            raise TypeError(f"params has dtype {params.dtype} but state has {state.dtype}")
        grads = _check_grads(grads, params, state.buffers, layout)
        if state._checked_buffers is not state.buffers:
            # Once per buffers object: params' memory is fixed by _belongs_to above.
            if _overlap(params, state.buffers):
                raise ValueError(
                    "params shares memory with the state buffers; give each its own array"
                )
            state._checked_buffers = state.buffers
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
        if coef is None or coef.dtype != self.spec.coefficient_dtype:
            # Zeros: a record that carries something from step to step (NAdam's product of
            # momentum factors) starts from nothing and recomputes it.
            coef = state._coefficients = np.zeros(1, dtype=self.spec.coefficient_dtype)
        lr = self._hp["lr"]  # not self.lr: __getattr__ costs a microsecond on every step
        if isinstance(lr, Schedule):
            lr = lr(t)  # t checked above
        gc_mode = GC_MODES[self.gc]
        chunks = state.chunks(gc_mode != _k.GC_NONE)
        threaded = layout.size >= PARALLEL_MIN_SIZE
        run = (_k.STEP_PARALLEL if threaded else _k.STEP_SERIAL)[gc_mode]
        args = (self._hyper, t, lr, coef, params, grads, state.buffers, chunks)
        if threaded:
            args += (numba.get_num_threads(),)
        key = (run, coef.dtype, params.dtype)
        if key not in READY:  # first use in this process: compile, saying so if slow
            what = f"{self.name}/{params.dtype}{' threaded' if threaded else ''} step"
            ensure_compiled(what if self.gc is None else f"{what} gc={self.gc}", [(run, args)],
                            key)  # fmt: skip
        run(*args)
        state.step = t + 1

    def load_state(
        self, path: str | os.PathLike, params: np.ndarray, layout: Layout
    ) -> OptimizerState:
        """Read a state written by :meth:`OptimizerState.save`, for ``params`` and ``layout``.

        The file is checked against the format before use and nothing in it is unpickled:
        its members, the meta's keys and types, the step (an int >= 0), the layout entries,
        and the buffers' header (shape and dtype) before their data is read.

        Parameters
        ----------
        path : str or os.PathLike
            The ``.npz`` file.
        params : ndarray of shape (layout.size,)
            The parameters the state will update (it is bound to them, as by :meth:`init`).
        layout : Layout
            Their layout; it must be the one the state was saved for.

        Returns
        -------
        OptimizerState
            New buffers (C-contiguous, writeable) and the saved step count.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            ``'<path>' is not a valid fastopt optimizer state: <why>`` if the file is not one
            (a folder, empty, truncated, random bytes, a plain ``.npy``, missing or malformed
            meta, a forged step, buffers of the wrong shape...); or, for a valid state, if it
            was saved by another optimizer, for another layout, or with other buffers (e.g.
            momentum on vs off).
        TypeError
            If ``layout`` is not a Layout or ``path`` not a path, or the state's dtype is not
            that of ``params``.
        """
        if not isinstance(layout, Layout):
            raise TypeError(f"layout must be a fastopt.Layout, got {type(layout).__name__}")
        params = _check_params(params, layout)
        with _StateFile(_check_path(path)) as file:
            saved = file.meta
            where = f"'{file.path}'"
            if saved.optimizer != self.name:
                raise ValueError(
                    f"{where} holds a {saved.optimizer!r} state; this optimizer is {self.name!r}"
                )
            if saved.layout != layout:
                raise ValueError(f"{where} was saved for {saved.layout!r}, not for {layout!r}")
            if saved.dtype != params.dtype:
                raise TypeError(
                    f"{where} holds {saved.dtype} buffers but params has {params.dtype}"
                )
            if saved.buffer_names != self.buffer_names:
                raise ValueError(
                    f"{where} holds buffers {list(saved.buffer_names)} but {self!r} needs "
                    f"{list(self.buffer_names)}"
                )
            buffers = file.buffers((len(self.buffer_names), layout.size), params.dtype)
        return OptimizerState(self.name, layout, self.buffer_names, buffers, saved.step, params)

    def _check_state(self, state: object) -> Layout:
        if not isinstance(state, OptimizerState):
            raise TypeError(f"state must come from init(), got {type(state).__name__}")
        if state.optimizer != self.name:
            raise ValueError(f"state belongs to a {state.optimizer!r} optimizer, not {self.name!r}")
        # A step count set by hand must still be one the kernels can use (-1 would make the
        # bias corrections of Adam divide by zero on the next step).
        state.step = check_int("state.step", state.step, 0, MAX_STEP - 1)
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


def _check_params(params: object, layout: Layout) -> np.ndarray:
    params = layout.check_flat(params, "params")
    flags = params.flags
    if not flags.c_contiguous:
        raise ValueError("params must be C-contiguous: it is updated in place")
    if not flags.writeable:
        raise ValueError("params is read-only: it is updated in place")
    return params


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    # Two arrays that own their memory overlap only if they are one array (the common case,
    # decided without a call: this runs on every step). Otherwise the bounds test is nearly
    # free and almost always says no; only then solve exactly.
    if a.base is None and b.base is None:
        return a is b
    return np.may_share_memory(a, b) and np.shares_memory(a, b)


def _check_grads(
    grads: object, params: np.ndarray, buffers: np.ndarray, layout: Layout
) -> np.ndarray:
    """``grads`` checked against ``params`` and the state buffers, made C-contiguous.

    The fused pass writes ``params`` and the buffers while it reads ``grads`` (and, with GC,
    reads a row twice), so any shared memory (``params[:]``, ``params[::1]``, a reshaped view,
    an overlapping slice of one bigger buffer) gives other numbers than a copy: refused
    here, before the copy of a strided ``grads`` would hide it.
    """
    grads = layout.check_flat(grads, "grads")
    if grads.dtype != params.dtype:
        raise TypeError(f"grads has dtype {grads.dtype} but params has {params.dtype}")
    if _overlap(grads, params):
        raise ValueError(
            "grads and params share memory (grads is params, or a view or slice overlapping "
            "it): the step writes params while it reads grads; pass the gradient in its own array"
        )
    if _overlap(grads, buffers):
        raise ValueError("grads shares memory with the state buffers; give it its own array")
    return grads if grads.flags.c_contiguous else np.ascontiguousarray(grads)


def _check_path(path: object) -> str:
    # An int would be taken by open() as a file descriptor: refuse anything but a path.
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    return path if isinstance(path, str) else os.fsdecode(path)


class _Invalid(Exception):
    """Why a state file is not one; :class:`_StateFile` turns it into the ValueError."""


class _SavedState(NamedTuple):
    """The meta of a state file, checked."""

    optimizer: str
    buffer_names: tuple[str, ...]
    layout: Layout
    dtype: np.dtype
    step: int


_STATE_KEYS = ("format", "version", "optimizer", "buffer_names", "layout", "dtype", "step")
_MAX_META_BYTES = 64 << 20
"""Largest meta string read (its JSON grows with the layout: ~120 bytes a tensor)."""


class _StateFile:
    """A state file opened for reading, its archive and meta checked on opening.

    Use as a context manager; every way the file can fail to be a state becomes one
    ``ValueError("'<path>' is not a valid fastopt optimizer state: <why>")``.
    """

    def __init__(self, path: str):
        self.path = path
        try:
            self._npz = NpzReader(path)
        except ArchiveError as error:
            raise self._invalid(str(error)) from None
        try:
            self.meta = self._checked(self._read_meta)
        except BaseException:
            self._npz.close()
            raise

    def __enter__(self) -> _StateFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._npz.close()

    def _invalid(self, why: str) -> ValueError:
        return ValueError(f"'{self.path}' is not a valid fastopt optimizer state: {why}")

    def _checked(self, read, *args):
        try:
            return read(*args)
        except (_Invalid, ArchiveError) as error:
            raise self._invalid(str(error)) from None

    def _read_meta(self) -> _SavedState:
        self._npz.require(["buffers", "meta"])
        array = self._npz.read("meta", expect_text(_MAX_META_BYTES))
        try:
            meta = json.loads(str(array[()]))
        except (ValueError, RecursionError):
            raise _Invalid("meta is not JSON") from None
        return _check_meta(meta)

    def buffers(self, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
        """The buffers, a new C-contiguous writeable array of ``shape`` and ``dtype``.

        The header is checked before any data is read, so a forged header cannot make
        this allocate more than the caller's layout needs.
        """
        return self._checked(self._npz.read, "buffers", expect(shape, dtype))


def _check_meta(meta: object) -> _SavedState:
    """The checked fields of a state file's meta, or :class:`_Invalid` saying what is wrong."""
    if not isinstance(meta, dict):
        raise _Invalid(f"meta is a JSON {type(meta).__name__}, not an object")
    missing = [key for key in _STATE_KEYS if key not in meta]
    if missing:
        raise _Invalid(f"meta lacks {missing}")
    unknown = sorted(set(meta) - set(_STATE_KEYS))
    if unknown:
        raise _Invalid(f"meta has unknown keys {unknown}")
    if meta["format"] != STATE_FORMAT:
        raise _Invalid(f"its format is {meta['format']!r}, not {STATE_FORMAT!r}")
    version = meta["version"]
    if type(version) is not int or version != STATE_VERSION:  # not True, not 1.0
        raise _Invalid(f"it is of version {version!r}; this fastopt reads version {STATE_VERSION}")
    optimizer = meta["optimizer"]
    if not isinstance(optimizer, str):
        raise _Invalid(f"its optimizer name is {optimizer!r}, not a string")
    names = meta["buffer_names"]
    if not (
        isinstance(names, list)
        and all(isinstance(n, str) for n in names)
        and len(set(names)) == len(names)
    ):
        raise _Invalid(f"buffer_names must be a list of distinct strings, got {names!r}")
    entries = meta["layout"]
    if not (
        isinstance(entries, list)
        and all(isinstance(e, list) and len(e) == 2 and isinstance(e[1], list) for e in entries)
    ):
        raise _Invalid(f"layout must be a list of [name, shape] pairs, got {entries!r}")
    try:
        layout = Layout([(name, tuple(shape)) for name, shape in entries])
    except (TypeError, ValueError) as error:
        raise _Invalid(f"its layout is invalid: {error}") from None
    dtype = meta["dtype"]
    if dtype not in ("float32", "float64"):
        raise _Invalid(f"its dtype is {dtype!r}, not 'float32' or 'float64'")
    try:
        # MAX_STEP - 1: the next step's count, t + 1, must fit the kernels' int64 too.
        step = check_int("step", meta["step"], 0, MAX_STEP - 1)
    except (TypeError, ValueError) as error:
        raise _Invalid(str(error)) from None
    return _SavedState(optimizer, tuple(names), layout, np.dtype(dtype), step)


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
