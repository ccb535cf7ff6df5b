"""Optuna studies on a real PostgreSQL server: workers on one study, a killed worker recovered.

The server is the one ``.ci/run`` starts; its URL (with a password) comes in
``$LITEXP_TEST_POSTGRES`` and reaches the workers only as ``$LITEXP_OPTUNA_STORAGE``.
Without it the tests skip, except under ``LITEXP_REQUIRE_POSTGRES=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest

from litexp.errors import ConfigError
from litexp.sweep.optuna_storage import STORAGE_ENV, with_driver
from tests.conftest import ROOT

POSTGRES_ENV = "LITEXP_TEST_POSTGRES"  # postgresql://user:password@host:port/db
REQUIRE_POSTGRES = "LITEXP_REQUIRE_POSTGRES"
SWEEP = [
    "-m",
    "hparams_search=circles_optuna",  # its default sampler seed (42): every worker has it
    "hydra.sweeper.sampler.n_startup_trials=20",  # random draws: the ones that could repeat
    "trainer=cpu",
    "trainer.max_epochs=1",
    "data.n_samples=120",
]


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    reason = f"needs a PostgreSQL server: set {POSTGRES_ENV}=postgresql://user:password@host/db"
    if os.environ.get(REQUIRE_POSTGRES) == "1":
        pytest.fail(f"{REQUIRE_POSTGRES}=1 but {POSTGRES_ENV} is not set: {reason}")
    pytest.skip(reason)


def _worker(tmp_path: Path, url: str, study: str, n_trials: int, log: str) -> subprocess.Popen:
    env = {**os.environ, "LITEXP_LOG_DIR": str(tmp_path / "logs"), STORAGE_ENV: url}
    out = open(tmp_path / log, "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "train.py"),
            *SWEEP,
            f"hydra.sweeper.study_name={study}",
            f"hydra.sweeper.n_trials={n_trials}",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _password(url: str) -> str:
    return url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]


def _files_with(root: Path, text: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def _study(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=with_driver(url))


def test_a_postgresql_url_without_its_driver_names_the_extra(monkeypatch) -> None:
    import litexp.sweep.optuna_storage as storage

    monkeypatch.setattr(storage, "_importable", lambda module: False)
    with pytest.raises(ConfigError, match=r"pip install 'litexp\[postgres\]'") as err:
        with_driver("postgresql://me:secret@db.example/studies")
    assert "secret" not in str(err.value)  # the message shows the URL without its password
    monkeypatch.setattr(storage, "_importable", lambda module: module == "psycopg")
    assert with_driver("postgresql://db/s") == "postgresql+psycopg://db/s"  # SQLAlchemy 2.x


@pytest.mark.slow
def test_two_workers_started_together_share_one_study_without_repeats(
    tmp_path: Path, postgres_url: str
) -> None:
    study = f"pair_{uuid.uuid4().hex[:8]}"
    workers = [_worker(tmp_path, postgres_url, study, 4, f"w{i}.log") for i in range(2)]
    codes = [w.wait(timeout=300) for w in workers]
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], logs

    trials = _study(postgres_url, study).trials
    finished = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(finished) >= 4, [(t.number, t.state.name) for t in trials]
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params), params  # same seed, yet no parameter set twice
    assert len({t.user_attrs["litexp_worker"] for t in trials}) == 2  # both worked
    # The URL's password reached no run file, config or log.
    assert not _files_with(tmp_path / "logs", _password(postgres_url))


@pytest.mark.slow
def test_a_worker_killed_mid_trial_is_recovered_by_the_next_start(
    tmp_path: Path, postgres_url: str
) -> None:
    study = f"kill_{uuid.uuid4().hex[:8]}"
    sweep = tmp_path / "logs" / "train" / "optuna" / study
    first = _worker(tmp_path, postgres_url, study, 2, "first.log")
    end = time.monotonic() + 240
    while not (sweep / "0" / ".hydra" / "overrides.yaml").exists():  # trial 0 has started
        assert first.poll() is None and time.monotonic() < end, (tmp_path / "first.log").read_text()
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # no clean-up at all: trial 0 stays RUNNING
    first.wait()
    assert _study(postgres_url, study).trials[0].state.name == "RUNNING"

    second = _worker(tmp_path, postgres_url, study, 2, "second.log")
    assert second.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()

    log = (tmp_path / "second.log").read_text()
    assert "trial 0 was interrupted" in log
    assert "(1 interrupted and retried, not counted), target 2 finished" in log
    trials = _study(postgres_url, study).trials
    assert trials[0].state.name == "FAIL" and trials[0].user_attrs["litexp_interrupted"]
    retry = next(t for t in trials if t.user_attrs.get("litexp_retry_of") == 0)
    assert retry.params == trials[0].params and retry.state.name == "COMPLETE"
    assert sum(t.state.name == "COMPLETE" for t in trials) == 2
    summary = (sweep / "summary.csv").read_text()
    assert f"interrupted, retried as trial {retry.number}" in summary
    assert not _files_with(tmp_path / "logs", _password(postgres_url))
