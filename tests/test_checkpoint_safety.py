"""Checkpoints never run code on load, and a kill during a save never truncates one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from litexp.callbacks.atomic_checkpoint import AtomicCheckpointIO
from litexp.checkpoint import load_checkpoint
from litexp.errors import CheckpointError, DiskFullError


class _WritesMarker:
    """Unpickling this object runs ``exec``: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _litexp_ckpt(**extra: object) -> dict:
    return {
        "litexp": {"format": 1, "config": {"model": {}}, "data": {"num_classes": 2}},
        "state_dict": {"w": torch.zeros(2)},
        **extra,
    }


@pytest.fixture
def evil_ckpt(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.ckpt"
    torch.save(_litexp_ckpt(payload=_WritesMarker(marker)), path)
    return path, marker


def test_crafted_checkpoint_would_run_code_when_loaded_unsafely(evil_ckpt):
    # Proves the fixture is a real attack: plain pickle loading runs it.
    path, marker = evil_ckpt
    torch.load(path, weights_only=False)
    assert marker.read_text() == "pwned"


def test_crafted_checkpoint_is_refused_and_runs_nothing(evil_ckpt):
    path, marker = evil_ckpt
    with pytest.raises(CheckpointError, match="refused") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)
    assert "exec" in str(err.value)  # the message says what was refused
    assert not marker.exists()


def test_lightning_resume_loading_is_safe_too(evil_ckpt):
    # trainer.fit(ckpt_path=...) and trainer.test(ckpt_path=...) load through this plugin.
    path, marker = evil_ckpt
    with pytest.raises(Exception, match="exec"):
        AtomicCheckpointIO().load_checkpoint(path, weights_only=False)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b"", "empty"),
        (lambda b: b"not a checkpoint at all", "truncated or not a torch checkpoint"),
    ],
    ids=["truncated", "empty", "garbage"],
)
def test_damaged_checkpoint_is_one_line_naming_the_file(tmp_path, damage, words):
    good = tmp_path / "good.ckpt"
    torch.save(_litexp_ckpt(), good)
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(damage(good.read_bytes()))
    with pytest.raises(CheckpointError, match=words) as err:
        load_checkpoint(bad)
    assert str(bad) in str(err.value)
    assert "\n" not in str(err.value)


def test_metadata_must_be_plain_data(tmp_path):
    path = tmp_path / "odd.ckpt"
    ckpt = _litexp_ckpt()
    ckpt["litexp"]["data"]["mean"] = torch.ones(3)  # loads safely, but is not plain data
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=r"litexp\.data\.mean is a Tensor, not plain data"):
        load_checkpoint(path)


def test_save_killed_midway_leaves_the_old_checkpoint_whole(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint(_litexp_ckpt(), path)
    before = path.read_bytes()

    def dies_halfway(obj: object, f) -> None:  # a save that is cut off after some bytes
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(DiskFullError, match=f"cannot write checkpoint {path} .No space left"):
        io.save_checkpoint(_litexp_ckpt(state_dict={"w": torch.ones(2)}), path)
    assert path.read_bytes() == before
    assert load_checkpoint(path)["state_dict"]["w"].sum() == 0
    assert os.listdir(tmp_path) == ["last.ckpt"]  # no temporary file left behind


def test_rebuild_refuses_data_with_another_class_count(make_cfg) -> None:
    from litexp.checkpoint import rebuild
    from litexp.config import to_plain
    from litexp.train import build_data_and_model

    cfg = make_cfg("data=blobs", "data.num_classes=4")
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    meta = {"format": 1, "config": to_plain(cfg), "data": datamodule.spec.to_dict()}
    ckpt = {"litexp": meta, "state_dict": model.state_dict()}
    with pytest.raises(CheckpointError, match="trained for 4 classes, but the data now has 3"):
        rebuild(ckpt, {"num_classes": 3}, path="blobs.ckpt")
    rebuilt_cfg, _, rebuilt = rebuild(ckpt, path="blobs.ckpt")  # unchanged data: fine
    assert rebuilt_cfg.data.num_classes == 4 and not rebuilt.training
