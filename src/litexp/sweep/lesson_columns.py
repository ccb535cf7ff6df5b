"""The lesson columns of a sweep's summary, read from each job's ``metrics.json``.

epochs_to_target (first epoch with val/acc >= ``objective.target_acc``), the model's
parameters, its training throughput, its classification head, the epoch early stopping
ended it, and the fit diagnosis (``litexp.diagnosis``). A column no job fills is left
out of the table.
"""

from __future__ import annotations

from typing import Any

LESSON_COLUMNS = (
    "epochs_to_target", "params", "samples_per_s", "head", "stopped_epoch", "diagnosis",
)  # fmt: skip
NUMERIC = ("epochs_to_target", "params", "samples_per_s", "stopped_epoch")


def lesson_values(result: dict[str, Any]) -> dict[str, str]:
    """The lesson cells of one job (``""`` where the run did not record the value)."""
    values = dict.fromkeys(LESSON_COLUMNS, "")
    target = result.get("epochs_to_target")
    if isinstance(target, dict) and target.get("target") is not None:
        epoch = target.get("epoch")
        values["epochs_to_target"] = "never" if epoch is None else str(epoch)
    params = result.get("parameters")
    if isinstance(params, dict) and params.get("total") is not None:
        values["params"] = str(params["total"])
    if result.get("samples_per_s") is not None:
        values["samples_per_s"] = f"{float(result['samples_per_s']):.0f}"
    head = result.get("head")
    if isinstance(head, dict):
        values["head"] = str(head.get("text", ""))
    stop = result.get("early_stopping")
    if isinstance(stop, dict):
        values["stopped_epoch"] = str(stop.get("stopped_epoch") or "no stop")
    diagnosis = result.get("diagnosis")
    if isinstance(diagnosis, dict):
        values["diagnosis"] = str(diagnosis.get("text", ""))
    return values
