"""Pure-NumPy reference implementations, written for clarity rather than speed.

Every fast path of fastopt is tested against these; they share no code with the kernels.

- :mod:`fastopt.reference.mlp`: MLP forward, losses and backward (batch-major, ``(W, b)`` pairs).
- :mod:`fastopt.reference.optim`: SGD, RMSprop, Adam, AdamW, Adagrad and gradient
  centralization over dicts of named arrays, following ``torch.optim``.
"""

from fastopt.reference import mlp, optim
from fastopt.reference.mlp import mlp_forward, mlp_loss_and_grad
from fastopt.reference.optim import SGD, Adagrad, Adam, AdamW, RMSprop, centralize

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "RMSprop",
    "centralize",
    "mlp",
    "mlp_forward",
    "mlp_loss_and_grad",
    "optim",
]
