"""The fused optimizers, one module each, every one declared by an :class:`OptimizerSpec`.

Adding an optimizer: one module here (its spec, element loop, coefficients and public class),
its ``fastopt.reference`` implementation, one row in ``tests/optimizer_cases.py``, and its
name in :data:`OPTIMIZERS` below.
"""

from fastopt.optimizers.adagrad import Adagrad
from fastopt.optimizers.adam import Adam, AdamW
from fastopt.optimizers.base import Optimizer, OptimizerState
from fastopt.optimizers.rmsprop import RMSprop
from fastopt.optimizers.sgd import SGD, Momentum
from fastopt.optimizers.spec import Hyper, OptimizerSpec

OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.spec.name: cls for cls in (SGD, Momentum, RMSprop, Adam, AdamW, Adagrad)
}
"""Optimizer classes by their ``name`` (the name their states are saved under)."""

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Hyper",
    "Momentum",
    "Optimizer",
    "OptimizerSpec",
    "OptimizerState",
    "RMSprop",
]
