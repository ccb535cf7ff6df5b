"""An Optuna sweep's results: best.yaml with the best trial's parameters, Optuna's plots as
PNG, and a real ``optuna-dashboard`` server that serves the study (as docs/sweeps.md says)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
import yaml

from tests.conftest import ROOT, run_in_session

STUDY = "dash"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 3-trial Optuna sweep (1 epoch each), run as a user types it."""
    tmp = tmp_path_factory.mktemp("optuna")
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        "hparams_search=circles_optuna",
        f"hydra.sweeper.study_name={STUDY}",
        "hydra.sweeper.n_trials=3",
        "trainer=cpu",
        "trainer.max_epochs=1",
        "data.n_samples=120",
    ]
    proc = run_in_session(command, {**os.environ, "LITEXP_LOG_DIR": str(tmp / "logs")}, 300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp / "logs" / "train" / "optuna" / STUDY


@pytest.mark.slow
def test_best_yaml_holds_the_best_trial_and_reruns_it(sweep: Path) -> None:
    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{sweep / 'optuna.db'}")
    best = yaml.safe_load((sweep / "best.yaml").read_text())
    assert best["trial"] == study.best_trial.number
    assert best["params"] == study.best_trial.params
    assert best["objective"]["value"] == pytest.approx(study.best_value)
    command = best["command"].split()
    assert command[:3] == ["python", "train.py", "hparams_search=circles_optuna"]
    assert not any(word.startswith("hydra.") for word in command)  # a single run's command
    assert f"model.dropout={study.best_trial.params['model.dropout']}" in command


@pytest.mark.slow
def test_optuna_plots_are_written_as_png(sweep: Path) -> None:
    for name in ("history", "parallel_coordinate", "param_importances"):
        png = sweep / f"optuna_{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert png.stat().st_size > 5000  # a drawn figure, not an empty canvas


@pytest.mark.slow
def test_optuna_dashboard_serves_the_study(sweep: Path) -> None:
    dashboard = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
    assert dashboard, "optuna-dashboard is missing: pip install -e '.[dev]'"
    port = _free_port()
    server = subprocess.Popen(
        [dashboard, f"sqlite:///{sweep / 'optuna.db'}", "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 60
        while True:
            try:
                studies = _get(f"http://127.0.0.1:{port}/api/studies")["study_summaries"]
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < end, "optuna-dashboard did not answer in 60 s"
                time.sleep(0.2)
        (summary,) = [s for s in studies if s["study_name"] == STUDY]
        trials = _get(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}")["trials"]
        assert len(trials) == 3
        assert {t["state"] for t in trials} <= {"Complete", "Pruned", "Fail"}
        assert all("model.lr" in {p["name"] for p in t["params"]} for t in trials)
    finally:
        server.terminate()
        server.wait(timeout=30)
