"""TimmTransfer on a tiny timm model: names, freezing, weights, caching, gradual unfreezing."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from litexp.checkpoint import load_checkpoint
from litexp.errors import ConfigError
from litexp.models.timm_transfer import TimmTransfer
from litexp.train import build_data_and_model, train
from tests.test_folder_data import make_dataset

TINY = "test_efficientnet"  # 99k parameters, 256 features
SMALL_INPUT = "input_size:[3,32,32],crop_pct:1.0"


def tiny_cfg(make_cfg, root: Path, *extra: str, overlay: str = SMALL_INPUT):
    return make_cfg(
        "model=timm",
        f"model.name={TINY}",
        "model.pretrained=false",
        f"model.pretrained_cfg_overlay={{{overlay}}}",
        "model.lr=0.01",
        "data=folder",
        f"data.data_dir={root}",
        "data.num_workers=0",
        "data.batch_size=8",
        "trainer.max_epochs=2",
        "logger=none",
        *extra,
    )


def backbone_of(ckpt_path: str) -> dict[str, torch.Tensor]:
    state = load_checkpoint(ckpt_path)["state_dict"]
    return {k[len("net.backbone.") :]: v for k, v in state.items() if k.startswith("net.backbone.")}


def test_unknown_name_suggests_close_matches(make_cfg, tmp_path: Path) -> None:
    cfg = tiny_cfg(make_cfg, make_dataset(tmp_path / "d"), "model.name=mobilenet_v2")
    with pytest.raises(ConfigError) as err:
        build_data_and_model(cfg.data, cfg.model)
    message = str(err.value)
    assert message.startswith("model.name='mobilenet_v2' is not a timm model: did you mean")
    assert "mobilenetv2_100" in message


def test_backbone_frozen_head_trains_and_frozen_layers_stay_in_eval() -> None:
    model = TimmTransfer(num_classes=3, name=TINY, pretrained=False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == 256 * 3 + 3  # the new linear head only
    model.train()
    assert model.net.head.training and not model.net.backbone.training
    assert not any(m.training for m in model.net.backbone.modules())
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    binary = TimmTransfer(num_classes=2, name=TINY, pretrained=False, dropout=0.5)
    assert binary.net.head[0].p == 0.5 and binary(torch.randn(2, 3, 32, 32)).shape == (2, 1)


def test_weights_file_loads_strictly_and_wrong_files_are_errors(tmp_path: Path) -> None:
    source = timm.create_model(TINY)  # with its 1000-class head, as timm saves weights
    torch.manual_seed(7)
    for p in source.parameters():
        p.data.normal_()
    save_file(source.state_dict(), str(tmp_path / "tiny.safetensors"))
    model = TimmTransfer(num_classes=2, name=TINY, weights=str(tmp_path / "tiny.safetensors"))
    for key, value in model.net.backbone.state_dict().items():
        assert torch.equal(value, source.state_dict()[key]), key
    save_file(timm.create_model("test_resnet").state_dict(), str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match=r"weights=.*other.safetensors does not fit timm model"):
        TimmTransfer(num_classes=2, name=TINY, weights=str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match=r"is invalid with pretrained=false"):
        TimmTransfer(
            num_classes=2, name=TINY, pretrained=False, weights=str(tmp_path / "tiny.safetensors")
        )
    with pytest.raises(ValueError, match=r"weights=.*missing.pth is invalid: no such file"):
        TimmTransfer(num_classes=2, name=TINY, weights=str(tmp_path / "missing.pth"))


def test_cached_features_train_exactly_like_recomputing(make_cfg, tmp_path: Path, caplog) -> None:
    root = make_dataset(tmp_path / "d", per_class=12)
    results = {}
    for cache in (True, False):
        cfg = tiny_cfg(
            make_cfg,
            root,
            f"model.cache_features={cache}",
            "model.dropout=0",  # dropout masks would differ: caching draws random numbers
            "data.eval_batch_size=8",  # features computed in batches of the same size
            f"paths.output_dir={tmp_path / str(cache)}",
        )
        with caplog.at_level(logging.INFO, logger="litexp"):
            results[cache] = train(cfg)["metrics"]
        assert ("feature caching on" in caplog.text) == cache
        caplog.clear()
    for key in ("train/loss", "val/loss", "test/loss", "val/acc"):
        assert results[True][key] == pytest.approx(results[False][key], abs=1e-4), key


def test_litexp_checkpoint_transfers_its_backbone_to_new_data(make_cfg, tmp_path: Path) -> None:
    # Pretrain on 2 classes with the whole net training, so the backbone moves from init.
    first = train(
        tiny_cfg(
            make_cfg,
            make_dataset(tmp_path / "a"),
            "model.freeze_backbone=false",
            f"paths.output_dir={tmp_path / 'run_a'}",
            overlay=f"{SMALL_INPUT},mean:[0.3,0.3,0.3]",
        )
    )
    # Then 3 classes, from that checkpoint: backbone kept (and frozen), head new.
    second = train(
        make_cfg(
            "model=timm",
            f"model.name={TINY}",
            f"model.weights={first['best_checkpoint']}",
            "data=folder",
            f"data.data_dir={make_dataset(tmp_path / 'b', classes=3)}",
            "data.num_workers=0",
            "trainer.max_epochs=1",
            "logger=none",
            f"paths.output_dir={tmp_path / 'run_b'}",
        )
    )
    pretrained, transferred = (
        backbone_of(first["best_checkpoint"]),
        backbone_of(second["best_checkpoint"]),
    )
    fresh = TimmTransfer(num_classes=3, name=TINY, pretrained=False).net.backbone.state_dict()
    assert pretrained.keys() == transferred.keys()
    assert all(torch.equal(pretrained[k], transferred[k]) for k in pretrained)
    assert any(not torch.equal(pretrained[k], fresh[k]) for k in pretrained)  # it had moved
    ckpt = load_checkpoint(second["best_checkpoint"])
    assert ckpt["state_dict"]["net.head.1.weight"].shape == (3, 256)  # new head, 3 classes
    assert ckpt["litexp"]["preprocessing"]["mean"] == [0.3, 0.3, 0.3]  # came with the weights
    assert ckpt["litexp"]["preprocessing"]["input_size"] == [3, 32, 32]


def test_gradual_unfreezing_opens_the_backbone_at_the_given_epochs(
    make_cfg, tmp_path: Path
) -> None:
    cfg = tiny_cfg(
        make_cfg,
        make_dataset(tmp_path / "d"),
        "model.unfreeze_at=[1,2]",
        "model.backbone_lr_factor=0.5",
        "trainer.max_epochs=3",
        "trainer.log_every_n_steps=1",  # 6 steps in all: the lr at each (default: every 10th)
        "logger=csv",
    )
    summary = train(cfg)
    rows = list(
        csv.DictReader((Path(summary["run_dir"]) / "csv" / "metrics.csv").read_text().splitlines())
    )
    trainable = {
        int(r["epoch"]): float(r["params/trainable"]) for r in rows if r.get("params/trainable")
    }
    total = float(next(r["params/total"] for r in rows if r.get("params/total")))
    assert trainable[0] == 256 + 1  # head only (binary)
    assert trainable[0] < trainable[1] < trainable[2] == total
    lrs = {k: float(v) for r in rows for k, v in r.items() if k.split("/")[0] == "lr" and v}
    assert any(v == pytest.approx(0.005) for v in lrs.values()), lrs  # backbone at lr x 0.5


def test_grey_data_gets_a_one_channel_stem_from_rgb_weights(tmp_path: Path) -> None:
    source = timm.create_model(TINY)
    save_file(source.state_dict(), str(tmp_path / "tiny.safetensors"))
    model = TimmTransfer(
        num_classes=10, name=TINY, weights=str(tmp_path / "tiny.safetensors"), input_shape=(1, 28, 28)
    )
    stem = model.net.backbone.conv_stem.weight  # timm sums the RGB filters for one channel
    assert torch.allclose(stem, source.conv_stem.weight.sum(1, keepdim=True))
    assert model.preprocessing["input_size"][0] == 1 and len(model.preprocessing["mean"]) == 1
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
