"""Pure-NumPy reference implementations, written for clarity rather than speed.

Every fast path of fastopt is tested against these; they share no code with the kernels.

- :mod:`fastopt.reference.mlp`: MLP forward, losses and backward (batch-major, ``(W, b)`` pairs).
- :mod:`fastopt.reference.optim`: SGD, RMSprop, Adam, AdamW, Adagrad, NAdam, RAdam, Adamax,
  Adadelta and Rprop following ``torch.optim``; Lion, Lookahead and Ranger; and gradient
  centralization, over dicts of named arrays.
"""

from fastopt.reference import mlp, optim
from fastopt.reference.mlp import mlp_forward, mlp_loss_and_grad
from fastopt.reference.optim import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Lion,
    Lookahead,
    NAdam,
    RAdam,
    Ranger,
    RMSprop,
    Rprop,
    centralize,
)

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
    "mlp",
    "mlp_forward",
    "mlp_loss_and_grad",
    "optim",
]
