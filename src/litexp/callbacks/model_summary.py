"""The model summary: Lightning's RichModelSummary without metric modules or a 0 FLOPs line,
printed once per model in a process (a sweep over the learning rate prints it once)."""

from __future__ import annotations

from typing import Any

import lightning as L
import torchmetrics
from lightning.pytorch.callbacks import RichModelSummary
from lightning.pytorch.utilities.model_summary import (
    get_formatted_model_size,
    get_human_readable_count,
)

_SHOWN: set[tuple[str, int]] = set()  # (model class, parameter count) already printed


def _metric_types() -> set[str]:
    """Names of every torchmetrics Metric class (their rows have no parameters to show)."""
    names, todo = set(), [torchmetrics.Metric]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


class ModelSummary(RichModelSummary):
    """``RichModelSummary`` listing the layers only, once per model in this process."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        key = (type(pl_module).__name__, sum(p.numel() for p in pl_module.parameters()))
        if key in _SHOWN:
            return
        _SHOWN.add(key)
        super().on_fit_start(trainer, pl_module)

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int = 0,
        **summarize_kwargs: Any,
    ) -> None:
        from rich import get_console
        from rich.table import Table

        columns = {name: values for name, values in summary_data}
        shown = [c for c in columns if c != "FLOPs" or total_flops]
        metrics = _metric_types()
        table = Table(header_style=summarize_kwargs.get("header_style", "bold magenta"))
        for name in shown:
            table.add_column(name, justify="right" if name in ("Params", "FLOPs") else "left")
        for row in zip(*(columns[c] for c in shown), strict=True):
            if row[shown.index("Type")] not in metrics:
                table.add_row(*row)
        console = get_console()
        console.print(table)
        frozen = total_parameters - trainable_parameters
        lines = [
            f"[bold]Trainable params[/]: {get_human_readable_count(int(trainable_parameters))}",
            f"[bold]Non-trainable params[/]: {get_human_readable_count(int(frozen))}",
            f"[bold]Total params size (MB)[/]: {get_formatted_model_size(model_size)}",
        ]
        if total_flops:
            lines.append(f"[bold]Total FLOPs[/]: {get_human_readable_count(total_flops)}")
        console.print("\n".join(lines))
