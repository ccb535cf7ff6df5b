"""DDP on the CPU (2 gloo processes): a single run, a multirun, and two torchrun "nodes".

All with the shipped default callbacks (progress bar, model summary, test report, ...):
they run on every rank, and a hook that fails on rank 1 alone crashed the README's
``python train.py trainer=ddp_cpu``.

With 128 points (~90 for training) and batch_size=64, one process needs 2 steps per
epoch and each of 2 DDP ranks 1: a global step of 1 after one epoch shows the data was
split between two ranks that trained one model.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from subprocess import CompletedProcess

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from litexp.sweep.summary import job_dirs
from tests.conftest import ROOT, only_run_dir, read_metrics, run_cli

TINY = [
    "trainer.max_epochs=1",
    "data=circles",
    "data.n_samples=128",
    "data.batch_size=64",
]


def _global_step(run_dir: Path) -> int:
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    return ckpt["global_step"]


def _writer_pids(run_dir: Path) -> set[str]:
    # events.out.tfevents.<time>.<host>.<pid>.<n>
    return {p.name.split(".")[-2] for p in run_dir.rglob("events.out.tfevents.*")}


@pytest.mark.slow
def test_ddp_cpu_single_run_writes_once_into_one_directory(tmp_path: Path) -> None:
    proc = run_cli("train.py", "trainer=ddp_cpu", *TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]

    runs = [p.parent for p in (tmp_path / "logs").rglob("metrics.json")]
    assert len(runs) == 1, runs  # one directory, one metrics.json
    run = runs[0]
    assert len(list((tmp_path / "logs" / "train" / "runs").iterdir())) == 1
    assert read_metrics(run)["status"] == "completed"
    assert (run / "train_ddp_process_1.log").exists()  # rank 1 ran, in this directory
    assert _global_step(run) == 1  # two ranks shared the epoch
    assert len(_writer_pids(run)) == 1  # TensorBoard written by rank zero only
    assert proc.stdout.count("litexp: completed") == 1  # the summary printed once
    assert proc.stdout.count("Trainable params") == 1  # the model summary too


@pytest.mark.slow
def test_ddp_cpu_inside_a_multirun_runs_each_job_once(tmp_path: Path) -> None:
    proc = run_cli("train.py", "-m", "trainer=ddp_cpu", "seed=1,2", *TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # The ranks did not relaunch the sweep: one sweep, two jobs, nothing else.
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert not (tmp_path / "logs" / "train" / "runs").exists()
    assert proc.stdout.count("Launching 2 jobs") + proc.stderr.count("Launching 2 jobs") == 1
    jobs = job_dirs(sweep)
    assert [job.name for job in jobs] == ["0_seed=1", "1_seed=2"]
    for job, seed in zip(jobs, (1, 2), strict=True):
        assert read_metrics(job)["status"] == "completed"
        assert (job / "train_ddp_process_1.log").exists()
        assert _global_step(job) == 1
        config = (job / "config.yaml").read_text()
        assert f"\nseed: {seed}\n" in config
    assert proc.stdout.count("litexp: completed") == 2
    assert "summary.md" in proc.stdout


class DieAtExitOnRankOne(Callback):
    """Rank 1 finishes its job, then its process dies at exit, as gloo's teardown made it
    do once in CI (``terminate called without an active exception``)."""

    def on_test_end(self, trainer, pl_module) -> None:
        if trainer.global_rank == 1:
            atexit.register(os._exit, 134)


def _run_with_callback(
    tmp_path: Path, callback: type[Callback], *args: str, data: list[str] = TINY
) -> CompletedProcess:
    """``train.py <args> trainer=ddp_cpu`` with ``callback`` added, on ``data``."""
    target = f"+callbacks.extra._target_={__name__}.{callback.__name__}"
    return run_cli(
        "train.py",
        *args,  # -m first: Hydra takes its flags before the overrides
        "trainer=ddp_cpu",
        *data,
        "logger=none",
        target,
        cwd=tmp_path,
        timeout=150,
    )


@pytest.mark.slow
def test_a_rank_dying_after_its_job_does_not_kill_the_sweep(tmp_path: Path) -> None:
    # Lightning's child-process observer outlives the job whose ranks it watches: a rank
    # exiting non-zero after its job ended used to SIGKILL the sweep in its next job, and
    # the next job's orphaned rank kept the sweep's output open until the test timed out.
    proc = _run_with_callback(tmp_path, DieAtExitOnRankOne, "-m", "model.lr=0.05,0.1")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert len(job_dirs(sweep)) == 2
    for job in job_dirs(sweep):
        assert read_metrics(job)["status"] == "completed"
    assert proc.stdout.count("litexp: completed") == 2
    # ... and the user is told, once per job.
    assert proc.stderr.count("DDP rank 1 exited with status 134 after the job ended") == 2


class FailOnRankZero(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_rank == 0:
            raise RuntimeError("rank zero broke")


@pytest.mark.slow
def test_a_failure_on_rank_zero_ends_the_run_with_its_error(tmp_path: Path) -> None:
    # Rank 1 waits in the first all-reduce for a rank zero that has failed: the run still
    # ends at once (the test's timeout would catch a rank left waiting, holding the output
    # open), with rank zero's error and a failed metrics.json.
    proc = _run_with_callback(tmp_path, FailOnRankZero)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "RuntimeError: rank zero broke" in proc.stderr
    run = only_run_dir(tmp_path / "logs")
    assert read_metrics(run)["status"] == "failed"


class FailOnRankOne(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_rank == 1:
            raise RuntimeError("rank one broke")


@pytest.mark.slow
def test_a_failure_on_rank_one_in_a_sweep_is_shown_and_the_sweep_goes_on(tmp_path: Path) -> None:
    # A sweep's rank 1 exits 0 (non-zero would kill the sweep) and rank zero records only
    # its own "Connection closed by peer": rank 1's traceback must reach the user.
    proc = _run_with_callback(tmp_path, FailOnRankOne, "-m", "seed=1,2")
    output = proc.stdout[-2000:] + proc.stderr[-3000:]
    assert proc.returncode == 1, output
    assert proc.stderr.count("litexp: DDP rank 1 failed") == 2, output  # once per job
    assert proc.stderr.count("RuntimeError: rank one broke") == 2, output
    assert "2 of 2 jobs failed" in proc.stderr  # the summary's line: the sweep went on
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert len(job_dirs(sweep)) == 2
    for job in job_dirs(sweep):
        assert read_metrics(job)["status"] == "failed"


class SignalRankZero(Callback):
    """``kill -TERM <rank zero>`` as training starts its fourth step."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_rank == 0 and trainer.global_step == 3:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.slow
