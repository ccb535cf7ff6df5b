"""A real TensorBoard server over a finished run serves its scalars and hparams."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from litexp.train import train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, body: dict | None = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@contextlib.contextmanager
def serve(logdir: Path) -> Iterator[str]:
    """A real TensorBoard server over ``logdir``; yields its base URL once it lists a run."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(logdir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--load_fast",
            "false",
            "--reload_interval",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # until the server answers and has read the run
            try:
                if _get(f"{base}/data/runs"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "TensorBoard did not serve the run within 60 s"
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def experiment(base: str) -> dict:
    """The HPARAMS tab's experiment: its columns (hparamInfos) and metrics, in order."""
    return _get(f"{base}/data/plugin/hparams/experiment", {"experimentName": ""})


def session_groups(base: str) -> list[dict]:
    """The HPARAMS tab's rows, one per run."""
    return _get(
        f"{base}/data/plugin/hparams/session_groups",
        {
            "experimentName": "",
            "allowedStatuses": [
                "STATUS_UNKNOWN",
                "STATUS_SUCCESS",
                "STATUS_FAILURE",
                "STATUS_RUNNING",
            ],
            "colParams": [],
            "startIndex": 0,
            "sliceSize": 100,
        },
    )["sessionGroups"]


@pytest.fixture
def tensorboard(make_cfg, tmp_path: Path):
    summary = train(make_cfg("trainer.max_epochs=3", "data=blobs", "data.num_classes=3"))
    with serve(tmp_path) as base:
        yield base, summary


@pytest.mark.slow
def test_tensorboard_serves_scalars_and_hparams(tensorboard) -> None:
    base, summary = tensorboard
    runs = _get(f"{base}/data/runs")
    assert len(runs) == 1, runs
    run = runs[0]
    tags = _get(f"{base}/data/plugin/scalars/tags")[run]
    for tag in ("train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc"):
        assert tag in tags, sorted(tags)
    assert "lr" in tags, "the learning rate is logged, under one tag whatever the optimiser"
    assert "epoch" not in tags, "no epoch card opens first"
    assert "hp_metric" not in tags

    val_acc = _get(f"{base}/data/plugin/scalars/scalars?run={run}&tag=val/acc")
    assert len(val_acc) == 3  # one point per epoch, no duplicates
    assert len({point[1] for point in val_acc}) == 3  # distinct steps
    test_acc = _get(f"{base}/data/plugin/scalars/scalars?run={run}&tag=test/acc")
    assert test_acc[-1][2] == pytest.approx(summary["metrics"]["test/acc"])

    found = experiment(base)
    hparams = [h["name"] for h in found["hparamInfos"]]
    # train(cfg) has no command-line overrides: the fixed set only, readable values.
    assert set(hparams) == {"model", "data", "lr", "batch_size", "epochs", "seed", "status"}
    metrics = [m["name"]["tag"] for m in found["metricInfos"]]
    assert metrics[:2] == ["val/acc", "test/acc"], "the objective first, then test/acc"
    assert {"train/loss", "val/loss", "test/loss"} <= set(metrics)

    session = session_groups(base)[0]
    values = {m["name"]["tag"]: m["value"] for m in session["metricValues"]}
    assert values["test/acc"] == pytest.approx(summary["metrics"]["test/acc"])
    assert session["hparams"]["epochs"] == 3
    assert session["hparams"]["status"] == "completed"
