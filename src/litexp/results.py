"""What a finished run leaves behind: ``metrics.json``, the HPARAMS entry, the summary."""

from __future__ import annotations

import json
import math
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from rich.console import Console
from rich.table import Table
from rich.text import Text

METRICS_FILE = "metrics.json"


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON through a temporary file and a rename: readers never see half a file.

    The temporary file is the process's own, so concurrent writers (DDP ranks, nodes)
    never rename each other's file away.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Tensors and numbers as plain floats (NaN kept as None: valid JSON)."""
    out = {}
    for key, value in metrics.items():
        v = float(value.item() if isinstance(value, torch.Tensor) else value)
        out[key] = None if math.isnan(v) else v
    return out


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"lr": 0.1}}`` -> ``{"model.lr": 0.1}``; lists become strings."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif value is None or isinstance(value, (list, tuple)):
            flat[name] = str(value)
        else:
            flat[name] = value
    return flat


def log_hparams(loggers: list[Logger], params: dict[str, Any], metrics: dict[str, Any]) -> None:
    """One HPARAMS entry per run: the parameters against the run's real final metrics.

    Written directly (not through ``TensorBoardLogger.log_hyperparams``, which would log
    the metrics again as extra points at step 0). The HPARAMS tab reads each metric's
    value from the run's own scalar of the same tag.
    """
    from torch.utils.tensorboard.summary import hparams

    metric_values = {k: v for k, v in metrics.items() if v is not None}
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            writer = logger.experiment._get_file_writer()
            for summary in hparams(params, metric_values):
                writer.add_summary(summary)
            writer.flush()


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """The final metrics and where everything is, as a rich table."""
    console = console or Console()
    table = Table(title=f"litexp: {summary['status']}", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in sorted(summary["metrics"].items()):
        table.add_row(key, "nan" if value is None else f"{value:.4f}")
    console.print(table)
    # soft_wrap: paths stay on one line, so they can be copied even from a narrow terminal.
    console.print(f"run directory:   {summary['run_dir']}", soft_wrap=True)
    if summary.get("best_checkpoint"):
        console.print(f"best checkpoint: {summary['best_checkpoint']}", soft_wrap=True)
    logdir = shlex.quote(str(summary["run_dir"]))  # pastes back into a shell as it is
    console.print(Text(f"TensorBoard:     tensorboard --logdir {logdir}"), soft_wrap=True)
