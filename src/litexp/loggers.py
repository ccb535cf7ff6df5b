"""Lightning's TensorBoard logger without the ``epoch`` scalar that would open first, and its
W&B logger named like the other dashboards, one W&B run per job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning.pytorch.loggers import TensorBoardLogger as _LightningTensorBoardLogger
from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger

from litexp.errors import ConfigError
from litexp.run_names import label_of

# The W&B runs litexp's loggers started in this process (the latest job's, at most one).
_JOB_RUNS: list[Any] = []


class TensorBoardLogger(_LightningTensorBoardLogger):
    """``lightning.pytorch.loggers.TensorBoardLogger`` that leaves out ``epoch``.

    Lightning adds ``epoch`` to every logged step; TensorBoard sorts its cards by name, so
    an ``epoch`` card would be the first thing a user sees. The x axis is the step; the
    epoch of each point is in ``metrics.csv`` (``logger=csv``) and the run's text summary.
    """

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        kept = {k: v for k, v in metrics.items() if k != "epoch"}
        if kept:
            super().log_metrics(kept, step)


class WandbLogger(_LightningWandbLogger):
    """``lightning.pytorch.loggers.WandbLogger`` whose run is named like the others, one
    W&B run per job.

    ``name=None`` names the run ``<project>/<the job's overrides>`` (``litexp.run_names``),
    as MLflow's run name. Lightning reuses a W&B run already open in the process
    (``wandb.run``); in a sweep the process that ran the previous job (Hydra's basic
    launcher, a joblib worker) still has that job's run open, so a new job's logger
    finishes it first. A process's last run ends with the process (wandb's exit hook).
    """

    def __init__(self, name: str | None = None, project: str | None = None, **kwargs: Any) -> None:
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise ConfigError("logger=wandb needs W&B: pip install 'litexp[wandb]'") from None
        if name is None:
            task, overrides = label_of(project or "train")
            name = f"{task}/{overrides}" if overrides else task
        super().__init__(name=name, project=project, **kwargs)
        self._job_run_started = False

    @property
    def experiment(self) -> Any:
        if not self._job_run_started:
            self._job_run_started = True
            while _JOB_RUNS:  # an earlier job's run, left open in this process
                _JOB_RUNS.pop().finish()
            _JOB_RUNS.append(super().experiment)
        return super().experiment
