"""The fused optimizers, one module each, every one declared by an :class:`OptimizerSpec`.

Adding an optimizer: one module here (its spec, element loop, coefficients and public class),
its ``fastopt.reference`` implementation, one row in ``tests/optimizer_cases.py``, and its
name in :data:`BASE` below. Lookahead wraps each of them (``lookahead.py``); Ranger is its
preset around RAdam.
"""

from fastopt.optimizers.adadelta import Adadelta
from fastopt.optimizers.adagrad import Adagrad
from fastopt.optimizers.adam import Adam, AdamW
from fastopt.optimizers.adamax import Adamax
from fastopt.optimizers.base import Optimizer, OptimizerState
from fastopt.optimizers.lion import Lion
from fastopt.optimizers.lookahead import Lookahead, Ranger, lookahead_class
from fastopt.optimizers.nadam import NAdam
from fastopt.optimizers.radam import RAdam
from fastopt.optimizers.rmsprop import RMSprop
from fastopt.optimizers.rprop import Rprop
from fastopt.optimizers.sgd import SGD, Momentum
from fastopt.optimizers.spec import Hyper, OptimizerSpec

BASE: tuple[type[Optimizer], ...] = (
    SGD, Momentum, RMSprop, Adam, AdamW, Adagrad, NAdam, RAdam, Adamax, Adadelta, Rprop, Lion,
)  # fmt: skip
"""The optimizers that are not Lookahead, in the order they are listed."""

OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.spec.name: cls for cls in (*BASE, *(lookahead_class(base) for base in BASE), Ranger)
}
"""Optimizer classes by their ``name`` (the name their states are saved under): the base
optimizers, ``lookahead_<name>`` around each, and ``ranger``."""

__all__ = [
    "BASE",
    "OPTIMIZERS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Hyper",
    "Lion",
    "Lookahead",
    "Momentum",
    "NAdam",
    "Optimizer",
    "OptimizerSpec",
    "OptimizerState",
    "RAdam",
    "RMSprop",
    "Ranger",
    "Rprop",
    "lookahead_class",
]
