"""DDP inside Hydra: the extra ranks re-run this one job, never the whole sweep.

Lightning's subprocess launcher (``strategy=ddp``) starts ranks 1..N-1 as
``python <sys.argv> hydra.run.dir=<hydra.run.dir> hydra.output_subdir=null``
(``lightning/fabric/strategies/launchers/subprocess_script.py``). In a single run
that is right. In a ``-m`` multirun it is not (Lightning issue 11300, Hydra issue
2070): ``sys.argv`` is the whole sweep, and ``hydra.run.dir`` is not the job's
directory. ``ddp_job_scope`` fixes both for the duration of one job.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import read_write

from litexp.packaging import script_argv
from litexp.sweep.jobs import in_multirun

if TYPE_CHECKING:
    import lightning as L

# Set by Lightning's launcher for the ranks it starts; left behind, they make the next
# job believe its ranks were started externally, and it waits for them forever.
LAUNCHER_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")
# Lightning also lowers OMP_NUM_THREADS and torch's threads to cores / processes.
THREAD_ENV = ("OMP_NUM_THREADS",)
# Tells a rank started for a sweep job that it is one: see ``is_sweep_rank``.
SWEEP_RANK_ENV = "LITEXP_SWEEP_DDP_RANK"
# How long rank zero waits for the ranks it started to exit after a job: after a
# completed one they are past the final barrier and need well under a second; after a
# failed one they may be stuck in a collective that will never complete.
EXIT_WAIT_COMPLETED_S = 60.0
EXIT_WAIT_FAILED_S = 10.0


def is_global_zero_process() -> bool:
    """Whether this process is global rank 0, from the launcher's environment.

    For files written before the Trainer exists (``config.yaml``, ``run.json``) or after
    it failed. torchrun sets ``RANK``; SLURM ``SLURM_PROCID``; Lightning's own launcher
    ``NODE_RANK`` and ``LOCAL_RANK``. A process started by none of them is rank 0.
    """
    for key in ("RANK", "SLURM_PROCID"):
        if os.environ.get(key, "").isdigit():
            return int(os.environ[key]) == 0
    return all(int(os.environ.get(key) or 0) == 0 for key in ("NODE_RANK", "LOCAL_RANK"))


def is_sweep_rank() -> bool:
    """True in a DDP rank > 0 that Lightning started for one job of a multirun.

    Its failure must not exit non-zero: Lightning would then kill the main process,
    which is the whole sweep. Rank zero records the job's failure instead.
    """
    return os.environ.get(SWEEP_RANK_ENV) == "1"


def report_sweep_rank_failure(err: BaseException) -> None:
    """On a sweep rank whose job failed: its traceback on stderr, since it exits 0.

    Rank zero then fails too, mostly with gloo's "Connection closed by peer", and records
    that; the cause, this rank's error, would otherwise be shown nowhere.
    """
    rank = os.environ.get("LOCAL_RANK", "?")  # set by Lightning's launcher for its ranks
    print(
        f"litexp: DDP rank {rank} failed (rank zero records the job as failed):",
        file=sys.stderr,
    )
    traceback.print_exception(err, file=sys.stderr)
    sys.stderr.flush()


@contextmanager
def ddp_job_scope() -> Iterator[None]:
    """Around one multirun job: DDP ranks re-run this job alone, into its own directory.

    Outside a multirun it does nothing. Inside: ``sys.argv`` becomes the job's own
    overrides and ``hydra.run.dir`` the job's output directory while the job runs; after
    it, the launcher's environment, torch's thread count and the process group are reset.
    """
    if not in_multirun():
        yield
        return
    hydra_cfg = HydraConfig.get()
    argv = sys.argv
    env = {k: os.environ.get(k) for k in (*LAUNCHER_ENV, *THREAD_ENV, SWEEP_RANK_ENV)}
    threads = torch.get_num_threads()
    sys.argv = [*script_argv(argv), *hydra_cfg.overrides.task]  # keeps ``litexp train``
    with read_write(hydra_cfg.run):
        hydra_cfg.run.dir = hydra_cfg.runtime.output_dir
    os.environ[SWEEP_RANK_ENV] = "1"
    try:
        yield
    finally:
        sys.argv = argv
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        torch.set_num_threads(threads)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def end_ddp_job(trainer: L.Trainer, *, completed: bool) -> None:
    """After a DDP job, on every rank: leave the process group; rank zero reaps its ranks.

    Lightning's launcher leaves ranks 1..N-1 running when ``fit``/``test`` return, and its
    child-process observer thread watches them for the rest of the process: one that
    exits non-zero later, after the job's work is done, SIGKILLs rank zero. In a
    ``-m`` sweep that is the whole sweep, killed during some later job whose own rank
    then waits for a dead rank zero, holding the sweep's output open. So, after a
    completed job: every rank meets at a barrier and destroys its process group (no
    socket is closed while a peer still reads it); rank zero takes its ranks off the
    observer's list and waits for them to exit. After a failed or interrupted job
    there is no barrier (a peer may never reach it): rank zero waits briefly, then kills
    the ranks it started, which would otherwise wait for it until gloo's 30-minute
    timeout. Does nothing outside DDP.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    launcher = getattr(trainer.strategy, "launcher", None)
    children: list[subprocess.Popen] = list(getattr(launcher, "procs", None) or [])
    try:
        if completed:
            trainer.strategy.barrier("litexp.end_ddp_job")
    finally:
        if children:
            launcher.procs.clear()  # the observer's own list: it now has nothing to watch
        torch.distributed.destroy_process_group()
        for rank, proc in enumerate(children, start=1):
            try:
                proc.wait(timeout=EXIT_WAIT_COMPLETED_S if completed else EXIT_WAIT_FAILED_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                continue
            if proc.returncode and completed:
                print(
                    f"litexp: warning: DDP rank {rank} exited with status {proc.returncode} "
                    "after the job ended; the job's results (written by rank 0) are complete",
                    file=sys.stderr,
                )
