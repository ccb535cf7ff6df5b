"""The model summary: Lightning's RichModelSummary without metric modules or a 0 FLOPs line,
printed once per model in a sweep (a sweep over the learning rate prints it once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torchmetrics
from lightning.pytorch.callbacks import RichModelSummary
from lightning.pytorch.utilities.model_summary import (
    get_formatted_model_size,
    get_human_readable_count,
)

_SHOWN: set[tuple[str, int]] = set()  # (model class, parameter count) printed by this process


def _metric_types() -> set[str]:
    """Names of every torchmetrics Metric class (their rows have no parameters to show)."""
    names, todo = set(), [torchmetrics.Metric]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


def _first_to_show(key: tuple[str, int]) -> bool:
    """Whether this job shows the summary of the model ``key`` (class, parameter count).

    In a Hydra sweep (``-m``): the first of the sweep's jobs to fit such a model, whatever
    launcher runs them (one process, joblib's processes, SLURM jobs). It claims the model
    with an empty file in the sweep directory, created only where none is (atomic), so a
    resumed sweep does not print it again. Outside a sweep: once per model in a process
    (a run prints it; ``train(cfg)`` called again for the same model does not).
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        claim = Path(str(HydraConfig.get().sweep.dir)) / f".model_summary.{key[0]}.{key[1]}"
        try:
            claim.touch(exist_ok=False)
            return True
        except FileExistsError:
            return False
        except OSError:  # a sweep directory it cannot write to: once in this process
            pass
    if key in _SHOWN:
        return False
    _SHOWN.add(key)
    return True


class ModelSummary(RichModelSummary):
    """``RichModelSummary`` listing the layers only (numbered from 0), once per model in a
    sweep: a model is its class and parameter count, and the first job of the sweep to
    fit it prints it (``_first_to_show``). A sweep over the learning rate prints one
    summary, ``model=mlp,cnn`` two."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:  # Lightning prints on rank zero only
            return
        key = (type(pl_module).__name__, sum(p.numel() for p in pl_module.parameters()))
        if _first_to_show(key):
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
        rows = [
            row
            for row in zip(*(columns[c] for c in shown), strict=True)
            if row[shown.index("Type")] not in metrics
        ]
        number = shown.index(" ") if " " in shown else None  # Lightning's row-number column
        for i, row in enumerate(rows):
            table.add_row(*(str(i) if j == number else v for j, v in enumerate(row)))
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
