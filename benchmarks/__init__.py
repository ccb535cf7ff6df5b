"""Benchmarks: each module runs alone (python -m benchmarks.<name>) and returns its figures."""