def test_sigterm_to_rank_zero_stops_every_rank_after_one_batch_and_resumes(
    tmp_path: Path,
) -> None:
    # Lightning's own handler broadcast from inside the signal handler while rank 1
    # waited in the gradient all-reduce: both ranks hung until the test's timeout.
    # 1000 points: 700 for training, 350 per rank, 11 batches of 32 per epoch.
    data = [
        "data=circles",
        "data.n_samples=1000",
        "data.batch_size=32",
        "trainer.max_epochs=2",
    ]
    proc = _run_with_callback(tmp_path, SignalRankZero, data=data)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-2000:]
    assert proc.stderr.count("Resume with:") == 1  # said once, by rank zero
    run = only_run_dir(tmp_path / "logs")
    assert read_metrics(run)["status"] == "interrupted"
    assert _global_step(run) == 4  # both ranks finished the running batch, then stopped

    resume = proc.stderr.split("Resume with:")[1].split()
    assert resume[:2] == ["python", "train.py"]
    resumed = run_cli("train.py", *resume[2:], cwd=tmp_path, timeout=150)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert read_metrics(run)["status"] == "completed"
    assert _global_step(run) == 22


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_torchrun_nodes_on_localhost_train_one_model(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun, "torchrun comes with torch"
    run_dir = tmp_path / "run"
    port = _free_port()
    env = {**os.environ, "LITEXP_LOG_DIR": str(tmp_path / "logs"), "LITEXP_DATA_DIR": str(tmp_path)}
    nodes = [
        subprocess.Popen(
            [
                torchrun,
                "--nnodes=2",
                "--nproc-per-node=1",
                f"--node-rank={rank}",
                "--master-addr=127.0.0.1",
                f"--master-port={port}",
                str(ROOT / "train.py"),
                "trainer=ddp_cpu",
                "trainer.devices=1",
                "trainer.num_nodes=2",
                f"hydra.run.dir={run_dir}",  # every node writes into the one run directory
                *TINY,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    try:
        outputs = [n.communicate(timeout=180)[0] for n in nodes]
    except subprocess.TimeoutExpired:  # one node failed: the other waits at the exit barrier
        for n in nodes:
            n.kill()
        outputs = [n.communicate()[0] for n in nodes]
        pytest.fail("a torchrun node hung:\n" + outputs[0][-2000:] + outputs[1][-2000:])
    assert [n.returncode for n in nodes] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]

    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in outputs[1]
    assert list(tmp_path.rglob("metrics.json")) == [run_dir / "metrics.json"]
    assert read_metrics(run_dir)["status"] == "completed"
    assert _global_step(run_dir) == 1  # one model, each node trained on half the data
    assert "litexp: completed" in outputs[0] and "litexp: completed" not in outputs[1]
