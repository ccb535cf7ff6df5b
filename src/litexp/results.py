"""What a finished run leaves behind: ``metrics.json``, the HPARAMS entry, the summary."""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from rich.console import Console
from rich.table import Table
from rich.text import Text


def scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Tensors and numbers as plain floats (NaN kept as None: valid JSON)."""
    out = {}
    for key, value in metrics.items():
        v = float(value.item() if isinstance(value, torch.Tensor) else value)
        out[key] = None if math.isnan(v) else v
    return out


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"lr": 0.1}}`` -> ``{"model.lr": 0.1}``, values readable (``readable``)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = readable(value)
    return flat


def readable(value: Any) -> str | float:
    """A number stays a number (HPARAMS plots it); anything else becomes the text a user
    would type: ``true``, ``[64, 64]``, ``null``, ``relu``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if value is None:
        return "null"
    return str(list(value)) if isinstance(value, (list, tuple)) else str(value)


def metric_order(metrics: Mapping[str, Any], objective: str | None) -> list[str]:
    """The objective first, then ``test/acc``, then the rest as they come."""
    first = [k for k in (objective, "test/acc") if k in metrics]
    return list(dict.fromkeys(first + list(metrics)))


def log_hparams(
    loggers: list[Logger],
    params: dict[str, Any],
    metrics: dict[str, Any],
    *,
    objective: str | None = None,
    text: str | None = None,
    step: int = 0,
    swept: set[str] | frozenset[str] = frozenset(),
) -> None:
    """One HPARAMS entry per run (and its text summary): the parameters against the run's
    real final metrics, the objective first (TensorBoard opens with these columns).
    The ``swept`` parameters are marked as differing between runs: TensorBoard lists
    those first (and shows them ticked), then the others by name.

    Written directly (not through ``TensorBoardLogger.log_hyperparams``, which would log
    the metrics again as extra points at step 0). The HPARAMS tab reads each metric's
    value from the run's own scalar of the same tag. Lightning closed the writer at the
    end of the test; this reopens it once and closes it again, so no writer thread is
    left behind.
    """
    from torch.utils.tensorboard.summary import hparams

    metric_values = {
        k: metrics[k] for k in metric_order(metrics, objective) if metrics[k] is not None
    }
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            writer = logger.experiment
            for summary in hparams(params, metric_values):
                _mark_swept(summary, swept)
                writer._get_file_writer().add_summary(summary)
            if text:
                writer.add_text("summary", text, step)
            writer.close()  # joins the writer's thread


def log_to_trackers(
    loggers: list[Logger], params: dict[str, Any], summary: Mapping[str, Any], name: str
) -> None:
    """The other loggers get the same parameters as HPARAMS (``log_hyperparams``); MLflow
    also the run's tags (name, status, run directory) and the best checkpoint as an
    artifact (``checkpoints/``)."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            continue
        logger.log_hyperparams(params)
        if type(logger).__name__ == "MLFlowLogger":
            client, run_id = logger.experiment, logger.run_id
            tags = {"litexp.run": name, "litexp.status": summary["status"]}
            tags["litexp.run_dir"] = str(summary["run_dir"])
            for key, value in tags.items():
                client.set_tag(run_id, key, value)
            if summary.get("best_checkpoint"):
                client.log_artifact(run_id, summary["best_checkpoint"], "checkpoints")
        logger.save()


def _mark_swept(summary: Any, swept: set[str] | frozenset[str]) -> None:
    """Set ``differs`` on the experiment summary's swept parameters (in place)."""
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    for value in summary.value:
        if value.tag != metadata.EXPERIMENT_TAG:
            continue
        data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
        for info in data.experiment.hparam_infos:
            info.differs = info.name in swept
        value.metadata.plugin_data.content = data.SerializeToString()


def _fmt(value: Any) -> str:
    return "nan" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def summary_text(summary: Mapping[str, Any], command: str, overrides: list[str]) -> str:
    """The run in one Markdown page, for TensorBoard's TEXT tab."""
    lines = [f"**{summary['status']}** · run directory `{summary['run_dir']}`", ""]
    lines += [f"command: `{command}`", ""]
    if overrides:
        lines += ["overrides: " + " ".join(f"`{o}`" for o in overrides), ""]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in sorted(summary["metrics"].items())]
    class_acc = summary.get("class_acc") or {}
    if class_acc:
        lines += ["", "| class | test accuracy |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in class_acc.items()]
    if summary.get("best_checkpoint"):
        epoch = best_epoch(summary["best_checkpoint"])
        at = f" (epoch {epoch})" if epoch else ""
        lines += ["", f"best checkpoint{at}: `{summary['best_checkpoint']}`"]
    diagnosis = summary.get("diagnosis")
    if isinstance(diagnosis, Mapping) and diagnosis.get("text"):
        lines += ["", f"fit diagnosis: {diagnosis['text']}"]
    return "\n".join(lines)


def best_epoch(checkpoint: str) -> int | None:
    """The epoch (counted from 1) in a checkpoint's name ``epoch003-...`` (epoch index 3)."""
    match = re.search(r"epoch(\d+)", Path(checkpoint).name)
    return int(match.group(1)) + 1 if match else None


def print_summary(
    summary: dict[str, Any], console: Console | None = None, label: str | None = None
) -> None:
    """The final metrics and where everything is, as a rich table.

    ``label`` (a sweep's ``job 2 of 4 · model.lr=0.1``) goes in the title; the table and
    its lines are written at once, so parallel jobs' results never interleave.
    """
    console = console or Console()
    title = f"litexp: {summary['status']}" + (f" · {label}" if label else "")
    table = Table(title=title, show_header=True, min_width=len(title) if label else None)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in sorted(summary["metrics"].items()):
        table.add_row(key, _fmt(value))
    with console:  # one write for the whole block
        console.print(table)
        # soft_wrap: paths stay on one line, so they can be copied even from a narrow terminal.
        console.print(f"run directory:   {summary['run_dir']}", soft_wrap=True)
        if summary.get("best_checkpoint"):
            console.print(f"best checkpoint: {summary['best_checkpoint']}", soft_wrap=True)
        logdir = shlex.quote(str(summary["run_dir"]))  # pastes back into a shell as it is
        console.print(Text(f"TensorBoard:     tensorboard --logdir {logdir}"), soft_wrap=True)
