"""Benchmarks (pytest-benchmark): ``pytest bench/``. Not part of the test suite."""
