"""Files a run writes outside the Trainer: one writer (global rank 0), never a torn file."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from litexp.distributed import is_global_zero_process
from litexp.run_files import write_json_atomic


@pytest.mark.parametrize(
    ("env", "zero"),
    [
        ({}, True),  # a plain `python train.py`
        ({"RANK": "0", "LOCAL_RANK": "0"}, True),  # torchrun, first node
        ({"RANK": "1", "LOCAL_RANK": "0", "GROUP_RANK": "1"}, False),  # torchrun, second node
        ({"LOCAL_RANK": "1", "NODE_RANK": "0"}, False),  # Lightning's launcher, second device
        ({"LOCAL_RANK": "0", "NODE_RANK": "1"}, False),  # Lightning's launcher, second node
        ({"SLURM_PROCID": "3"}, False),
    ],
)
def test_only_global_rank_zero_writes(monkeypatch, env: dict[str, str], zero: bool) -> None:
    for key in ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert is_global_zero_process() is zero


def _write_many(path: str, writer: int) -> None:
    for i in range(200):
        write_json_atomic(Path(path), {"writer": writer, "i": i})


def test_two_processes_writing_one_json_file_never_fail_or_tear_it(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_write_many, args=(str(path), w)) for w in (0, 1)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0]  # a shared temp name made one crash
    assert json.loads(path.read_text())["i"] == 199
    assert not list(tmp_path.glob(".*.tmp"))
