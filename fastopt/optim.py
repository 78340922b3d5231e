"""Fused optimizers over flat parameter vectors, with gradient centralization built in.

Each optimizer updates a flat parameter vector and its flat state buffers in place, in one
pass over memory (plus, with gradient centralization, a row mean taken while the row is in
cache). Hyperparameters, defaults and update rules are those of ``torch.optim``::

    opt = fastopt.Adam(lr=1e-3, gc="grad")
    state = opt.init(params, layout)       # zeroed buffers, same dtype and layout as params
    for ...:
        opt.step(params, grads, state)     # params and state updated in place

Gradient centralization (``gc``): for a tensor of shape ``(out, *rest)`` with ``rest``
non-empty, each of its ``out`` rows is shifted to zero mean; 1-D tensors never are.

- ``gc=None``: off (default).
- ``gc="grad"``: gradient -> + L2 weight decay -> centralize -> moments (the official ``_GC``
  optimizers).
- ``gc="update"``: centralize the final step direction ``u`` of ``p -= lr * u`` (the official
  ``GC2`` / ``gc_loc=False``); the stored state is the same as without GC. For Adam that is
  ``m_hat / (sqrt(v_hat) + eps)``, plus ``weight_decay * p`` for AdamW.

For plain SGD (no momentum) both modes give the same step.

The optimizers: SGD (and Momentum), RMSprop, Adam, AdamW, Adagrad, NAdam, RAdam, Adamax,
Adadelta, Rprop (torch.optim's, same defaults and state names), Lion (Chen et al. 2023),
``Lookahead(inner, k, alpha)`` around any of them, and Ranger (RAdam + Lookahead + GC).
"""

from fastopt.optimizers import (
    OPTIMIZERS,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Lion,
    Lookahead,
    Momentum,
    NAdam,
    RAdam,
    Ranger,
    RMSprop,
    Rprop,
)
from fastopt.optimizers.base import (
    CHUNK,
    GC_CHUNK,
    GC_MODES,
    PARALLEL_MIN_SIZE,
    Optimizer,
    OptimizerState,
    centralize,
    chunk_table,
)

__all__ = [
    "CHUNK",
    "GC_CHUNK",
    "GC_MODES",
    "OPTIMIZERS",
    "PARALLEL_MIN_SIZE",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Lion",
    "Lookahead",
    "Momentum",
    "NAdam",
    "Optimizer",
    "OptimizerState",
    "RAdam",
    "RMSprop",
    "Ranger",
    "Rprop",
    "centralize",
    "chunk_table",
]
