"""The assignment's questions as experiments: each returns data and can report itself."""

from fastopt.experiments.worked_example import WorkedExample, worked_example

__all__ = ["WorkedExample", "worked_example"]
