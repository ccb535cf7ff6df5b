"""Every model on your images: data=folder data.image_size=... with cnn, mlp and timm."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from litexp.build import build_data_and_model
from litexp.checkpoint import load_checkpoint
from litexp.errors import ConfigError
from litexp.predict import predict
from litexp.train import train
from tests.conftest import (
    SHARED_DATA,
    compose_config,
    needs_shared_data,
)

DATA = SHARED_DATA / "hymenoptera_data"
WEIGHTS = SHARED_DATA / "pretrained" / "timm_mobilenetv2_100_coral.safetensors"


@needs_shared_data("hymenoptera_data")
def test_cnn_trains_on_an_image_folder_at_64px_and_predicts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The README's command: a TinyVGG from scratch on the ants/bees photos at 64x64."""
    cfg = compose_config(
        "train",
        [
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.data_dir={tmp_path / 'data'}",
            "model=cnn",
            "data=folder",
            f"data.data_dir={DATA}",
            "data.image_size=64",
            "trainer.max_epochs=1",
        ],
    )
    with caplog.at_level(logging.INFO, logger="litexp.data.image_cache"):
        summary = train(cfg)
    assert summary["status"] == "completed" and "test/acc" in summary["metrics"]
    # Small images are decoded once into memory (245 train files, the .gif skipped).
    assert "decoded 244 train images once to (3, 64, 64)" in caplog.text
    assert "decoded 153 val images once to (3, 64, 64)" in caplog.text
    ckpt = Path(summary["best_checkpoint"])
    data = load_checkpoint(ckpt)["litexp"]["data"]
    assert data["input_shape"] == [3, 64, 64] and data["class_names"] == ["ants", "bees"]
    # predict.py prepares new photos from the checkpoint alone, at the size trained at.
    bees = DATA / "val" / "bees"
    cfg = compose_config(
        "predict", [f"ckpt_path={ckpt}", f"input={bees}", f"paths.output_dir={tmp_path / 'p'}"]
    )
    out = predict(cfg)
    assert len(out["predictions"]) == len(list(bees.iterdir()))
    assert {c for row in out["predictions"] for c, _ in row["top"]} <= {"ants", "bees"}


@needs_shared_data("hymenoptera_data")
def test_mlp_trains_on_grey_images_of_a_chosen_height_and_width(tmp_path: Path) -> None:
    cfg = compose_config(
        "train",
        [
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.data_dir={tmp_path / 'data'}",
            "trainer=cpu",
            "model=mlp",
            "data=folder",
            f"data.data_dir={DATA}",
            "data.image_size=[24,40]",
            "data.grayscale=true",
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=2",
        ],
    )
    run = train(cfg)
    assert run["status"] == "completed"
    meta = load_checkpoint(run["best_checkpoint"])["litexp"]
    assert meta["data"]["input_shape"] == [1, 24, 40]
    assert meta["data"]["preprocessing"]["input_size"] == [1, 24, 40]
    state = load_checkpoint(run["best_checkpoint"])["state_dict"]
    first = next(v for k, v in state.items() if k.endswith("weight") and v.ndim == 2)
    assert first.shape[1] == 24 * 40  # the MLP was built for the grey 24x40 images


@needs_shared_data("hymenoptera_data", "pretrained")
def test_an_explicit_size_overrides_timm_weights_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = compose_config(
        "train",
        [
            f"paths.output_dir={tmp_path / 'run'}",
            "experiment=hymenoptera_mobilenetv2",
            f"data.data_dir={DATA}",
            f"model.weights={WEIGHTS}",
            "data.image_size=96",
        ],
    )
    with caplog.at_level(logging.WARNING):
        datamodule, _ = build_data_and_model(cfg.data, cfg.model)
    assert "data.image_size=96x96 overrides the 224x224 the model's weights" in caplog.text
    prep = datamodule.spec.preprocessing
    assert prep["input_size"] == [3, 96, 96]
    assert prep["mean"] == [0.5, 0.5, 0.5]  # the weights' normalisation is kept
    assert datamodule.spec.input_shape == (3, 96, 96)


@needs_shared_data("hymenoptera_data")
def test_cnn_without_an_image_size_is_told_to_set_one() -> None:
    cfg = compose_config("train", ["model=cnn", "data=folder", f"data.data_dir={DATA}"])
    with pytest.raises(ConfigError, match=r"needs inputs of one fixed size.*set data.image_size"):
        build_data_and_model(cfg.data, cfg.model)
