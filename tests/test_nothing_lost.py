"""Nothing lost: last.ckpt every epoch, one process per run, damaged bytes caught, a full
disk reported, a silent network given up on. All through train.py / eval.py / predict.py
with the shipped default callbacks."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from litexp.checkpoint import load_checkpoint
from tests.conftest import SHARED_DATA, needs_shared_data, read_metrics, run_cli, start_train

BLOBS = ["data=blobs", "trainer=cpu", "seed=3"]


def wait_for_last(proc: subprocess.Popen, log_root: Path, epoch: int) -> Path:
    """The run directory, once its last.ckpt holds ``epoch`` or a later one."""
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, f"run ended early: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"no last.ckpt of epoch >= {epoch} after 180 s"
        for last in (log_root / "logs").glob("train/runs/*/checkpoints/last.ckpt"):
            with contextlib.suppress(Exception):  # replaced while we read it
                if load_checkpoint(last)["epoch"] >= epoch:
                    return last.parents[1]
        time.sleep(0.1)


def kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("litexp: error:")]


@pytest.mark.slow
def test_sigkill_loses_at_most_one_epoch_and_stale_checkpoints_go(tmp_path):
    victim = start_train(*BLOBS, "trainer.max_epochs=400", log_root=tmp_path)
    try:
        run_dir = wait_for_last(victim, tmp_path, epoch=5)  # only if written every epoch
    finally:
        kill(victim)
    folder = run_dir / "checkpoints"
    saved = load_checkpoint(folder / "last.ckpt")["epoch"]
    assert saved >= 5
    best = [p for p in folder.glob("epoch*.ckpt")]
    assert len(best) == 1
    # A kill between writing a new best file and deleting the old one leaves this:
    stale = folder / "epoch399-val_acc0.5000.ckpt"
    shutil.copy(best[0], stale)

    resumed = run_cli(
        "train.py", *BLOBS, f"trainer.max_epochs={saved + 3}", f"resume={run_dir}", cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"continuing from {folder / 'last.ckpt'}" in resumed.stderr
    assert f"removed stale checkpoints a kill left: {stale.name}" in resumed.stderr
    assert not stale.exists() and best[0].exists()  # the tracked best is kept
    assert read_metrics(run_dir)["status"] == "completed"
    # The resumed run trained epochs saved+1 .. saved+2, then wrote last.ckpt of the last.
    assert load_checkpoint(folder / "last.ckpt")["epoch"] == saved + 2
    assert sorted(p.name for p in folder.glob("*.ckpt")) == sorted(["last.ckpt", best[0].name])


@pytest.mark.slow
def test_a_second_process_on_a_running_run_is_refused(tmp_path):
    first = start_train(*BLOBS, "trainer.max_epochs=5000", log_root=tmp_path)
    try:
        run_dir = wait_for_last(first, tmp_path, epoch=0)
        for target in ("latest", str(run_dir)):
            second = run_cli("train.py", *BLOBS, f"resume={target}", cwd=tmp_path)
            assert second.returncode == 2, second.stderr
            [line] = error_lines(second.stderr)
            assert f"pid {first.pid} on host {socket.gethostname()}" in line
            assert "one process per run" in line
        assert first.poll() is None, "the first run was disturbed"
        assert not (run_dir / "metrics.json").exists()
    finally:
        kill(first)
    # The lock died with its process: resuming now works.
    epoch = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["epoch"]
    again = run_cli(
        "train.py", *BLOBS, f"trainer.max_epochs={epoch + 2}", "resume=latest", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert read_metrics(run_dir)["status"] == "completed"


def flip_middle_byte(path: Path) -> None:
    """One byte inside a tensor's data, the file's size unchanged (bit rot, a bad copy)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.slow
