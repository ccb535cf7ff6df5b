"""Offline end-to-end on the real files: fine-tune on hymenoptera, then predict from the checkpoint."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from litexp.checkpoint import load_checkpoint
from litexp.predict import predict
from litexp.train import train
from tests.conftest import SHARED_DATA, compose_config, needs_shared_data

DATA = SHARED_DATA / "hymenoptera_data"
WEIGHTS = SHARED_DATA / "pretrained" / "timm_mobilenetv2_100_coral.safetensors"
pytestmark = needs_shared_data("hymenoptera_data", "pretrained")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The hymenoptera recipe for 2 epochs at 160 px (the test's budget; the recipe: 224)."""
    out = tmp_path_factory.mktemp("hymenoptera")
    cfg = compose_config(
        "train",
        [
            f"paths.output_dir={out / 'run'}",
            f"paths.data_dir={out / 'data'}",
            "trainer=cpu",
            "experiment=hymenoptera_mobilenetv2",
            f"data.data_dir={DATA}",
            f"model.weights={WEIGHTS}",
            "+model.pretrained_cfg_overlay.input_size=[3,160,160]",
            "trainer.max_epochs=2",
            "logger=none",
        ],
    )
    return train(cfg)


@pytest.mark.slow
def test_fine_tune_on_hymenoptera_is_well_above_chance(run: dict) -> None:
    assert run["status"] == "completed"
    assert run["best_score"] >= 0.85  # best val/acc; chance is 0.5
    assert run["metrics"]["test/acc"] >= 0.85  # test = val here (no test/ folder)
    meta = load_checkpoint(run["best_checkpoint"])["litexp"]
    assert meta["data"]["class_names"] == ["ants", "bees"]
    prep = meta["data"]["preprocessing"]  # from the weights' config and the overlay
    assert prep["mean"] == [0.5, 0.5, 0.5] and prep["std"] == [0.5, 0.5, 0.5]
    assert prep["input_size"] == [3, 160, 160] and prep["interpolation"] == "bicubic"


@pytest.mark.slow
def test_predict_from_the_checkpoint_names_ants_and_bees(run: dict, tmp_path: Path) -> None:
    images = tmp_path / "photos"
    images.mkdir()
    for kind in ("ants", "bees"):
        for src in sorted((DATA / "val" / kind).iterdir())[:3]:
            (images / f"{kind}-{src.name}").symlink_to(src)
    cfg = compose_config(
        "predict",
        [
            f"ckpt_path={run['best_checkpoint']}",
            f"input={images}",
            f"paths.output_dir={tmp_path / 'out'}",
        ],
    )
    result = predict(cfg)
    rows = list(csv.DictReader(Path(result["csv"]).read_text().splitlines()))
    assert [r["file"] for r in rows] == sorted(p.name for p in images.iterdir())
    correct = sum(r["file"].startswith(r["class_1"]) for r in rows)
    assert correct >= 5, rows
    assert {r["class_2"] for r in rows} <= {"ants", "bees"}
