"""Undo one per-step cost a CUDA build of torch has on a machine without a GPU."""

from __future__ import annotations

import os

import lightning  # noqa: F401  (sets the variable on import: undone after it, not before)
import torch

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def skip_nvml_check_without_gpu() -> bool:
    """Let ``torch.cuda.is_available()`` use torch's cached answer when there is no GPU.

    Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` when imported, so that asking for
    CUDA does not initialise it before a fork. With it, every ``torch.cuda.is_available()``
    loads libnvidia-ml through ctypes, and Adam and AdamW ask at every ``step()`` (their
    graph-capture health check): 70 us a call here; the small MLP's plain-loop epoch
    went from 0.70 to 0.63 s without it (benchmarks/loop_overhead.py, same process).
    With no CUDA device there is nothing a fork could break, so the variable goes.
    Called once per process, when a command starts its task (``litexp.cli.run_task``).
    Returns whether it was removed.
    """
    if os.environ.get(NVML_CHECK) != "1" or not torch.backends.cuda.is_built():
        return False
    if torch.cuda.device_count() > 0:  # NVML's count, without initialising CUDA
        return False
    del os.environ[NVML_CHECK]
    return True
