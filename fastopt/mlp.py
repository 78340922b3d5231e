"""Dense multi-layer perceptrons whose parameters live in one flat vector.

:class:`MLP` describes the network (widths, activation, loss) and validates every input once;
the passes themselves run in the Numba kernels of ``fastopt._kernels.mlp``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from fastopt._compile import READY, ensure_compiled
from fastopt._kernels import mlp as _k
from fastopt.layout import FLOAT_DTYPES, Layout

ACTIVATIONS = {
    "identity": _k.IDENTITY,
    "relu": _k.RELU,
    "leaky_relu": _k.LEAKY_RELU,
    "tanh": _k.TANH,
    "sigmoid": _k.SIGMOID,
}
"""Hidden-layer activations by name, mapped to the kernels' codes."""

OUTPUT_FOR_LOSS = {"mse": "identity", "cross_entropy": "softmax"}
"""The output layer each loss goes with."""

INIT_SCHEMES = ("he", "xavier")

_EMPTY_GRAD = {dt: np.empty(0, dtype=dt) for dt in FLOAT_DTYPES}
_NO_TARGETS = {dt: np.empty((0, 0), dtype=dt) for dt in FLOAT_DTYPES}  # a classifier's Y
_NO_LABELS = np.empty(0, dtype=np.int64)  # a regression's y
_SCALAR = {dt: dt.type for dt in FLOAT_DTYPES}


