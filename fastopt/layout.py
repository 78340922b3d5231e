"""Named tensors with PyTorch-style shapes, stored back to back in one flat vector.

A :class:`Layout` is the only thing that knows where each tensor lives in a flat parameter,
gradient or optimizer-state vector. Kernels never see names or shapes: they get plain integer
arrays (``gc_segments``) describing the rows that gradient centralization works on.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class TensorSpec:
    """Where one named tensor lives in a flat vector.

    Attributes
    ----------
    name : str
        The tensor's name, e.g. ``"W1"``.
    shape : tuple of int
        PyTorch-style shape, e.g. ``(out, in)`` for a dense weight.
    offset : int
        Index of the tensor's first entry in the flat vector.
    size : int
        Number of entries, ``prod(shape)``.
    """

    name: str
    shape: tuple[int, ...]
    offset: int
    size: int

    @property
    def stop(self) -> int:
        """One past the tensor's last entry in the flat vector."""
        return self.offset + self.size


def _canonical_shape(name: str, shape: object) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, Iterable) or isinstance(shape, (str, bytes)):
        raise TypeError(f"shape of tensor {name!r} must be a tuple of ints, got {shape!r}")
    dims = tuple(shape)
    if len(dims) == 0:
        raise ValueError(f"shape of tensor {name!r} must have at least one axis, got ()")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(f"shape of tensor {name!r} must hold ints, got {shape!r}")
        if d < 1:
            raise ValueError(f"shape of tensor {name!r} must be positive, got {shape!r}")
    return tuple(int(d) for d in dims)


def _real_array(name: str, value: object) -> np.ndarray:
    """``value`` as an array of real numbers (integer or float dtype), for :meth:`Layout.pack`.

    Complex values would lose their imaginary part in the copy (NumPy only warns), and bool,
    object or string arrays are not parameters: refuse them all, naming the tensor.
    """
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:  # ragged nested lists and the like
        raise TypeError(f"arrays[{name!r}] is not an array of numbers: {error}") from None
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"arrays[{name!r}] has dtype {array.dtype}; a flat vector holds real numbers "
            "(float or integer arrays)"
        )
    return array


