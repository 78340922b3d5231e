"""The assignment's questions as experiments: each returns data and can report itself."""

from fastopt.experiments.compare import Comparison, compare
from fastopt.experiments.worked_example import WorkedExample, worked_example

__all__ = ["Comparison", "WorkedExample", "compare", "worked_example"]
