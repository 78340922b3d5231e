"""Pure-NumPy MLP forward, loss and backward, written to be read.

Batch-major throughout: a layer maps ``a`` of shape (n, in) to ``z = a @ W.T + b`` of shape
(n, out), with ``W`` of shape (out, in) as in PyTorch. This is the independent second
implementation that the Numba kernels are tested against; it shares no code with them.
"""

from __future__ import annotations

import numpy as np

Layers = list[tuple[np.ndarray, np.ndarray]]
"""One ``(W, b)`` pair per dense layer: W of shape (out, in), b of shape (out,)."""


def activate(name: str, z: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """Hidden activation ``name`` applied to ``z`` (any shape)."""
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, z * negative_slope)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "identity":
        return z
    raise ValueError(f"unknown activation {name!r}")


def activation_derivative(name: str, z: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """Derivative of activation ``name`` at ``z``; ``relu'(0) = 0`` as in PyTorch."""
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z > 0, 1, negative_slope).astype(z.dtype)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)
    if name == "identity":
        return np.ones_like(z)
    raise ValueError(f"unknown activation {name!r}")


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``z`` of shape (n, m)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def forward(
    layers: Layers, X: np.ndarray, activation: str, negative_slope: float = 0.01
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Forward pass.

    Returns
    -------
    zs : list of ndarray
        Pre-activations of every layer, ``zs[l]`` of shape (n, out_l); the last is the raw output.
    hs : list of ndarray
        Inputs of every layer: ``hs[0] = X``, ``hs[l] = activation(zs[l-1])``.
    """
    hs = [X]
    zs = []
    for index, (W, b) in enumerate(layers):
        z = hs[-1] @ W.T + b
        zs.append(z)
        if index < len(layers) - 1:
            hs.append(activate(activation, z, negative_slope))
    return zs, hs


def loss_and_output_grad(output: np.ndarray, Y: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    """Loss of the raw outputs (n, m) and its gradient with respect to them.

    ``"mse"``: ``mean((output - Y)**2)`` over samples and outputs, Y of shape (n, m).
    ``"cross_entropy"``: ``mean(-log softmax(output)[i, Y[i]])``, Y of shape (n,) integer labels.
    """
    n = output.shape[0]
    if loss == "mse":
        diff = output - Y
        return float(np.mean(diff**2)), 2 * diff / diff.size
    if loss == "cross_entropy":
        probs = softmax(output)
        rows = np.arange(n)
        value = float(np.mean(-np.log(probs[rows, Y])))
        d_output = probs.copy()
        d_output[rows, Y] -= 1
        return value, d_output / n
    raise ValueError(f"unknown loss {loss!r}")


def backward(
    layers: Layers,
    zs: list[np.ndarray],
    hs: list[np.ndarray],
    d_output: np.ndarray,
    activation: str,
    negative_slope: float = 0.01,
) -> Layers:
    """Backward pass from ``d_output`` (gradient w.r.t. the raw outputs, shape (n, m)).

    Returns one ``(dW, db)`` pair per layer, shaped like ``layers``.
    """
    grads: Layers = []
    dz = d_output
    for index in range(len(layers) - 1, -1, -1):
        W, _ = layers[index]
        grads.append((dz.T @ hs[index], dz.sum(axis=0)))
        if index > 0:
            dz = (dz @ W) * activation_derivative(activation, zs[index - 1], negative_slope)
    return grads[::-1]


def split_params(net, params: np.ndarray) -> Layers:
    """The ``(W, b)`` pairs of ``net`` (a :class:`fastopt.MLP`) from a flat vector."""
    views = net.layout.views(params)
    return [(views[f"W{i}"], views[f"b{i}"]) for i in range(1, len(net.sizes))]


def mlp_forward(net, params: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Outputs of ``net`` (n, m): identity, or softmax probabilities for classifiers."""
    zs, _ = forward(split_params(net, params), X, net.activation, net.negative_slope)
    return softmax(zs[-1]) if net.output == "softmax" else zs[-1]


def mlp_loss_and_grad(net, params: np.ndarray, X: np.ndarray, Y: np.ndarray):
    """Loss of ``net`` and its gradient as a flat vector in ``net.layout``."""
    layers = split_params(net, params)
    zs, hs = forward(layers, X, net.activation, net.negative_slope)
    value, d_output = loss_and_output_grad(zs[-1], Y, net.loss_name)
    grads = backward(layers, zs, hs, d_output, net.activation, net.negative_slope)
    named = {}
    for i, (dW, db) in enumerate(grads, start=1):
        named[f"W{i}"] = dW
        named[f"b{i}"] = db
    return value, net.layout.pack(named, dtype=params.dtype)