class Layout:
    """An ordered set of named tensors packed back to back in one flat 1-D vector.

    Parameters
    ----------
    tensors : sequence of (str, tuple of int) or mapping of str to tuple of int
        Names and PyTorch-style shapes in storage order, e.g.
        ``[("W1", (2, 2)), ("b1", (2,)), ("W2", (2, 2)), ("b2", (2,))]``.
        A bare int stands for a 1-D shape.

    Notes
    -----
    Gradient centralization (GC) works on *rows*: a tensor of shape ``(out, *rest)`` with ``rest``
    non-empty has ``out`` rows of ``prod(rest)`` consecutive entries each (per output neuron, over
    its fan-in; for a conv filter over ``in_channels * kh * kw``). 1-D tensors (biases) have no
    rows and are never centralized. :attr:`gc_segments` gives the rows to the kernels.

    Examples
    --------
    >>> layout = Layout([("W1", (2, 2)), ("b1", (2,))])
    >>> layout.size
    6
    >>> flat = np.arange(6.0)
    >>> layout.views(flat)["b1"]
    array([4., 5.])
    """

    def __init__(self, tensors: Iterable[tuple[str, object]] | Mapping[str, object]):
        items = list(tensors.items()) if isinstance(tensors, Mapping) else list(tensors)
        if not items:
            raise ValueError("tensors must name at least one tensor")
        specs: list[TensorSpec] = []
        seen: set[str] = set()
        offset = 0
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise TypeError(f"tensors must hold (name, shape) pairs, got {item!r}")
            name, shape = item
            if not isinstance(name, str) or not name:
                raise TypeError(f"tensor names must be non-empty strings, got {name!r}")
            if name in seen:
                raise ValueError(f"tensors holds the name {name!r} twice; names must be unique")
            seen.add(name)
            dims = _canonical_shape(name, shape)
            size = math.prod(dims)
            specs.append(TensorSpec(name, dims, offset, size))
            offset += size
        self._specs = tuple(specs)
        self._by_name = {s.name: s for s in specs}
        self.size: int = offset
        """Total number of entries in a flat vector of this layout."""
        self.gc_segments: np.ndarray = self._make_gc_segments()
        """ndarray of shape (n_segments, 3), int64: ``(offset, n_rows, row_length)`` per tensor
        with at least two axes, in storage order. Rows of a segment are consecutive."""
        self.gc_segments.setflags(write=False)

    def _make_gc_segments(self) -> np.ndarray:
        rows = [
            (s.offset, s.shape[0], s.size // s.shape[0]) for s in self._specs if len(s.shape) > 1
        ]
        return np.array(rows, dtype=np.int64).reshape(len(rows), 3)

    # --- the ordered set of tensors ---------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """Tensor names in storage order."""
        return tuple(s.name for s in self._specs)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Tensor shapes by name."""
        return {s.name: s.shape for s in self._specs}

    def __getitem__(self, name: str) -> TensorSpec:
        try:
            return self._by_name[name]
        except KeyError:
            known = list(self.names)
            raise KeyError(f"layout has no tensor named {name!r}; it has {known}") from None

    def __iter__(self) -> Iterator[TensorSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Layout):
            return NotImplemented
        return self._specs == other._specs

    def __hash__(self) -> int:
        return hash(self._specs)

    def __repr__(self) -> str:
        inner = ", ".join(f"({s.name!r}, {s.shape})" for s in self._specs)
        return f"Layout([{inner}])"

    # --- flat vectors -----------------------------------------------------------------------
    def check_flat(self, flat: object, argname: str = "flat") -> np.ndarray:
        """Check that ``flat`` is a flat float32/float64 vector of this layout and return it.

        Raises
        ------
        TypeError
            If ``flat`` is not a NumPy array of dtype float32 or float64.
        ValueError
            If it is not 1-D or its length is not :attr:`size`.
        """
        if not isinstance(flat, np.ndarray):
            raise TypeError(f"{argname} must be a NumPy array, got {type(flat).__name__}")
        if flat.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{argname} must have dtype float32 or float64, got {flat.dtype}")
        if flat.ndim != 1:
            raise ValueError(f"{argname} must be 1-D, got shape {flat.shape}")
        if flat.shape[0] != self.size:
            raise ValueError(
                f"{argname} has length {flat.shape[0]} but the layout needs {self.size}"
            )
        return flat

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Return named views into ``flat``; writing to a view writes to ``flat``.

        Parameters
        ----------
        flat : ndarray of shape (size,)
            A flat vector of this layout (float32 or float64).

        Returns
        -------
        dict of str to ndarray
            ``{name: view of shape spec.shape}``, in storage order, sharing memory with ``flat``.
        """
        flat = self.check_flat(flat)
        return {s.name: flat[s.offset : s.stop].reshape(s.shape) for s in self._specs}

    def pack(self, arrays: Mapping[str, object], dtype: object = None) -> np.ndarray:
        """Copy named arrays into a new flat vector.

        Parameters
        ----------
        arrays : mapping of str to array_like
            One array per tensor of the layout, each of its shape; no other names. Real
            numbers only: float or integer dtypes.
        dtype : {numpy.float32, numpy.float64}, optional
            dtype of the result. Default: the common float dtype of the arrays (float64 for ints).

        Returns
        -------
        ndarray of shape (size,)
            A new contiguous vector.

        Raises
        ------
        TypeError
            If an array is complex (NumPy would drop the imaginary part), bool, object,
            string or datetime, naming the tensor; or ``dtype`` is not float32/float64.
        ValueError
            If names are missing or extra, or a shape differs from the layout's.
        """
        if not isinstance(arrays, Mapping):
            kind = type(arrays).__name__
            raise TypeError(f"arrays must be a mapping of name to array, got {kind}")
        extra = [k for k in arrays if k not in self._by_name]
        if extra:
            raise ValueError(f"arrays has names not in the layout: {extra}")
        missing = [n for n in self.names if n not in arrays]
        if missing:
            raise ValueError(f"arrays lacks tensors of the layout: {missing}")
        values = {n: _real_array(n, arrays[n]) for n in self.names}
        if dtype is None:
            dtype = np.result_type(*values.values(), np.float32)
            if dtype not in FLOAT_DTYPES:
                dtype = np.float64
        dtype = np.dtype(dtype)
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        flat = np.empty(self.size, dtype=dtype)
        for s in self._specs:
            value = values[s.name]
            if value.shape != s.shape:
                raise ValueError(
                    f"arrays[{s.name!r}] has shape {value.shape}, the layout says {s.shape}"
                )
            flat[s.offset : s.stop] = value.reshape(-1)
        return flat

    def zeros(self, dtype: object = np.float32) -> np.ndarray:
        """Return a new zero flat vector of this layout, shape ``(size,)``."""
        dtype = np.dtype(dtype)
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        return np.zeros(self.size, dtype=dtype)
