"""``resume=latest`` continues the newest run of this command's model, data and seed,
says which, and when none fits names the nearest runs and why they do not."""

from __future__ import annotations

import pytest

from tests.conftest import read_metrics, run_cli

OVERRIDES = ["trainer=cpu", "trainer.max_epochs=1", "data.n_samples=300"]


@pytest.mark.slow
def test_latest_skips_a_newer_run_of_other_data_and_names_its_choice(tmp_path):
    runs = tmp_path / "logs" / "train" / "runs"
    first = run_cli("train.py", "data=moons", *OVERRIDES, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (moons,) = runs.iterdir()
    # A newer run of another data set: the README's `data=moons resume=latest` used to pick
    # it and refuse it.
    second = run_cli("train.py", *OVERRIDES, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    (circles,) = set(runs.iterdir()) - {moons}
    circles_before = (circles / "metrics.json").stat().st_mtime_ns

    # Both runs completed their one epoch: nothing left for a command asking for one epoch.
    done = run_cli("train.py", "data=moons", *OVERRIDES, "resume=latest", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("litexp: error: resume=latest found no run")
    assert f"{moons.name} (completed its trainer.max_epochs=1" in line
    assert f"{circles.name} (data._target_='litexp.data.Circles' (now 'litexp.data.Moons')" in line

    more = run_cli(
        "train.py", "data=moons", *OVERRIDES, "trainer.max_epochs=2", "resume=latest", cwd=tmp_path
    )
    assert more.returncode == 0, more.stderr
    assert f"litexp: resume=latest: continuing {moons} (completed" in more.stderr
    assert f"continuing from {moons / 'checkpoints' / 'last.ckpt'}" in more.stderr
    assert read_metrics(moons)["status"] == "completed"
    assert "max_epochs: 2" in (moons / "config.yaml").read_text()
    assert (circles / "metrics.json").stat().st_mtime_ns == circles_before  # untouched
    assert set(runs.iterdir()) == {moons, circles}  # no new run directory
