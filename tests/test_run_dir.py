"""What a run directory tells: how to reproduce it (run.json), and how it ended
(metrics.json ``failed`` with the error, whatever went wrong)."""

from __future__ import annotations

import json
import re
import shlex
import sys

import lightning as L
import pytest
import torch

from litexp.callbacks.nan_guard import NonFiniteLoss
from litexp.checkpoint import load_checkpoint
from litexp.errors import ConfigError
from litexp.train import train
from tests.conftest import read_metrics

SMALL = ["logger=none"]


def test_run_json_records_config_command_code_versions_hardware(make_cfg, tmp_path) -> None:
    train(make_cfg("trainer.max_epochs=1", "model.lr=0.02", *SMALL))
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["config"]["model"]["lr"] == 0.02  # resolved config
    assert info["config"]["paths"]["output_dir"] == str(tmp_path / "run")
    assert info["command"] == shlex.join(["python", *sys.argv])
    assert re.fullmatch(r"[0-9a-f]{40}", info["git"]["commit"])
    assert isinstance(info["git"]["dirty"], bool)
    versions = info["versions"]
    assert torch.__version__.startswith(versions["torch"])
    assert versions["lightning"] == L.__version__
    for name in ("python", "timm", "hydra-core", "omegaconf"):
        assert versions[name], name
    assert info["hardware"]["cpu"] and info["hardware"]["cpu_count"] >= 1
    assert isinstance(info["hardware"]["gpus"], list)


def test_setup_failure_marks_the_run_failed_without_checkpoints(make_cfg, tmp_path) -> None:
    with pytest.raises(ConfigError, match="model.lr=0 is invalid"):
        train(make_cfg("model.lr=0", *SMALL))
    summary = read_metrics(tmp_path / "run")
    assert summary["status"] == "failed"
    assert summary["error"].startswith("ConfigError: model.lr=0 is invalid")
    assert not list((tmp_path / "run").rglob("*.ckpt"))


class Boom(L.Callback):
    """Test helper: an unexpected error in the middle of training."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= 14:
            raise RuntimeError("boom at step 14\nsecond line")


def test_any_error_during_training_marks_the_run_failed(make_cfg, tmp_path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        train(make_cfg("trainer.max_epochs=3", *SMALL, f"+callbacks.boom._target_={__name__}.Boom"))
    summary = read_metrics(tmp_path / "run")
    assert summary["status"] == "failed"
    assert summary["error"] == "RuntimeError: boom at step 14"  # the first line only
    assert summary["last_checkpoint"] == str(tmp_path / "run" / "checkpoints" / "last.ckpt")


def test_nan_loss_stops_naming_epoch_and_step_and_keeps_the_last_good_checkpoint(
    make_cfg, tmp_path
) -> None:
    # SGD whose learning rate grows 1e12-fold every epoch: fine in epoch 0, diverges in 1.
    diverging = [
        "model.optimizer._target_=torch.optim.SGD",
        "model.scheduler={_target_: torch.optim.lr_scheduler.ExponentialLR, _partial_: true, gamma: 1e12}",
    ]
    with pytest.raises(NonFiniteLoss, match=r"NaN or infinite at epoch 1, step 1\d") as err:
        train(make_cfg("trainer.max_epochs=5", *SMALL, *diverging))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert str(last) in str(err.value)
    summary = read_metrics(tmp_path / "run")
    assert summary["status"] == "failed"
    assert summary["error"].startswith("NonFiniteLoss: training loss became NaN or infinite")
    ckpt = load_checkpoint(last)
    assert ckpt["epoch"] == 0
    assert all(torch.isfinite(t).all() for t in ckpt["state_dict"].values())


def test_unwritable_log_dir_is_an_error_before_anything(make_cfg, tmp_path) -> None:
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        train(make_cfg(*SMALL, f"paths.output_dir={tmp_path / 'a_file' / 'run'}"))


def test_full_disk_is_an_error_before_anything(make_cfg, tmp_path, monkeypatch) -> None:
    import shutil

    from litexp import run_dir

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(run_dir.shutil, "disk_usage", lambda p: usage._replace(free=50 * 2**20))
    with pytest.raises(ConfigError, match=r"only 50 MiB free .* need at least 200 MiB"):
        train(make_cfg(*SMALL))
    assert not (tmp_path / "run").exists()
