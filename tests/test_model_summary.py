"""The model summary in the terminal: once per sweep (joblib's processes included), its
rows numbered without gaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

TOY = ("data=circles", "data.n_samples=200", "trainer.max_epochs=1")


def _headers(said: str) -> list[str]:
    """The summary tables' header lines (``┃   ┃ Name ┃ Type ┃ Params ┃ Mode ┃``)."""
    return [
        line
        for line in said.splitlines()
        if {"Name", "Type", "Params"} <= {cell.strip() for cell in line.split("┃")}
    ]


def _row_numbers(said: str) -> list[str]:
    """The first cell of each row of the summary table (between its header and totals)."""
    table = said[said.index("Params") : said.index("Trainable params")]
    cells = [line.split("│") for line in table.splitlines() if line.startswith("│")]
    return [row[1].strip() for row in cells]


@pytest.mark.slow
def test_a_parallel_sweep_prints_the_summary_once(tmp_path: Path) -> None:
    proc = run_cli(
        "train.py", "-m", "hydra/launcher=parallel", "model.lr=0.05,0.1", *TOY, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = proc.stdout + proc.stderr
    assert "n_jobs=2" in said  # joblib ran the two jobs in its own processes
    assert len(list((tmp_path / "logs").rglob("metrics.json"))) == 2
    assert len(_headers(said)) == 1, said[-4000:]


@pytest.mark.slow
def test_a_run_prints_the_summary_once_rows_numbered_from_zero(tmp_path: Path) -> None:
    proc = run_cli("train.py", *TOY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = proc.stdout + proc.stderr
    assert len(_headers(said)) == 1, said[-4000:]
    numbers = _row_numbers(said)
    assert numbers and numbers == [str(i) for i in range(len(numbers))], numbers
