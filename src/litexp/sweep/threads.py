"""Each parallel job gets its share of the cores: no thread oversubscription.

joblib's loky workers already start with ``OMP_NUM_THREADS = cores // n_jobs`` (so torch,
imported after that in the worker, starts with that many threads); the threading and
multiprocessing backends do not. ``JobThreads`` sets torch's thread count explicitly, for
every backend, and logs it in the job's log; so does litexp's ``submitit_local``
(``n_jobs`` processes at once, ``hydra_plugins.litexp_submitit_local``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from litexp.errors import ConfigError

log = logging.getLogger(__name__)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a SLURM or cgroup share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_job(n_jobs: int, cores: int) -> int:
    """``cores // n_jobs``, at least 1; ``n_jobs=-1`` (joblib: one job per core) gives 1."""
    if n_jobs == 0 or n_jobs < -1:
        raise ConfigError(
            f"hydra.launcher.n_jobs={n_jobs} is invalid: must be >= 1 or -1 (one job per core)"
        )
    jobs = cores if n_jobs == -1 else min(n_jobs, cores)
    return max(1, cores // jobs)


class JobThreads(Callback):
    """Hydra callback: with a launcher that has ``n_jobs``, torch threads = cores // n_jobs."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        n_jobs = OmegaConf.select(config, "hydra.launcher.n_jobs")
        target = str(OmegaConf.select(config, "hydra.launcher._target_") or "")
        if n_jobs is None and target.endswith("LocalLauncher"):  # submitit on this machine:
            n_jobs = OmegaConf.select(config, "hydra.sweeper.max_batch_size")  # jobs at once
        if n_jobs is None:  # the basic launcher (one job at a time) or a cluster launcher
            return
        import torch

        cores = available_cores()
        threads = threads_per_job(int(n_jobs), cores)
        torch.set_num_threads(threads)
        log.info(
            f"torch threads per job: {torch.get_num_threads()} ({cores} cores, n_jobs={n_jobs})"
        )
