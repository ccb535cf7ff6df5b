"""A sweep's progress between jobs, and a stop that ends the whole sweep at any moment.

``SweepProgress`` is a Hydra callback (``conf/hydra/default.yaml``):
- before each job: ``sweep: job 3 of 8: model.lr=0.01 seed=1``; after it: its status,
  its objective and the estimated time left (the mean job time so far, times the jobs left);
- a SIGTERM (a cluster's pre-emption) or Ctrl-C while the sweep is between jobs ends it
  there (during training, ``GracefulStop`` saves ``last.ckpt`` and stops the job first);
- a sweep that ends before its last job (a stop, a crash) still writes its summary, with
  the unfinished rows marked, and prints the command that resumes it.
"""

from __future__ import annotations

import atexit
import logging
import shlex
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from hydra.core.utils import JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from litexp.run_files import read_json
from litexp.sweep.grid import grid_of, saved_total

log = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, s = divmod(seconds, 60)
    return f"{minutes}m{s:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _sweep_dir(config: DictConfig) -> str:
    return str(OmegaConf.select(config, "hydra.sweep.dir") or ".")


def _in_sweep(config: DictConfig) -> bool:
    """Whether this job is one of a ``-m`` sweep's."""
    return OmegaConf.select(config, "hydra.mode") == RunMode.MULTIRUN


class SweepProgress(Callback):
    """Hydra callback: progress lines between jobs; a stop or crash still writes the summary.

    Args:
        objective: the metric a job's line shows (and the summary sorts by).
        direction: ``maximize`` or ``minimize``.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, objective: str = "val/acc", direction: str = "maximize") -> None:
        self.objective = objective
        self.direction = direction
        self.grid: list[list[str]] | None = None
        self.total: int | None = None
        self.sweep_dir: Path | None = None
        self.job_started = 0.0
        self.durations: list[float] = []
        self.ended = False
        self.task_overrides: list[str] = []
        self.job_dir: Path | None = None  # the job running in this process, if any
        self.pending: int | None = None  # a stop signal to act on when the job ends
        self._previous: dict[int, Any] = {}

    # The sweep process --------------------------------------------------------------
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.grid = grid_of(config)
        self.total = len(self.grid) if self.grid is not None else None
        if self.total is None:
            self.total = OmegaConf.select(config, "hydra.sweeper.n_trials")
        self.sweep_dir = Path(str(config.hydra.sweep.dir))
        self.task_overrides = [str(o) for o in config.hydra.overrides.task]
        self.ended = False
        if self.grid is not None:  # at once, before Hydra composes each job's config
            log.info(
                f"sweep: {self.total} jobs into {self.sweep_dir}; watch them with: "
                f"tensorboard --logdir {shlex.quote(str(self.sweep_dir))}"
            )
        folder = OmegaConf.select(config, "hydra.launcher.submitit_folder")
        if folder:  # jobs in other processes: their console output is in files
            log.info(
                f"submitit: each job's output is in {folder} (<job id>_0_log.out and .err), "
                "its train.log in its own directory"
            )
        atexit.register(self._on_exit)
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._stop)

    def _stop(self, signum: int, frame: Any) -> None:
        """A signal outside training (training replaces this handler with GracefulStop):
        between jobs or while a job sets up, the sweep ends now; once a job has written its
        result (``metrics.json``), it ends as soon as that job returns, result kept."""
        name = signal.Signals(signum).name
        if self.job_dir is not None and (self.job_dir / "metrics.json").is_file():
            print(f"litexp: {name}: the sweep ends after this job", file=sys.stderr)
            self.pending = signum
            return
        print(f"litexp: sweep stopped on {name}", file=sys.stderr)
        raise SystemExit(128 + signum)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.ended = True  # the summary callback writes the full summary
        atexit.unregister(self._on_exit)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def _on_exit(self) -> None:
        """The sweep ended early (stop, crash): the summary so far, then how to resume."""
        if self.ended or self.sweep_dir is None or not self.sweep_dir.is_dir():
            return
        self.ended = True
        if not any(p.is_dir() and not p.name.startswith(".") for p in self.sweep_dir.iterdir()):
            # No job began: Hydra refused a job's config (its error is the line above) or
            # the stop came while it checked them. Nothing to summarise or resume: the
            # folder Hydra made goes too, unless it holds more than its multirun.yaml
            # (an Optuna study's database).
            if {p.name for p in self.sweep_dir.iterdir()} <= {"multirun.yaml"}:
                shutil.rmtree(self.sweep_dir, ignore_errors=True)
            return
        from litexp.sweep.summary import summarize

        not_started = list(enumerate(self.grid)) if self.grid is not None else None
        summarize(self.sweep_dir, self.objective, self.direction, not_started=not_started)
        if self.grid is not None:
            print(
                f"litexp: sweep stopped. Resume with:\n  {self.resume_command()}", file=sys.stderr
            )
        else:
            print("litexp: sweep stopped. Run the same command again to continue the study.",
                  file=sys.stderr)  # fmt: skip

    def resume_command(self) -> str:
        """The command that continues this sweep in its directory."""
        from litexp.resume import override
        from litexp.sweep.best import rerun_command

        kept = [o for o in self.task_overrides if not o.lstrip("+~").startswith("resume=")]
        words = shlex.split(rerun_command(kept))  # python train.py ... | litexp train ...
        return shlex.join([*words[:2], "-m", *words[2:], override("resume", self.sweep_dir)])

    # Each job (in the sweep process, or a parallel launcher's worker) ----------------
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not _in_sweep(config):  # a single run: no "job 1 of 1"
            return
        self.job_started = time.perf_counter()
        self.job_dir = Path(str(OmegaConf.select(config, "hydra.runtime.output_dir") or "."))
        num = int(OmegaConf.select(config, "hydra.job.num") or 0)
        total = self.total or saved_total(_sweep_dir(config)) or "?"  # a fresh worker
        overrides = " ".join(OmegaConf.select(config, "hydra.overrides.task") or [])
        log.info(f"sweep: job {num + 1} of {total}: {overrides}")

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if not _in_sweep(config):
            return
        took = time.perf_counter() - self.job_started
        self.durations.append(took)
        num = int(OmegaConf.select(config, "hydra.job.num") or 0)
        out = Path(str(OmegaConf.select(config, "hydra.runtime.output_dir") or "."))
        total = self.total or saved_total(_sweep_dir(config))
        completed = getattr(job_return, "status", None) == JobStatus.COMPLETED
        result = job_return.return_value if completed else None
        if not isinstance(result, dict):  # the task returned nothing: metrics.json says
            result = read_json(out / "metrics.json")
        status, value = "failed", None
        if isinstance(result, dict):
            status = str(result.get("status", "completed"))
            value = (result.get("metrics") or {}).get(self.objective)
        shown = f", {self.objective}={value:.4f}" if isinstance(value, float) else ""
        line = f"sweep: job {num + 1} of {total or '?'} {status} in {_duration(took)}{shown}"
        # One job at a time (in this process): the jobs left take about the mean time each.
        one_at_a_time = OmegaConf.select(config, "hydra.launcher.n_jobs") is None
        left = total - len(self.durations) if total and self.grid and one_at_a_time else None
        if left:
            mean = sum(self.durations) / len(self.durations)
            line += f"; ~{_duration(mean * left)} left ({left} job{'s' if left > 1 else ''})"
        log.info(f"{line} [{out.name}]")
        self.job_dir = None
        if self.pending is not None:  # a stop that came while this job was finishing
            raise SystemExit(128 + self.pending)
