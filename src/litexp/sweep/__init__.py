"""Sweeps: the results table of a multirun, job failures, threads per parallel job."""
