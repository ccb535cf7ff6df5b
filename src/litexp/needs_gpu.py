"""Recipes that only mean something on a GPU say what they would measure, and skip.

A recipe sets ``needs_gpu: <what it measures>``; on a machine without CUDA the run
prints that sentence, writes ``metrics.json`` with ``status: skipped`` and the reason,
and exits 0 (a sweep's summary shows the jobs as skipped, not failed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from litexp.distributed import is_global_zero_process
from litexp.run_files import METRICS_FILE, write_json_atomic


def skip_without_gpu(cfg: DictConfig, out: Path) -> dict[str, Any] | None:
    """The skipped run's summary when ``cfg.needs_gpu`` is set and there is no CUDA GPU;
    None otherwise (the run goes ahead)."""
    what = cfg.get("needs_gpu")
    if not what or torch.cuda.is_available():
        return None
    reason = f"needs a CUDA GPU to measure {what}; torch sees none here"
    summary = {"status": "skipped", "reason": reason, "metrics": {}, "run_dir": str(out)}
    if is_global_zero_process():
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / METRICS_FILE, summary)
        print(f"litexp: skipped: this recipe {reason}", file=sys.stderr)
    return summary
