"""The sweep summary: one row per job, sorted by the objective, failures kept and reported."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from litexp.sweep.summary import SUMMARY_CSV, SUMMARY_MD, collect, sort_rows, summarize
from tests.conftest import ROOT, run_cli, write_job

# Tiny and fast: 200 points, one epoch.
TINY = [
    "trainer=cpu",
    "trainer.max_epochs=1",
    "data=circles",
    "data.n_samples=200",
]


def _done(acc: float, loss: float) -> dict:
    metrics = {"val/acc": acc, "val/loss": loss, "test/acc": acc, "train/loss": 0.1}
    return {"status": "completed", "metrics": metrics, "wall_time_s": 1.5}


def test_rows_sorted_by_objective_with_failed_and_incomplete_last(tmp_path: Path) -> None:
    write_job(tmp_path, "0", ["model.lr=0.001"], _done(0.7, 0.6))
    write_job(
        tmp_path, "1", ["model.lr=-1"], {"status": "failed", "error": "ConfigError: lr\nmore"}
    )
    write_job(tmp_path, "2", ["model.lr=0.01"], _done(0.9, 0.2))
    write_job(tmp_path, "10", ["model.lr=0.1"], None)  # killed: no metrics.json

    rows = summarize(tmp_path, "val/acc", "maximize")

    assert [r.job for r in rows] == ["2", "0", "1", "10"]
    assert [r.status for r in rows] == ["completed", "completed", "failed", "incomplete"]
    assert rows[2].error == "ConfigError: lr"  # the first line only
    assert rows[0].metrics["train/loss"] == pytest.approx(0.1)  # train metrics shown too
    with open(tmp_path / SUMMARY_CSV) as f:
        table = list(csv.DictReader(f))
    assert [t["overrides"] for t in table] == [
        "model.lr=0.01",
        "model.lr=0.001",
        "model.lr=-1",
        "model.lr=0.1",
    ]
    assert float(table[0]["val/acc"]) == pytest.approx(0.9)
    assert table[0]["wall_time_s"] == "1.5"
    md = (tmp_path / SUMMARY_MD).read_text()
    assert "ties by val/loss (lower first)" in md.splitlines()[0]
    assert md.splitlines()[2].startswith("| job | status | val/acc | val/loss | test/acc")
    assert "| 1 | failed |" in md and "ConfigError: lr" in md


def test_minimize_puts_the_lowest_loss_first(tmp_path: Path) -> None:
    write_job(tmp_path, "0", ["a=1"], _done(0.7, 0.6))
    write_job(tmp_path, "1", ["a=2"], _done(0.9, 0.2))
    rows = sort_rows(collect(tmp_path), "val/loss", "minimize")
    assert [r.job for r in rows] == ["1", "0"]
    with pytest.raises(ValueError, match="direction='down' is invalid"):
        sort_rows(rows, "val/loss", "down")


def test_sweep_with_a_failing_job_goes_on_and_exits_nonzero(tmp_path: Path) -> None:
    """lr=-1 fails its job; the two others still train; the summary shows all three."""
    proc = run_cli("train.py", "-m", "model.lr=0.05,-1,0.2", *TINY, cwd=tmp_path)

    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "1 of 3 jobs failed" in proc.stderr
    sweep = next((tmp_path / "logs" / "train" / "multiruns").iterdir())
    with open(sweep / SUMMARY_CSV) as f:
        table = list(csv.DictReader(f))
    assert [t["status"] for t in table] == ["completed", "completed", "failed"]
    assert "model.lr=-1" in table[2]["overrides"]
    assert "lr=-1 is invalid" in table[2]["error"]
    accs = [float(t["val/acc"]) for t in table[:2]]
    assert accs == sorted(accs, reverse=True)
    assert "sorted by val/acc" in proc.stdout
    # One directory per job, named by its number and swept value, beside the sweep's
    # plots; each finished job has its own TensorBoard run with HPARAMS.
    jobs = ["0_model.lr=0.05", "1_model.lr=-1", "2_model.lr=0.2"]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [*jobs, "sweep_plots"]
    for job in (jobs[0], jobs[2]):
        assert list((sweep / job).rglob("events.out.tfevents.*"))


def test_error_text_with_rich_markup_is_printed_as_it_is(tmp_path: Path, capsys) -> None:
    """A job's error holding "[/...]" (rich's closing tag) is shown literally; the sweep fails."""
    from omegaconf import OmegaConf

    from litexp.sweep.summary import SweepSummary

    error = "RuntimeError: [/__w/pytorch/aten/src/ATen/native/Copy.cpp:42] [bold]no[/bold]"
    write_job(tmp_path, "0", ["model.hidden_sizes=[8]"], _done(0.7, 0.6))
    write_job(tmp_path, "1", ["model.hidden_sizes=[/x]"], {"status": "failed", "error": error})
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})

    with pytest.raises(SystemExit) as stop:
        SweepSummary().on_multirun_end(config)

    assert stop.value.code == 1
    out, err = capsys.readouterr()
    assert "[/__w/pytorch/aten/src/ATen/native/Copy.cpp:42]" in out  # the table is printed
    assert "[bold]no[/bold]" in out
    assert "model.hidden_sizes=[/x]" in out
    assert "1 of 2 jobs failed" in err


def _wide_result(acc: float) -> dict:
    """A finished job with everything a real one records: 15 columns in summary.md."""
    metrics = {
        "val/acc": acc, "val/loss": 1 - acc, "test/acc": acc, "test/loss": 1 - acc,
        "train/acc": acc, "train/loss": 1 - acc,
    }  # fmt: skip
    return {
        "status": "completed", "metrics": metrics, "wall_time_s": 2.4, "epochs": 2,
        "parameters": {"total": 4417}, "samples_per_s": 1201.0,
        "head": {"text": "1 logit, sigmoid, BCE"},
        "diagnosis": {"text": "undecided (2 epochs: too few to judge)"},
        "best_checkpoint": "/runs/s/0/checkpoints/epoch001-val_acc0.8000.ckpt",
    }  # fmt: skip


def _printed(tmp_path: Path, width: int) -> list[str]:
    from rich.console import Console

    from litexp.sweep.summary import print_table, write_summary

    console = Console(width=width, record=True, file=io.StringIO())
    rows = sort_rows(collect(tmp_path), "val/acc")
    write_summary(rows, tmp_path, "val/acc")
    print_table(rows, "val/acc", "sweep", console=console)
    return console.export_text().splitlines()


def test_console_table_fits_the_terminal_and_names_what_it_leaves_out(tmp_path: Path) -> None:
    """An Optuna-like sweep at 100 columns: the columns that tell jobs apart, each cell
    whole on its line (no "complet/ed"), sampled floats at 4 digits; the rest named."""
    lr = "0.0020322854432411525"
    write_job(tmp_path, "0", ["trainer=cpu", f"model.lr={lr}", "model.dropout=0.1261103406262467"],
              _wide_result(0.8))  # fmt: skip
    write_job(tmp_path, "1", ["trainer=cpu", "model.lr=0.001", "model.hidden_sizes=[64,64]"],
              _wide_result(0.7))  # fmt: skip

    lines = _printed(tmp_path, 100)
    assert max(len(line) for line in lines) <= 100
    header = next(line for line in lines if "status" in line)
    shown = [c.strip() for c in header.strip("┃ ").split("┃")]
    assert shown[:4] == ["job", "status", "val/acc", "val/loss"] and shown[-1] == "overrides"
    body = "\n".join(lines)
    assert "│ completed │" in body and "model.lr=0.002032 " in body  # the exact lr: summary.csv
    assert "model.dropout=0.1261 " in body and "model.hidden_sizes=[64,64] " in body
    assert "model.lr=0.001 " in body  # a typed value stays as typed
    assert lr in (tmp_path / SUMMARY_CSV).read_text()
    at = next(i for i, line in enumerate(lines) if line.startswith("not shown at this width"))
    hidden = " ".join(line.strip() for line in lines[at:])  # the last lines, wrapped
    left_out = hidden.split(": ", 1)[1].split(", ")
    assert "best_checkpoint" in left_out and "params" in left_out  # the same in every row
    md = (tmp_path / SUMMARY_MD).read_text().splitlines()
    md_header = next(line for line in md if line.startswith("| job")).strip("| ").split(" | ")
    assert sorted(shown + left_out) == sorted(md_header)  # each column: shown or named

    wide = _printed(tmp_path, 250)  # room for everything: nothing left out
    assert not [line for line in wide if line.startswith("not shown")]
    assert "best_checkpoint" in next(line for line in wide if "status" in line)


def test_a_mistyped_key_in_a_sweep_is_one_line_and_leaves_no_sweep(tmp_path: Path) -> None:
    """Hydra refuses a job's config before any job starts: one error line, exit 2, in
    a second (torch is never loaded); no "not started" table, no resume command for a
    sweep that cannot run, no sweep directory for ``resume=latest`` to find later."""
    env = {**os.environ, "LITEXP_LOG_DIR": str(tmp_path / "logs"), "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", "model.lrr=0.1,0.2", *TINY],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    said = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
    assert said == [
        "litexp: error: model.lrr is not a key of model: did you mean model.lr? "
        "(+model.lrr=<value> adds a new key)"
    ]
    # stdout: only the sweep's first line, said before Hydra checked the jobs' configs;
    # the folder it named is gone again
    (first,) = proc.stdout.splitlines()
    sweep = first.split(" jobs into ", 1)[1].split(";", 1)[0]
    assert first.endswith(
        f"sweep: 2 jobs into {sweep}; watch them with: tensorboard --logdir {sweep}"
    )
    assert not Path(sweep).exists()
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()}
    assert "torch" not in imported and "lightning" not in imported
    multiruns = tmp_path / "logs" / "train" / "multiruns"
    assert not multiruns.exists() or not list(multiruns.iterdir())
