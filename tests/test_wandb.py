"""logger=wandb, offline: the run kept in the run directory with its name, parameters and
final metrics, read back by wandb's own reader (``wandb leet inspect``); nothing sent."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT, only_run_dir, read_metrics, run_in_session

pytest.importorskip("wandb")

TINY = ("data=blobs", "model.lr=0.02", "trainer.max_epochs=1", "+trainer.limit_train_batches=2")


class _Counting(http.server.BaseHTTPRequestHandler):
    """Answers every request (a proxy's CONNECT too) with 503, and counts it."""

    seen: list[str] = []

    def _any(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(503)
        self.end_headers()

    do_GET = do_POST = do_PUT = do_CONNECT = do_HEAD = _any

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def no_network() -> dict[str, str]:
    """The environment for a run whose every W&B or proxied request reaches a local
    server that counts it: the W&B server, the proxies, and an API key that would let
    an online run try to upload."""
    _Counting.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield {
            "WANDB_BASE_URL": url,
            "WANDB_API_KEY": "0" * 40,
            "HTTP_PROXY": url,
            "HTTPS_PROXY": url,
            "NO_PROXY": "",
        }
    finally:
        server.shutdown()
        server.server_close()


def _wandb_summary(run_folder: Path) -> dict:
    """What wandb itself reads back from an offline run's transaction log."""
    wandb_cli = Path(sys.executable).parent / "wandb"
    done = subprocess.run(
        [str(wandb_cli), "leet", "inspect", "--summary", "--json", str(run_folder)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_offline_run_holds_its_name_parameters_and_final_metrics(
    tmp_path: Path, no_network: dict[str, str]
) -> None:
    env = {**os.environ, **no_network, "LITEXP_LOG_DIR": str(tmp_path / "logs")}
    proc = run_in_session(
        [sys.executable, str(ROOT / "train.py"), "logger=wandb", *TINY], env, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "logs")
    written = read_metrics(run_dir)
    (folder,) = (run_dir / "wandb").glob("offline-run-*")
    assert f"wandb sync {folder}" in proc.stdout + proc.stderr  # how to upload it later
    assert _Counting.seen == [], "offline: nothing is sent"

    run = _wandb_summary(folder)
    assert run["state"] == "finished" and run["exit_code"] == 0
    assert run["project"] == "train"
    assert run["name"] == "train/data=blobs,lr=0.02,limit_train_batches=2,max_epochs=1"
    # The HPARAMS columns (as MLflow's parameters), the run's status among them.
    config = run["config"]
    assert config["lr"] == 0.02 and config["data"] == "blobs" and config["epochs"] == 1
    assert config["status"] == "completed"
    assert set(written["metrics"]) == {
        "train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc"
    }  # fmt: skip
    for key, value in written["metrics"].items():
        assert run["summary"][key] == pytest.approx(value), key


def test_without_wandb_one_error_line_before_training(tmp_path: Path) -> None:
    """A Python without the wandb package (blocked here) says which extra to install."""
    blocked = (
        "import runpy, sys; sys.modules['wandb'] = None; "
        f"sys.argv = [{str(ROOT / 'train.py')!r}, *sys.argv[1:]]; "
        f"runpy.run_path({str(ROOT / 'train.py')!r}, run_name='__main__')"
    )
    env = {**os.environ, "LITEXP_LOG_DIR": str(tmp_path / "logs")}
    proc = run_in_session([sys.executable, "-c", blocked, "logger=wandb", *TINY], env, 120)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("litexp: error:")]
    assert errors == ["litexp: error: logger=wandb needs W&B: pip install 'litexp[wandb]'"]
    assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "logs").rglob("*.ckpt")), "no training started"
