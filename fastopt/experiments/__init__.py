"""The assignment's questions as experiments: each returns data and can report itself."""

from fastopt.experiments.batch import BatchStudy, batch_study
from fastopt.experiments.compare import Comparison, compare
from fastopt.experiments.gc import GCStudy, gc_study
from fastopt.experiments.lr_range import LRStudy, lr_study
from fastopt.experiments.saddle import SaddleStudy, saddle_study
from fastopt.experiments.worked_example import WorkedExample, worked_example

__all__ = [
    "BatchStudy",
    "Comparison",
    "GCStudy",
    "LRStudy",
    "SaddleStudy",
    "WorkedExample",
    "batch_study",
    "compare",
    "gc_study",
    "lr_study",
    "saddle_study",
    "worked_example",
]
