"""fastopt: fast, trustworthy neural-network optimizers on the CPU.

Public names:

- :class:`Layout`: named tensors (PyTorch-style shapes) packed in one flat vector.
- :class:`MLP`: dense networks with Numba forward / loss / gradient passes over flat vectors.
- :mod:`fastopt.reference`: the pure-NumPy implementations every fast path is tested against.
- :mod:`fastopt.experiments`: the assignment's questions as experiments.
"""

from fastopt import reference
from fastopt.layout import Layout, TensorSpec
from fastopt.mlp import MLP

__version__ = "0.1.0"

__all__ = ["MLP", "Layout", "TensorSpec", "__version__", "reference"]
