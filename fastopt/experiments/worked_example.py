"""The assignment's hand-worked 2-2-2 ReLU network (SEED.md, Q3), computed by fastopt.

Notation of the assignment: ``w_ab`` joins unit ``a`` of one layer to unit ``b`` of the next
(inputs i1, i2 -> hidden h1, h2 -> outputs o1, o2); biases b1, b2 (hidden) and b3, b4 (outputs).
In fastopt's PyTorch-style ``(out, in)`` weights that is ``W1[b - 1, a - 1] = w_ab`` for the
first layer and ``W2[b - 1, a - 3] = w_ab`` for the second.

Loss convention. ``MLP(loss="mse")`` is the mean over samples and outputs of ``(t - o)**2``;
for one sample and two outputs that equals ``E = E1 + E2`` with ``E_k = (t_k - o_k)**2 / 2``,
gradient included, so fastopt's gradient *is* the full-loss gradient ``dE/dw``. The assignment
instead follows a single path per weight (``E1`` for w21, ``E2`` for w12). Both are computed
here: the gradient of ``E1`` alone is the gradient of the same loss with ``t2`` replaced by the
current ``o2`` (its term then has zero gradient), and likewise for ``E2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastopt.mlp import MLP
from fastopt.reference import mlp as reference

#: The assignment's table: inputs, weights, biases and targets.
TABLE = {
    "i1": 2.0, "i2": -1.0,
    "w11": 1.0, "w12": -0.5, "w21": 0.5, "w22": -1.0,
    "w31": 0.5, "w32": -1.0, "w41": -0.5, "w42": 1.0,
    "b1": 0.5, "b2": -0.5, "b3": -1.0, "b4": 0.5,
    "t1": 1.0, "t2": 0.5,
}  # fmt: skip

#: Where each of the assignment's parameters lives: (fastopt tensor, index).
PARAMETER_INDEX = {
    "w11": ("W1", (0, 0)), "w21": ("W1", (0, 1)), "w12": ("W1", (1, 0)), "w22": ("W1", (1, 1)),
    "w31": ("W2", (0, 0)), "w41": ("W2", (0, 1)), "w32": ("W2", (1, 0)), "w42": ("W2", (1, 1)),
    "b1": ("b1", (0,)), "b2": ("b1", (1,)), "b3": ("b2", (0,)), "b4": ("b2", (1,)),
}  # fmt: skip


@dataclass(frozen=True)
class WorkedExample:
    """Every number of the worked example, in the assignment's notation.

    Attributes
    ----------
    lr : float
        Learning rate of the single gradient-descent step.
    z, h, o : ndarray of shape (2,)
        Hidden pre-activations, hidden activations (ReLU) and outputs.
    mse : float
        ``MLP(loss="mse")``: the mean over the two outputs of ``(t - o)**2``.
    E1, E2 : float
        ``(t_k - o_k)**2 / 2``; ``E1 + E2 == mse`` here.
    weights : dict of str to float
        The table's parameters by assignment name (w11 ... w42, b1 ... b4).
    grad_E, grad_E1, grad_E2 : dict of str to float
        Gradients of the full loss ``E`` (fastopt's), of ``E1`` alone and of ``E2`` alone.
    after_step : dict of str to float
        Parameters after one step ``w - lr * dE/dw`` on the full loss.
    """

    lr: float
    z: np.ndarray
    h: np.ndarray
    o: np.ndarray
    mse: float
    E1: float
    E2: float
    weights: dict[str, float]
    grad_E: dict[str, float]
    grad_E1: dict[str, float]
    grad_E2: dict[str, float]
    after_step: dict[str, float]

    def report(self) -> str:
        """A plain-text account of the example, line by line as the assignment works it."""
        w, z, h, o = self.weights, self.z, self.h, self.o
        t1, t2 = TABLE["t1"], TABLE["t2"]
        lines = [
            "The assignment's 2-2-2 ReLU network (SEED.md Q3), computed by fastopt in float64",
            f"inputs i1 = {TABLE['i1']:g}, i2 = {TABLE['i2']:g}; targets t1 = {t1:g}, t2 = {t2:g}",
            "",
            "Forward pass",
            f"  z1 = i1*w11 + i2*w21 + b1 = {z[0]:g}    h1 = relu(z1) = {h[0]:g}",
            f"  z2 = i1*w12 + i2*w22 + b2 = {z[1]:g}   h2 = relu(z2) = {h[1]:g}",
            f"  o1 = h1*w31 + h2*w41 + b3 = {o[0]:g}",
            f"  o2 = h1*w32 + h2*w42 + b4 = {o[1]:g}",
            "",
            "Loss",
            f"  MSE = ((t1 - o1)^2 + (t2 - o2)^2) / 2 = {self.mse:g}",
            f"  E1 = (t1 - o1)^2 / 2 = {self.E1:g},  E2 = (t2 - o2)^2 / 2 = {self.E2:g},"
            f"  E = E1 + E2 = {self.E1 + self.E2:g}",
            "",
            f"Gradients, and one gradient-descent step at lr = {self.lr:g} on the full loss E",
            f"  {'param':>5} {'value':>7} {'dE1/dp':>7} {'dE2/dp':>7} {'dE/dp':>7} {'after':>7}",
        ]
        for name in PARAMETER_INDEX:
            lines.append(
                f"  {name:>5} {w[name]:7.3g} {self.grad_E1[name]:7.3g} {self.grad_E2[name]:7.3g}"
                f" {self.grad_E[name]:7.3g} {self.after_step[name]:7.3g}"
            )
        single_w21 = w["w21"] - self.lr * self.grad_E1["w21"]
        lines += [
            "",
            "Which gradient is which",
            f"  fastopt (full loss E):     dE/dw21  = {self.grad_E['w21']:g}"
            f"  -> w21 = {self.after_step['w21']:g}",
            f"  assignment (E1's path):    dE1/dw21 = {self.grad_E1['w21']:g}"
            f"  -> w21 = {single_w21:g}",
            f"    (E2 adds (o2-t2)*w32*relu'(z1)*i2 = {self.grad_E2['w21']:g} through h1)",
            f"  w12: dE/dw12 = {self.grad_E['w12']:g}, so w12 stays {self.after_step['w12']:g}:"
            f" ReLU is inactive at z2 = {z[1]:g} (relu'(z2) = 0)",
        ]
        return "\n".join(lines)


def _by_name(views: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: float(views[t][idx]) for name, (t, idx) in PARAMETER_INDEX.items()}


def worked_example(lr: float = 0.1) -> WorkedExample:
    """Build the assignment's 2-2-2 network from its table and work it through in float64.

    Parameters
    ----------
    lr : float
        Learning rate of the single gradient-descent step (the assignment uses 0.1).

    Returns
    -------
    WorkedExample
        Forward values, losses, gradients and the stepped parameters; ``.report()`` prints them.
    """
    net = MLP([2, 2, 2], activation="relu", loss="mse")
    arrays = {"W1": np.zeros((2, 2)), "b1": np.zeros(2), "W2": np.zeros((2, 2)), "b2": np.zeros(2)}
    for name, (tensor, idx) in PARAMETER_INDEX.items():
        arrays[tensor][idx] = TABLE[name]
    params = net.layout.pack(arrays, dtype=np.float64)
    X = np.array([[TABLE["i1"], TABLE["i2"]]])
    Y = np.array([[TABLE["t1"], TABLE["t2"]]])

    zs, hs = reference.forward(reference.split_params(net, params), X, net.activation)
    o = net.forward(params, X)[0]
    mse, grad = net.loss_and_grad(params, X, Y)
    # One output's loss alone: pin the other target to its current output.
    E1, grad_E1 = net.loss_and_grad(params, X, np.array([[Y[0, 0], o[1]]]))
    E2, grad_E2 = net.loss_and_grad(params, X, np.array([[o[0], Y[0, 1]]]))
    stepped = params - lr * grad

    views = net.layout.views
    return WorkedExample(
        lr=float(lr),
        z=zs[0][0],
        h=hs[1][0],
        o=o,
        mse=float(mse),
        E1=float(E1),
        E2=float(E2),
        weights=_by_name(views(params)),
        grad_E=_by_name(views(grad)),
        grad_E1=_by_name(views(grad_E1)),
        grad_E2=_by_name(views(grad_E2)),
        after_step=_by_name(views(stepped)),
    )
