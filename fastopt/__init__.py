"""fastopt: fast, trustworthy neural-network optimizers on the CPU.

Public names:

- :class:`Layout`: named tensors (PyTorch-style shapes) packed in one flat vector.
- :class:`MLP`: dense networks with Numba forward / loss / gradient passes over flat vectors.
- :class:`SGD`, :class:`Momentum`, :class:`RMSprop`, :class:`Adam`, :class:`AdamW`,
  :class:`Adagrad`: fused in-place optimizer steps with gradient centralization (``gc=``);
  :func:`centralize` is GC on its own. :mod:`fastopt.schedules` holds learning-rate schedules.
- :func:`sweep`: train a whole hyperparameter grid of MLPs in one parallel call, returning a
  :class:`SweepResult` (table, curves, plots); :func:`batch_indices` reproduces its batches.
- :mod:`fastopt.reference`: the pure-NumPy implementations every fast path is tested against.
- :mod:`fastopt.experiments`: the assignment's questions as experiments.
"""

from fastopt import reference, schedules
from fastopt._version import __version__
from fastopt.layout import Layout, TensorSpec
from fastopt.mlp import MLP
from fastopt.optim import (
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
    Optimizer,
    OptimizerState,
    RAdam,
    Ranger,
    RMSprop,
    Rprop,
    centralize,
)
from fastopt.results import SweepResult
from fastopt.store import load_sweep
from fastopt.sweep import batch_indices, sweep

__all__ = [
    "MLP",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Layout",
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
    "SweepResult",
    "TensorSpec",
    "__version__",
    "batch_indices",
    "centralize",
    "load_sweep",
    "reference",
    "schedules",
    "sweep",
]