class MLP:
    """A fully connected network: dense layers, one hidden activation, an output and a loss.

    Layer ``l`` (1-based) has weight ``W{l}`` of shape ``(sizes[l], sizes[l-1])`` — PyTorch's
    ``(out, in)`` — and bias ``b{l}`` of shape ``(sizes[l],)``; :attr:`layout` stores them in the
    order ``W1, b1, W2, b2, ...`` in one flat vector. Each hidden layer computes
    ``h = activation(W @ x + b)``; the last layer computes ``o = W @ h + b``.

    Parameters
    ----------
    sizes : sequence of int
        Widths from input to output, at least two entries, each >= 1, e.g. ``[2, 2, 2]``.
    activation : {"relu", "leaky_relu", "tanh", "sigmoid", "identity"}
        Hidden-layer activation. ``relu'(0) = 0``, as in PyTorch.
    output : {"identity", "softmax"}, optional
        Output layer; by default the one the loss goes with.
    loss : {"mse", "cross_entropy"}
        ``"mse"``: mean over samples *and* outputs of ``(o - y)**2``, targets of shape
        ``(n, sizes[-1])``, identity output. ``"cross_entropy"``: mean over samples of
        ``-log softmax(o)[y]``, integer class targets of shape ``(n,)``, softmax output.
    negative_slope : float
        Slope of ``leaky_relu`` for negative inputs.

    Examples
    --------
    >>> net = MLP([2, 2, 2])
    >>> params = net.init(seed=0, dtype=np.float64)
    >>> X = np.array([[2.0, -1.0]]); Y = np.array([[1.0, 0.5]])
    >>> loss, grad = net.loss_and_grad(params, X, Y)
    >>> grad.shape == params.shape == (net.layout.size,)
    True
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        output: str | None = None,
        loss: str = "mse",
        *,
        negative_slope: float = 0.01,
    ):
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise TypeError(f"sizes must be a sequence of ints, got {sizes!r}")
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least two layers (input and output), got {sizes!r}")
        for width in sizes:
            if isinstance(width, bool) or not isinstance(width, numbers.Integral):
                raise TypeError(f"sizes must hold ints, got {sizes!r}")
            if width < 1:
                raise ValueError(f"sizes must be >= 1 everywhere, got {sizes!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if loss not in OUTPUT_FOR_LOSS:
            raise ValueError(f"loss must be one of {sorted(OUTPUT_FOR_LOSS)}, got {loss!r}")
        if output is None:
            output = OUTPUT_FOR_LOSS[loss]
        if output not in OUTPUT_FOR_LOSS.values():
            raise ValueError(f"output must be 'identity' or 'softmax', got {output!r}")
        if output != OUTPUT_FOR_LOSS[loss]:
            raise ValueError(
                f"output={output!r} does not go with loss={loss!r}; "
                f"loss={loss!r} needs output={OUTPUT_FOR_LOSS[loss]!r}"
            )
        slope = float(negative_slope)
        if not np.isfinite(slope) or slope <= 0:
            raise ValueError(f"negative_slope must be finite and > 0, got {negative_slope!r}")

        self.sizes: tuple[int, ...] = tuple(int(w) for w in sizes)
        self.activation = activation
        self.output = output
        self.loss_name = loss
        self.negative_slope = slope
        self.layout = Layout(
            [
                item
                for l_ in range(1, len(self.sizes))
                for item in (
                    (f"W{l_}", (self.sizes[l_], self.sizes[l_ - 1])),
                    (f"b{l_}", (self.sizes[l_],)),
                )
            ]
        )
        self._sizes = np.array(self.sizes, dtype=np.int64)
        self._act = ACTIVATIONS[activation]
        self._slopes = {dt: dt.type(slope) for dt in FLOAT_DTYPES}
        self._loss_kind = _k.LOSS_MSE if loss == "mse" else _k.LOSS_CROSS_ENTROPY
        self._reads_in_place: dict[int, bool] = {}

    def __repr__(self) -> str:
        return (
            f"MLP(sizes={list(self.sizes)}, activation={self.activation!r}, "
            f"output={self.output!r}, loss={self.loss_name!r})"
        )

    @property
    def n_layers(self) -> int:
        """Number of dense layers (``len(sizes) - 1``)."""
        return len(self.sizes) - 1

    # --- parameters ---------------------------------------------------------------------
    def init(self, seed: int = 0, dtype: object = np.float32, scheme: str = "he") -> np.ndarray:
        """Draw initial parameters.

        Weights are normal with standard deviation ``sqrt(2 / fan_in)`` (``"he"``) or
        ``sqrt(2 / (fan_in + fan_out))`` (``"xavier"``); biases are zero. Values are drawn in
        float64 from ``numpy.random.default_rng(seed)`` and then cast, so float32 and float64
        inits of the same seed agree up to rounding.

        Parameters
        ----------
        seed : int
            Seed of the generator.
        dtype : {numpy.float32, numpy.float64}
            dtype of the result.
        scheme : {"he", "xavier"}
            Weight scale.

        Returns
        -------
        ndarray of shape (layout.size,)
            A new flat parameter vector.
        """
        dtype = np.dtype(dtype)
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        if scheme not in INIT_SCHEMES:
            raise ValueError(f"scheme must be one of {INIT_SCHEMES}, got {scheme!r}")
        rng = np.random.default_rng(seed)
        flat = np.zeros(self.layout.size, dtype=dtype)
        views = self.layout.views(flat)
        for l_ in range(1, len(self.sizes)):
            fan_out, fan_in = self.sizes[l_], self.sizes[l_ - 1]
            fans = fan_in if scheme == "he" else fan_in + fan_out
            views[f"W{l_}"][...] = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fans)
        return flat

    # --- validation: everything the kernels rely on is checked here ----------------------
    # These run on every call of tiny networks, so the common case takes few attribute reads.
    def _prepare(self, params: object, X: object, Y: object = None):
        """Validate and canonicalize ``params``, ``X`` and (unless None) ``Y`` in one go."""
        if not (
            type(params) is np.ndarray
            and params.ndim == 1
            and params.shape[0] == self.layout.size
            and params.dtype in FLOAT_DTYPES
        ):
            params = self.layout.check_flat(params, "params")
        if not params.flags.c_contiguous:
            params = np.ascontiguousarray(params)
        dtype = params.dtype
        if type(X) is not np.ndarray or X.dtype != dtype:
            X = _as_float_array(X, dtype, "X")
        shape = X.shape
        if len(shape) != 2 or shape[1] != self.sizes[0] or shape[0] < 1:
            self._explain_bad_X(shape)
        if not X.flags.c_contiguous:
            X = np.ascontiguousarray(X)
        if Y is not None:
            Y = self._targets(Y, shape[0], dtype)
        return params, X, Y

    def _explain_bad_X(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 2:
            raise ValueError(f"X must be 2-D (n_samples, {self.sizes[0]}), got shape {shape}")
        if shape[1] != self.sizes[0]:
            raise ValueError(
                f"X has {shape[1]} features per sample but the network takes {self.sizes[0]}"
            )
        raise ValueError("X must hold at least one sample")

    def _targets(self, Y: object, n: int, dtype: np.dtype, name: str = "Y", x_name: str = "X"):
        """``(Y, y)`` as the kernels take them, for ``n`` samples of ``dtype``.

        MSE: Y (n, sizes[-1]) of ``dtype`` and y an empty int64 array. Cross-entropy: Y an
        empty (0, 0) array of ``dtype`` and y the (n,) int64 labels in ``[0, sizes[-1])``.
        """
        m = self.sizes[-1]
        if self.loss_name == "mse":
            if type(Y) is not np.ndarray or Y.dtype != dtype:
                Y = _as_float_array(Y, dtype, name)
            if Y.shape != (n, m):
                hint = f" (use {name}.reshape(-1, 1) for one output)" if Y.shape == (n,) else ""
                raise ValueError(
                    f"{name} must have shape ({n}, {m}) to match {x_name}, got {Y.shape}{hint}"
                )
            return (Y if Y.flags.c_contiguous else np.ascontiguousarray(Y)), _NO_LABELS
        Y = np.asarray(Y)
        if Y.dtype.kind not in "iu":
            raise TypeError(
                f"{name} must hold integer class labels for loss='cross_entropy', "
                f"got dtype {Y.dtype}"
            )
        if Y.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},) to match {x_name}, got {Y.shape}")
        low, high = Y.min(), Y.max()
        if low < 0 or high >= m:
            raise ValueError(f"{name} holds class labels outside [0, {m}): min {low}, max {high}")
        return _NO_TARGETS[dtype], np.ascontiguousarray(Y, dtype=np.int64)

    def training_data(self, X: object, Y: object, dtype: object, names=("X", "Y")):
        """Validate a whole data set once, for many passes (as :func:`fastopt.sweep` does).

        Stricter than the per-call checks of :meth:`loss_and_grad`: the values must be finite.

        Parameters
        ----------
        X : array_like of shape (n, sizes[0])
            Inputs, n >= 1; numbers, cast to ``dtype``.
        Y : array_like
            Targets as for :meth:`loss_and_grad`.
        dtype : {numpy.float32, numpy.float64}
            dtype of the computation.
        names : (str, str)
            Argument names for the error messages.

        Returns
        -------
        X : ndarray of shape (n, sizes[0]), C-contiguous, ``dtype``
        Y : ndarray of shape (n, sizes[-1]) for MSE, else empty, ``dtype``
        y : ndarray of shape (n,) int64 labels for cross-entropy, else empty
        """
        name_x, name_y = names
        dtype = np.dtype(dtype)
        X = np.asarray(X)
        if X.dtype.kind not in "iuf":
            raise TypeError(f"{name_x} must hold real numbers, got dtype {X.dtype}")
        if X.ndim != 2 or X.shape[1] != self.sizes[0] or X.shape[0] < 1:
            raise ValueError(
                f"{name_x} must have shape (n_samples >= 1, {self.sizes[0]}), got {X.shape}"
            )
        X = np.ascontiguousarray(X, dtype=dtype)
        if not np.isfinite(X).all():
            raise ValueError(f"{name_x} holds NaN or inf")
        Y = np.asarray(Y)
        if self.loss_name == "mse" and Y.dtype.kind in "iuf":
            Y = Y.astype(dtype, copy=False)  # float64 targets for a float32 sweep are fine here
        Y, y = self._targets(Y, X.shape[0], dtype, name_y, name_x)
        if not np.isfinite(Y).all():
            raise ValueError(f"{name_y} holds NaN or inf")
        return X, Y, y

    def kernel_arguments(self, dtype: object) -> tuple[np.ndarray, int, np.floating]:
        """``(sizes, activation code, negative slope)`` as the kernels take them."""
        return self._sizes, self._act, self._slopes[np.dtype(dtype)]

    def _as_kernel_input(self, X: np.ndarray) -> np.ndarray:
        """``X.T`` where the first layer reads it in place, else X (the kernel transposes it).

        The kernels are typed by the choice (F- or C-ordered), so only the one in use is
        compiled; it depends on the batch size only, and is kept per size.
        """
        n = X.shape[0]
        in_place = self._reads_in_place.get(n)
        if in_place is None:
            in_place = bool(_k.reads_X_in_place(self.sizes[1], self.sizes[0], n))
            self._reads_in_place[n] = in_place
        return X.T if in_place else X

    def _check_out(self, out: object, params: np.ndarray) -> np.ndarray:
        if not (type(out) is np.ndarray and out.ndim == 1 and out.shape[0] == self.layout.size):
            out = self.layout.check_flat(out, "out")
        if out.dtype != params.dtype:
            raise TypeError(f"out has dtype {out.dtype} but params has {params.dtype}")
        flags = out.flags
        if not (flags.c_contiguous and flags.writeable):
            problem = "is read-only" if flags.c_contiguous else "must be C-contiguous"
            raise ValueError(f"out {problem}: the gradient is written into it in place")
        # Two arrays that own their memory overlap only if they are the same array.
        owners = out.base is None and params.base is None
        if out is params or (not owners and np.may_share_memory(out, params)):
            raise ValueError("out shares memory with params; pass a separate gradient buffer")
        return out

    # --- passes -------------------------------------------------------------------------
    def forward(self, params: np.ndarray, X: object) -> np.ndarray:
        """Network outputs.

        Parameters
        ----------
        params : ndarray of shape (layout.size,)
            Flat parameters, float32 or float64.
        X : array_like of shape (n, sizes[0])
            Inputs; floats must have the dtype of ``params`` (integers are cast).

        Returns
        -------
        ndarray of shape (n, sizes[-1])
            Outputs in the dtype of ``params``: the identity output, or softmax probabilities.
        """
        params, X, _ = self._prepare(params, X)
        out = np.empty((X.shape[0], self.sizes[-1]), dtype=params.dtype)
        X = self._as_kernel_input(X)
        _k.forward(params, X, self._sizes, self._act, self._slopes[params.dtype], out)
        if self.output == "softmax":
            out -= out.max(axis=1, keepdims=True)
            np.exp(out, out=out)
            out /= out.sum(axis=1, keepdims=True)
        return out

    def predict(self, params: np.ndarray, X: object) -> np.ndarray:
        """Predictions: class labels of shape (n,) for classifiers, else outputs (n, m)."""
        out = self.forward(params, X)
        return out.argmax(axis=1) if self.output == "softmax" else out

    def loss(self, params: np.ndarray, X: object, Y: object) -> np.floating:
        """The loss (see the class docstring for its convention), a scalar of params' dtype."""
        params, X, (Y, y) = self._prepare(params, X, Y)
        dt = params.dtype
        args = (params, self._as_kernel_input(X), Y, y, self._sizes, self._act,
                self._slopes[dt], self._loss_kind, _EMPTY_GRAD[dt], False)  # fmt: skip
        _first_use(args)
        return _SCALAR[dt](_k.loss_and_grad(*args))

    def loss_and_grad(
        self, params: np.ndarray, X: object, Y: object, out: np.ndarray | None = None
    ) -> tuple[np.floating, np.ndarray]:
        """The loss and its gradient with respect to every parameter.

        Parameters
        ----------
        params : ndarray of shape (layout.size,)
            Flat parameters, float32 or float64.
        X : array_like of shape (n, sizes[0])
            Inputs, n >= 1.
        Y : array_like
            Targets: shape (n, sizes[-1]) floats for ``"mse"``, shape (n,) integer labels in
            ``[0, sizes[-1])`` for ``"cross_entropy"``.
        out : ndarray of shape (layout.size,), optional
            Where to write the gradient (C-contiguous, writeable, params' dtype, not params).

        Returns
        -------
        loss : numpy scalar of params' dtype
        grad : ndarray of shape (layout.size,)
            ``out`` if given, else a new array; same layout as ``params``.
        """
        params, X, (Y, y) = self._prepare(params, X, Y)
        dt = params.dtype
        grad = np.empty_like(params) if out is None else self._check_out(out, params)
        args = (params, self._as_kernel_input(X), Y, y, self._sizes, self._act,
                self._slopes[dt], self._loss_kind, grad, True)  # fmt: skip
        _first_use(args)
        return _SCALAR[dt](_k.loss_and_grad(*args)), grad


def _first_use(args: tuple) -> None:
    """Compile the loss kernel for these arguments' dtypes on first use (see ``_compile``)."""
    X = args[1]  # the layout (X, or X.T read in place) picks the kernel's variant
    key = (_k.loss_and_grad, args[0].dtype, X.dtype, X.flags.c_contiguous)
    if key not in READY:
        ensure_compiled(f"mlp/{args[0].dtype}", [(_k.loss_and_grad, args)], key)


def _as_float_array(value: object, dtype: np.dtype, argname: str) -> np.ndarray:
    """Return ``value`` as an array of ``dtype``: integers are cast, other floats are an error."""
    arr = np.asarray(value)
    if arr.dtype == dtype:
        return arr
    if arr.dtype.kind in "iub":
        return arr.astype(dtype)
    if arr.dtype.kind == "c":
        raise TypeError(f"{argname} holds complex numbers; it must hold real ones")
    if arr.dtype.kind == "f":
        raise TypeError(
            f"{argname} has dtype {arr.dtype} but params has {dtype}; mixing float32 and float64 "
            f"is not allowed (cast with {argname}.astype(np.{dtype}))"
        )
    raise TypeError(f"{argname} must hold numbers, got dtype {arr.dtype}")
