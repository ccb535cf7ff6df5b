"""The launcher: hydra-submitit-launcher's ``LocalLauncher``, ``n_jobs`` jobs at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher


class LitexpLocalLauncher(LocalLauncher):
    """Each job a submitit process on this machine, at most ``n_jobs`` at once: the
    jobs are handed to the plugin's launcher in groups of ``n_jobs``, each group
    started when the one before has ended."""

    def __init__(self, n_jobs: int = 2, **params: Any) -> None:
        from litexp.sweep.threads import available_cores, threads_per_job

        threads_per_job(n_jobs, available_cores())  # a clear error for 0 or -2 now
        self.n_jobs = available_cores() if n_jobs == -1 else n_jobs
        super().__init__(**params)

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        returns: list[JobReturn] = []
        for start in range(0, len(job_overrides), self.n_jobs):
            group = job_overrides[start : start + self.n_jobs]
            returns.extend(super().launch(group, initial_job_idx + start))
        return returns
