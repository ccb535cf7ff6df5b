"""One job of a multirun: is this a sweep job, and how its failure is recorded."""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from litexp.errors import first_line
from litexp.run_files import METRICS_FILE, write_json_atomic


def in_multirun() -> bool:
    """True inside a job of ``-m`` multirun (whatever the launcher)."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def record_failure(cfg: DictConfig, err: BaseException) -> dict[str, Any]:
    """The failed job's result: kept from its ``metrics.json`` if the run wrote one, else written.

    The sweep goes on with the next job; the summary shows this job as a ``failed`` row
    with the error's first line.
    """
    out = Path(str(cfg.paths.output_dir))
    path = out / METRICS_FILE
    try:
        written = json.loads(path.read_text())
    except (OSError, ValueError):
        written = None
    if isinstance(written, dict) and written.get("status") == "failed":
        return written
    summary = {
        "status": "failed",
        "error": f"{type(err).__name__}: {first_line(err, default='')}",
        "traceback": "".join(traceback.format_exception(err))[-4000:],
        "metrics": {},
        "seed": cfg.get("seed"),
        "run_dir": str(out),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, summary)
    return summary
