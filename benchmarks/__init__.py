"""Measured comparisons (not part of the test run). Results go to benchmarks/results/."""
