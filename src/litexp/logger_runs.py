"""A resumed run continues its dashboards' runs: the MLflow run's id is kept in the run
directory (``logger_runs.json``) and handed back to MLflow's logger on ``resume=``.

TensorBoard needs no id (a resumed run writes into its own event folder, see
``build.run_name_kwargs``). W&B cannot resume a run offline (litexp's default):
wandb#2423; the resume of offline runs is wandb PR #12110, still open in 2026-12.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import lightning as L

from litexp.run_files import write_json_atomic

LOGGER_RUNS = "logger_runs.json"
_RUN_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")  # MLflow's: 32 hex digits


class RecordLoggerRuns(L.Callback):
    """Writes ``<run dir>/logger_runs.json``, ``{"mlflow": [{"run_id", "tracking_uri"}]}``
    (one entry per MLflow logger, in the config's order), once training starts, on rank
    zero, so that ``resume=`` logs into the same MLflow runs. ``tracking_uris``: the
    MLflow loggers' stores, as the run's resolved config names them."""

    def __init__(self, out: Path, tracking_uris: list[str]) -> None:
        self.out, self.tracking_uris = out, tracking_uris

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        ids = [lg.run_id for lg in trainer.loggers if type(lg).__name__ == "MLFlowLogger"]
        if not ids or not trainer.is_global_zero:
            return
        runs = [
            {"run_id": run_id, "tracking_uri": uri}
            for run_id, uri in zip(ids, self.tracking_uris, strict=False)
        ]
        write_json_atomic(self.out / LOGGER_RUNS, {"mlflow": runs})


def mlflow_tracking_uris(config: dict[str, Any]) -> list[str]:
    """The stores of the run's MLflow loggers (its resolved, plain config), in order."""
    return [
        str(node.get("tracking_uri"))
        for node in (config.get("logger") or {}).values()
        if isinstance(node, dict) and str(node.get("_target_", "")).endswith("MLFlowLogger")
    ]


def continued_mlflow_run(out: Path, tracking_uri: str) -> str | None:
    """The MLflow run id a resumed run logs into: the one its first process started in
    the same tracking store; None (a new MLflow run) when there is none."""
    try:
        recorded: Any = json.loads((out / LOGGER_RUNS).read_text())["mlflow"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for entry in recorded if isinstance(recorded, list) else []:
        if isinstance(entry, dict) and entry.get("tracking_uri") == tracking_uri:
            run_id = entry.get("run_id")
            if isinstance(run_id, str) and _RUN_ID.fullmatch(run_id):
                return run_id
    return None
