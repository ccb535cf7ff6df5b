"""The Optuna sweeper's work: ask trials, launch them as Hydra jobs, tell the results.

Persistent and resumable: the study lives in ``storage`` (an SQLite file in the sweep
directory by default). A rerun of the same command loads it, keeps its trials and runs
only the missing ones; several processes on one storage share the study. Trials left
``RUNNING`` by a killed process on this machine are marked failed and their parameters
queued again. A failed or NaN trial is told ``FAIL``; the study goes on.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from hydra_plugins.litexp_optuna_sweeper._search_space import parse_search_space
from litexp.run_files import METRICS_FILE
from litexp.sweep.optuna_storage import median_pruner, open_storage, storage_url
from litexp.sweep.plots import optuna_plots, to_tensorboard
from litexp.sweep.pruning import PRUNED_ATTR
from litexp.sweep.summary import TRIAL_FILE

log = logging.getLogger(__name__)
WORKER_ATTR = "litexp_worker"  # "host:pid" of the process that asked the trial
INTERRUPTED_ATTR = "litexp_interrupted"  # its process died: not counted, parameters re-queued
RETRY_ATTR = "litexp_retry_of"  # a queued trial re-running an interrupted one's parameters
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OptunaSweeperImpl:
    def __init__(self, cfg: DictConfig) -> None:
        if cfg.direction not in ("maximize", "minimize"):
            raise ValueError(
                f"hydra.sweeper.direction={cfg.direction} is invalid: must be maximize or minimize"
            )
        if cfg.n_trials < 1 or cfg.n_jobs < 1:
            raise ValueError("hydra.sweeper.n_trials and n_jobs are invalid: both must be >= 1")
        self.cfg = cfg
        self.config: DictConfig | None = None
        self.launcher: Launcher | None = None
        self.storage: optuna.storages.BaseStorage | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def _study(self, url: str) -> tuple[optuna.Study, optuna.storages.BaseStorage]:
        cfg = self.cfg
        storage = open_storage(url)
        pruner = median_pruner(**OmegaConf.to_container(cfg.pruner))
        study = optuna.create_study(
            study_name=cfg.study_name,
            storage=storage,
            direction=cfg.direction,
            pruner=pruner,
            load_if_exists=True,
        )
        if study.direction.name.lower() != cfg.direction:
            raise ValueError(
                f"hydra.sweeper.direction={cfg.direction} is invalid: study {cfg.study_name} in "
                f"{url} was created to {study.direction.name.lower()}; use that, or a new study_name"
            )
        study.sampler = self._sampler(None)
        return study, storage

    def _sampler(self, number: int | None) -> optuna.samplers.BaseSampler:
        """TPE seeded with ``seed + trial number``: the storage numbers trials uniquely, so
        a resumed study, or two workers started at the same instant, never replay the same
        draws, and trial N of a study draws the same parameters every time."""
        seed = self.cfg.sampler.seed
        if seed is not None and number is not None:
            seed += number
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=self.cfg.sampler.n_startup_trials
        )

    def _ask(
        self, study: optuna.Study, distributions: dict[str, BaseDistribution]
    ) -> optuna.trial.Trial:
        """A new trial (or a queued retry), its parameters drawn by ``_sampler(number)``."""
        trial = study.ask()
        study.sampler = self._sampler(trial.number)
        for name, dist in distributions.items():
            if isinstance(dist, FloatDistribution):
                trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
            elif isinstance(dist, IntDistribution):
                trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
            else:
                trial.suggest_categorical(name, dist.choices)
        return trial

    def _recover_interrupted(
        self, study: optuna.Study, storage: optuna.storages.BaseStorage
    ) -> None:
        """RUNNING trials whose process (on this machine) is gone: FAIL them, queue them again."""
        host = socket.gethostname()
        study_id = storage.get_study_id_from_name(study.study_name)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            worker_host, _, pid = str(trial.user_attrs.get(WORKER_ATTR, "")).rpartition(":")
            if worker_host != host or not pid.isdigit() or _alive(int(pid)):
                continue
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            try:  # another worker may be recovering the same trial right now
                storage.set_trial_user_attr(trial_id, INTERRUPTED_ATTR, True)
                storage.set_trial_state_values(trial_id, TrialState.FAIL)
            except UpdateFinishedTrialError:
                continue
            study.enqueue_trial(trial.params, user_attrs={RETRY_ATTR: trial.number})
            log.warning(
                f"trial {trial.number} was interrupted (process {pid} is gone): queued again"
            )

    @staticmethod
    def _counts(study: optuna.Study) -> tuple[int, int]:
        """(finished trials that count, trials running now)."""
        trials = study.get_trials(deepcopy=False)
        done = sum(t.state in FINISHED and not t.user_attrs.get(INTERRUPTED_ATTR) for t in trials)
        return done, sum(t.state == TrialState.RUNNING for t in trials)

    def sweep(self, arguments: list[str]) -> list[JobReturn]:
        assert self.config is not None and self.launcher is not None
        cfg = self.cfg
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        url = storage_url(cfg.storage, sweep_dir)  # first: it refuses a password, unwritten
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        fixed, space = parse_search_space(
            OmegaConf.to_container(cfg.params, resolve=True), arguments
        )
        if not space:
            raise ValueError(
                "hydra.sweeper.params is empty: give the search space, e.g. model.lr: interval(1e-4, 1e-1)"
            )
        study, self.storage = self._study(url)
        self._recover_interrupted(study, self.storage)
        distributions = {k: p.distribution for k, p in space.items()}
        interrupted = sum(bool(t.user_attrs.get(INTERRUPTED_ATTR)) for t in study.trials)
        retried = f" ({interrupted} interrupted and retried, not counted)" if interrupted else ""
        log.info(
            f"study {cfg.study_name} in {url}: {len(study.trials)} trials so far{retried}, "
            f"target {cfg.n_trials} finished"
        )
        returns: list[JobReturn] = []
        while True:
            done, running = self._counts(study)
            batch_size = min(cfg.n_jobs, cfg.n_trials - done - running)
            if batch_size <= 0:
                break
            trials = [self._ask(study, distributions) for _ in range(batch_size)]
            for trial in trials:
                trial.set_user_attr(WORKER_ATTR, _worker())
            overrides = [
                [
                    *fixed,
                    *(space[k].override(v) for k, v in trial.params.items()),
                    f"hydra.sweeper.trial={trial.number}",
                    f"hydra.sweeper.storage='{url}'",
                ]
                for trial in trials
            ]
            results = self.launcher.launch(overrides, initial_job_idx=trials[0].number)
            for trial, result in zip(trials, results, strict=True):
                self._tell(study, trial, result)
            returns.extend(results)
        self._log_best(study)
        if plots := optuna_plots(study, sweep_dir, cfg.objective):
            log.info(f"plots: {', '.join(str(p) for p in plots)}")
            to_tensorboard(plots, sweep_dir)
        return returns

    def _tell(self, study: optuna.Study, trial: optuna.trial.Trial, result: JobReturn) -> None:
        value, error = self._objective(result)
        # Read from the storage itself: the job (maybe another process) wrote the attribute.
        trial_id = self.storage.get_trial_id_from_study_id_trial_number(
            self.storage.get_study_id_from_name(study.study_name), trial.number
        )
        pruned = self.storage.get_trial(trial_id).user_attrs.get(PRUNED_ATTR)
        if error:
            study.tell(trial, state=TrialState.FAIL)
            state = "failed"
            log.warning(f"trial {trial.number} failed: {error}")
        elif pruned is not None:
            study.tell(trial, state=TrialState.PRUNED)
            state = "pruned"
        else:
            study.tell(trial, value)
            state = "complete"
        log.info(
            f"trial {trial.number} {state}: {self.cfg.objective}={value} params={trial.params}"
        )
        if result.hydra_cfg is not None:
            job_dir = Path(str(result.hydra_cfg.hydra.runtime.output_dir))
            record = {
                "study": study.study_name,
                "number": trial.number,
                "state": state,
                "value": value,
                "params": trial.params,
                "error": error,
                "retry_of": trial.user_attrs.get(RETRY_ATTR),
            }
            (job_dir / TRIAL_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n")

    def _objective(self, result: JobReturn) -> tuple[float | None, str]:
        """The job's objective value, or why there is none (the trial then fails)."""
        if result.status != JobStatus.COMPLETED:
            err = result._return_value
            return (
                None,
                f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}",
            )
        summary: Any = result.return_value
        if not isinstance(summary, dict) and result.hydra_cfg is not None:
            # The task function may return nothing: metrics.json is the job's record.
            path = Path(str(result.hydra_cfg.hydra.runtime.output_dir)) / METRICS_FILE
            summary = json.loads(path.read_text()) if path.exists() else None
        if not isinstance(summary, dict):
            return None, "the job wrote no metrics.json"
        if summary.get("status") == "failed":
            return None, str(summary.get("error") or "the job failed")
        metrics = summary.get("metrics") or {}
        if self.cfg.objective not in metrics:
            return None, (
                f"objective {self.cfg.objective} is not among the job's metrics "
                f"({', '.join(sorted(metrics))}); set objective.metric to one of them"
            )
        value = metrics[self.cfg.objective]
        if value is None or not math.isfinite(float(value)):
            return None, f"{self.cfg.objective} is NaN"
        return float(value), ""

    def _log_best(self, study: optuna.Study) -> None:
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if complete:
            best = study.best_trial
            log.info(
                f"best trial {best.number}: {self.cfg.objective}={best.value} params={best.params}"
            )