@needs_shared_data("pretrained")
def test_a_flipped_byte_is_caught_and_resume_falls_back(tmp_path):
    small = [*BLOBS, "model.hidden_sizes=[256,256]", "trainer.max_epochs=2"]
    first = run_cli("train.py", *small, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    [run_dir] = (tmp_path / "logs" / "train" / "runs").iterdir()
    last = run_dir / "checkpoints" / "last.ckpt"
    size = last.stat().st_size
    flip_middle_byte(last)
    assert last.stat().st_size == size and torch.load(last, weights_only=True)  # torch: fine

    image = next((SHARED_DATA / "pretrained" / "examples").iterdir())
    for script, args in (("eval.py", []), ("predict.py", [f"input={image}"])):
        got = run_cli(script, f"ckpt_path={last}", *args, cwd=tmp_path)
        assert got.returncode == 2, got.stderr
        [line] = error_lines(got.stderr)
        assert f"checkpoint {last} is corrupt" in line and "CRC" in line

    resumed = run_cli(
        "train.py", *small[:-1], "trainer.max_epochs=3", f"resume={run_dir}", cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"checkpoint {last} is corrupt" in resumed.stderr
    assert "resuming from epoch0" in resumed.stderr  # the best checkpoint, intact
    assert read_metrics(run_dir)["status"] == "completed"
    assert load_checkpoint(last)["epoch"] == 2  # rewritten whole


@contextlib.contextmanager
def small_disk(path: Path, size_mib: int) -> Iterator[Path]:
    """A real file system of ``size_mib`` MiB (tmpfs) at ``path``; skips without root."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}M", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tmpfs: Linux only")
def test_a_disk_that_fills_during_training_is_one_line_and_keeps_the_checkpoints(tmp_path):
    # 260 MiB: the run starts (it needs 200 MiB free), then the disk fills.
    with small_disk(tmp_path / "disk", 260) as disk:
        proc = start_train(
            *BLOBS, "trainer.max_epochs=400", "model.hidden_sizes=[700,700]", log_root=disk
        )
        try:
            run_dir = wait_for_last(proc, disk, epoch=1)
            left = shutil.disk_usage(disk).free - 2**20  # 1 MiB stays: a 6 MB save fails
            with open(disk / "filler", "wb") as f:
                while left > 0:
                    f.write(b"\0" * min(left, 2**24))
                    left -= 2**24
            _, stderr = proc.communicate(timeout=120)
        finally:
            kill(proc)
        assert proc.returncode == 1, stderr
        [line] = error_lines(stderr)
        assert line == stderr.strip()  # that line only, no traceback
        assert "cannot write checkpoint" in line and str(run_dir / "checkpoints") in line
        assert "MiB free" in line
        summary = json.loads((run_dir / "metrics.json").read_text())
        assert summary["status"] == "failed" and "cannot write checkpoint" in summary["error"]
        folder = run_dir / "checkpoints"
        assert not list(folder.glob("*.tmp"))  # the partial file is gone
        assert len(list(folder.glob("*.ckpt"))) == 2  # the best and last.ckpt, both intact
        assert all(load_checkpoint(p) for p in folder.glob("*.ckpt"))
        assert load_checkpoint(folder / "last.ckpt")["epoch"] >= 1


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        done.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def tiny_image_folder(root: Path) -> Path:
    from PIL import Image

    for i, name in enumerate(["ants", "bees"] * 2):
        (root / name).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 40), (60 * i, 80, 120)).save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("what", ["timm-weights", "mnist"])
def test_a_network_that_never_answers_is_given_up_on(tmp_path, monkeypatch, what):
    monkeypatch.setenv("LITEXP_DOWNLOAD_TIMEOUT", "5")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # nothing cached
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with silent_server() as port:
        if what == "timm-weights":
            monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")  # a hub mirror
            args = ["model=timm", "model.name=resnet18", "data=folder",
                    f"data.data_dir={tiny_image_folder(tmp_path / 'images')}"]  # fmt: skip
            fix = "model.weights="
        else:  # torchvision's MNIST mirrors, through a proxy that never answers
            monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{port}")
            monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{port}")
            args = ["model=cnn", "data=mnist", f"data.data_dir={tmp_path / 'mnist'}"]
            fix = "data.data_dir="
        start = time.monotonic()
        got = run_cli("train.py", *args, "trainer=cpu", cwd=tmp_path, timeout=240)
        elapsed = time.monotonic() - start
    assert got.returncode == 2, got.stderr
    [line] = error_lines(got.stderr)
    assert "no data arrived for 5 s" in line and fix in line
    assert elapsed < 60 + 5  # startup plus the 5 s wait, far from the libraries' 10+ min
