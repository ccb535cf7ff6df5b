"""logger=mlflow against a real ``mlflow server``: the run's metrics, parameters, tags and
best checkpoint, read back over MLflow's REST API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import read_metrics, run_cli
from tests.test_tensorboard import _free_port

pytest.importorskip("mlflow")


def _api(base: str, endpoint: str, body: dict | None = None, **query: str) -> dict:
    url = f"{base}/api/2.0/mlflow/{endpoint}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.loads(resp.read())


@pytest.fixture
def mlflow_server(tmp_path: Path):
    port = _free_port()
    store = tmp_path / "server"
    store.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
            "--artifacts-destination", str(store / "artifacts"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_TRACKING_URI": ""},
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=5).read()
                break
            except OSError:
                assert proc.poll() is None, "mlflow server exited"
                assert time.monotonic() < deadline, "mlflow server did not answer in 120 s"
                time.sleep(1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_mlflow_server_gets_metrics_params_tags_and_the_best_checkpoint(
    mlflow_server: str, tmp_path: Path
) -> None:
    base = mlflow_server
    proc = run_cli(
        "train.py",
        "logger=mlflow",
        f"logger.mlflow.tracking_uri={base}",
        "data=blobs",
        "model.lr=0.02",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = next((tmp_path / "logs").rglob("metrics.json")).parent
    written = read_metrics(run_dir)

    experiment = _api(base, "experiments/get-by-name", experiment_name="train")["experiment"]
    runs = _api(base, "runs/search", {"experiment_ids": [experiment["experiment_id"]]})["runs"]
    assert len(runs) == 1
    run = runs[0]
    assert run["info"]["run_name"] == "train/data=blobs,lr=0.02,limit_train_batches=2,max_epochs=1"
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params["lr"] == "0.02" and params["data"] == "blobs" and params["epochs"] == "1"
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert metrics["test/acc"] == pytest.approx(written["metrics"]["test/acc"])
    assert metrics["val/acc"] == pytest.approx(written["metrics"]["val/acc"])
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["litexp.status"] == "completed"
    assert tags["litexp.run_dir"] == str(run_dir)

    run_id = run["info"]["run_id"]
    files = _api(base, "artifacts/list", run_id=run_id, path="checkpoints").get("files", [])
    best = Path(written["best_checkpoint"]).name
    assert [f["path"] for f in files] == [f"checkpoints/{best}"]
    # The server kept it: the local logs hold no MLflow store.
    assert not (tmp_path / "logs" / "mlruns").exists()


@pytest.mark.slow
def test_a_resumed_run_continues_its_mlflow_run(make_cfg, tmp_path: Path) -> None:
    """SIGTERM mid-epoch, then ``resume=``: one MLflow run (the local store, as shipped)
    with every epoch's point, finished, not a second run holding the last epochs."""
    import mlflow

    from litexp.errors import Interrupted
    from litexp.train import train

    logs = tmp_path / "logs"
    run = ["logger=mlflow", f"paths.log_dir={logs}", "trainer.max_epochs=3", "data=circles"]
    sender = [
        "+callbacks.signal._target_=tests.test_resume.SendSignal",
        f"+callbacks.signal.signum={int(signal.SIGTERM)}",
        "+callbacks.signal.at_step=15",  # the middle of epoch 1 (11 batches an epoch)
    ]
    with pytest.raises(Interrupted):
        train(make_cfg(*run, *sender))
    summary = train(make_cfg(*run, f"resume={tmp_path / 'run'}"))
    assert summary["status"] == "completed"

    client = mlflow.MlflowClient(f"sqlite:///{logs / 'mlruns' / 'mlflow.db'}")
    (experiment,) = [e for e in client.search_experiments() if e.name == "train"]
    (found,) = client.search_runs([experiment.experiment_id])  # one run, not two
    history = client.get_metric_history(found.info.run_id, "val/acc")
    assert sorted({m.step for m in history}) == [10, 21, 32]  # epochs 0, 1 and 2
    assert found.data.metrics["val/acc"] == pytest.approx(summary["metrics"]["val/acc"])
    assert found.info.status == "FINISHED"
    assert found.data.tags["litexp.status"] == "completed"
