"""One declaration per optimizer: :class:`OptimizerSpec`.

An optimizer is declared once, in its own module (``fastopt/optimizers/adam.py``, ...), the way
optax declares one as an ``init``/``update`` pair:

- its hyperparameters (:class:`Hyper`: name, default, validator, torch's name, the kernel
  fields they fill, the kind of value a TOML grid axis holds);
- its state buffers, with torch's names (``exp_avg``, ``momentum_buffer``, ...), as a function
  of the hyperparameters, and their starting values;
- its per-step coefficients and its element loop: two ``@njit(inline="always")`` functions,
  registered with the shared drivers of ``fastopt._kernels.fused`` by record types built here.

From that come the public class (``class Adam(Optimizer): spec = ADAM``: keyword-only,
validated, ``repr``, ``hyperparameters()``), the kernel's hyperparameter record by name (no
positional vector whose order must match the kernel's), the sweep and TOML axes, and the
shared test table's row (``tests/optimizer_cases.py``). A variant (``Momentum``, ``AdamW``) is
the same kernel under another name, with other defaults or fixed kernel fields.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from fastopt._kernels import fused
from fastopt._validate import check_fraction, check_positive
from fastopt.schedules import Schedule

REQUIRED = object()
"""Default of a hyperparameter that must be given (SGD's ``lr``)."""

PARAMS = object()
"""A buffer's starting value that is a copy of the parameters (Lookahead's slow weights)."""


def check_lr(name: str, value: object) -> float | Schedule:
    """A learning rate: a :mod:`fastopt.schedules` schedule, or a finite number > 0."""
    return value if isinstance(value, Schedule) else check_positive(name, value)


def check_pair(name: str, value: object, parts: str, first, second) -> tuple[float, float]:
    """A pair of numbers, each through its check (``first(f"{name}[0]", value[0])``, ...).

    ``parts`` names them for the ``TypeError`` of anything but a pair, e.g. ``"beta1, beta2"``.
    """
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{name} must be a pair ({parts}), got {value!r}")
    return first(f"{name}[0]", value[0]), second(f"{name}[1]", value[1])


def check_betas(name: str, value: object) -> tuple[float, float]:
    """A pair ``(beta1, beta2)`` of decay rates, each in [0, 1)."""
    return check_pair(name, value, "beta1, beta2", check_fraction, check_fraction)


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter of an optimizer.

    Attributes
    ----------
    name : str
        The keyword argument (torch's name unless ``torch`` says otherwise).
    default : object
        Its default, or :data:`REQUIRED`.
    check : callable
        ``check(name, value) -> value``: the canonical value, or a ``TypeError``/``ValueError``
        naming the argument.
    kernel : tuple of str
        The fields of the kernel's hyper record it fills, in order (``betas`` fills
        ``beta1, beta2``); ``None``: one field of its own name; ``()``: none (``lr``, which
        the drivers get per step).
    axis : str
        The kind of value a grid axis of it holds in a TOML file: ``"number"``, ``"bool"`` or
        ``"pair of numbers"``.
    torch : str, optional
        torch.optim's name for it, where it differs.
    """

    name: str
    default: object
    check: Callable[[str, object], object]
    kernel: tuple[str, ...] | None = None
    axis: str = "number"
    torch: str | None = None

    @property
    def kernel_fields(self) -> tuple[str, ...]:
        """The hyper-record fields this hyperparameter fills."""
        return (self.name,) if self.kernel is None else self.kernel


@dataclass(frozen=True)
class OptimizerSpec:
    """The declaration of one optimizer; see the module docstring.

    Attributes
    ----------
    name : str
        Its name: states are saved under it, sweeps and TOML files accept it.
    hyperparameters : tuple of Hyper
        In signature order, ``lr`` first (``gc`` is every optimizer's and not listed).
    buffers : callable
        ``buffers(hp) -> tuple of str``: the state buffers for checked hyperparameters ``hp``
        (a dict), torch's names, in storage order.
    coefficients : tuple of str
        The fields of the coefficient record after ``lr`` and ``wd``.
    fill_coefficients, rows : numba functions
        ``fill_coefficients(h, t, lr, c)`` and
        ``rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back)``; see
        :func:`fastopt._kernels.fused.register`.
    constants : mapping
        Kernel fields fixed by this optimizer (AdamW: ``decoupled = 1``).
    initial : callable, optional
        ``initial(hp) -> tuple``: each buffer's starting value, a float or :data:`PARAMS`
        (a copy of the parameters); default zeros.
    check : callable, optional
        ``check(hp)``: checks across hyperparameters (``nesterov`` needs ``momentum``).
    torch : str, optional
        The ``torch.optim`` class of the same update, if any.
    derived : mapping, optional
        Kernel fields computed from the checked hyperparameters: ``{field: f(hp) -> float}``
        (Lookahead's row of the slow weights, after however many buffers its inner keeps).
    finish : numba function, optional
        ``finish(c, p, S, lo, hi)``, run on a chunk once its step is complete (GC included);
        see :func:`fastopt._kernels.fused.register`.
    gc : {None, "grad", "update"}
        The default gradient-centralization mode (Ranger's is ``"grad"``).
    sources : tuple of functions
        Further functions whose modules' source is stamped into the coefficient record (a
        spec built from another's functions: see :attr:`coefficient_dtype`).
    """

    name: str
    hyperparameters: tuple[Hyper, ...]
    buffers: Callable[[dict], tuple[str, ...]]
    coefficients: tuple[str, ...]
    fill_coefficients: Callable
    rows: Callable
    constants: Mapping[str, float] = field(default_factory=dict)
    initial: Callable[[dict], tuple[float, ...]] | None = None
    check: Callable[[dict], None] | None = None
    torch: str | None = None
    derived: Mapping[str, Callable[[dict], float]] = field(default_factory=dict)
    finish: Callable | None = None
    gc: str | None = None
    sources: tuple[Callable, ...] = ()

    def __post_init__(self) -> None:
        names = [h.name for h in self.hyperparameters]
        if names[:1] != ["lr"] or len(set(names)) != len(names) or "gc" in names:
            raise ValueError(f"{self.name}: hyperparameters must start with lr, unique, no gc")
        fused.register(self.coefficient_dtype, self.hyper_dtype, self.rows,
                       self.fill_coefficients, self.finish)  # fmt: skip

    @property
    def names(self) -> tuple[str, ...]:
        """The hyperparameters' names, in signature order."""
        return tuple(h.name for h in self.hyperparameters)

    @property
    def defaults(self) -> dict[str, object]:
        """The defaults of the hyperparameters that have one."""
        return {h.name: h.default for h in self.hyperparameters if h.default is not REQUIRED}

    @functools.cached_property
    def hyper_dtype(self) -> np.dtype:
        """The kernel's hyperparameter record: one float64 field per kernel field."""
        fields = [f for h in self.hyperparameters for f in h.kernel_fields]
        fields += [name for name in self.constants if name not in fields]
        fields += [name for name in self.derived if name not in fields]
        return np.dtype([(f, np.float64) for f in fields])

    @functools.cached_property
    def coefficient_dtype(self) -> np.dtype:
        """The kernel's coefficient record: ``lr``, ``wd``, this optimizer's own, a stamp.

        The last field (never read) is named after a digest of the modules that define the
        element loop, the coefficients and the chunk epilogue, and of ``fused.py`` itself.
        Numba's on-disk cache checks only the source file of the function it caches (a step
        kernel of ``fused.py``, the grid trainer of ``grid.py``): without the stamp, an edited
        loop would keep running from a kernel cached before the edit, and a grid kernel
        cached before an edit of the drivers could be loaded beside one cached after it (two
        versions of one symbol: wrong results, or a crash). With it, the edit changes the
        record type, hence the signature, and the kernel is compiled anew.
        """
        names = fused.COMMON_COEFFICIENTS + tuple(self.coefficients)
        functions = (fused.register, self.rows, self.fill_coefficients, self.finish,
                     *self.sources)  # fmt: skip
        stamp = _source_stamp(tuple(f for f in functions if f is not None))
        return np.dtype([(f, np.float64) for f in names] + [(stamp, "u1")])

    def validate(self, kwargs: Mapping[str, object]) -> dict[str, object]:
        """Checked hyperparameters: ``kwargs`` over the defaults, each through its check.

        Unknown or missing names are a ``TypeError`` naming them, as Python's own for a bad
        keyword.
        """
        unknown = sorted(set(kwargs) - set(self.names))
        if unknown:
            raise TypeError(
                f"{self.name} got unexpected keyword argument(s) {unknown}; it takes "
                f"{list(self.names) + ['gc']}"
            )
        values = {**self.defaults, **kwargs}
        missing = [n for n in self.names if n not in values]
        if missing:
            raise TypeError(f"{self.name} needs the keyword argument(s) {missing}")
        checked = {h.name: h.check(h.name, values[h.name]) for h in self.hyperparameters}
        if self.check is not None:
            self.check(checked)
        return checked

    def hyper_record(self, hp: Mapping[str, object]) -> np.ndarray:
        """The kernel's (1,) hyper record of checked hyperparameters ``hp`` (read-only)."""
        record = np.zeros(1, dtype=self.hyper_dtype)
        for h in self.hyperparameters:
            values = hp[h.name] if isinstance(hp[h.name], tuple) else (hp[h.name],)
            for name, value in zip(h.kernel_fields, values, strict=False):
                record[name] = float(value)
        for name, value in self.constants.items():
            record[name] = value
        for name, value_of in self.derived.items():
            record[name] = float(value_of(hp))
        record.setflags(write=False)
        return record

    def initial_values(self, hp: Mapping[str, object]) -> tuple[object, ...]:
        """Each buffer's starting value: a float, or :data:`PARAMS`."""
        n = len(self.buffers(hp))
        return (0.0,) * n if self.initial is None else tuple(self.initial(hp))

    def variant(self, name: str, defaults: Mapping[str, object] | None = None,
                constants: Mapping[str, float] | None = None,
                torch: str | None = None, gc: object = REQUIRED) -> OptimizerSpec:  # fmt: skip
        """The same kernel under another name, with other defaults or fixed kernel fields.

        ``gc``: another default GC mode (left as it is unless given).
        """
        defaults = dict(defaults or {})
        unknown = sorted(set(defaults) - set(self.names))
        if unknown:
            raise ValueError(f"{name}: defaults for unknown hyperparameters {unknown}")
        hypers = tuple(dataclasses.replace(h, default=defaults[h.name]) if h.name in defaults
                       else h for h in self.hyperparameters)  # fmt: skip
        return dataclasses.replace(self, name=name, hyperparameters=hypers,
                                   constants={**self.constants, **(constants or {})},
                                   torch=torch or self.torch,
                                   gc=self.gc if gc is REQUIRED else gc)  # fmt: skip


@functools.cache
def _source_stamp(functions: tuple[Callable, ...]) -> str:
    """``source_<digest>``: 12 hex digits of the sources of the modules defining ``functions``."""
    digest = hashlib.sha256()
    names = dict.fromkeys(getattr(f, "py_func", f).__module__ for f in functions)
    for name in names:
        module = sys.modules[name]
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError):  # no source file (frozen, interactive): no stamp to take
            source = module.__name__
        digest.update(source.encode())
    return "source_" + digest.hexdigest()[:12]
