"""A run's JSON files (``metrics.json``, ``run.json``), written whole and read safely.

Standard library only: the sweep's Hydra callbacks read jobs' results before any job has
loaded torch, so a mistyped override in a sweep fails in a second.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.json"


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON through a temporary file and a rename: readers never see half a file.

    The temporary file is the process's own, so concurrent writers (DDP ranks, nodes)
    never rename each other's file away.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when the file is missing, partial or not an
    object (a job that never finished, or one another process is writing)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
