"""Short real training runs: well above chance on the official test sets, and the
test report (per-class accuracy, confusion matrix, misclassified images) where a user
looks for it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from litexp.train import train
from tests.conftest import SHARED_DATA, needs_shared_data


@pytest.mark.slow
@needs_shared_data("fashion_mnist")
def test_short_fashion_run_beats_chance_and_shows_mistakes(make_cfg, tmp_path: Path) -> None:
    cfg = make_cfg(
        "model=cnn",
        "data=fashion",
        f"data.data_dir={SHARED_DATA / 'fashion_mnist'}",
        "data.download=false",
        "model.channels=[8,16]",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=250",  # 250 steps of 128 images
        "+trainer.limit_val_batches=1",
    )
    summary = train(cfg)
    acc = summary["metrics"]["test/acc"]
    assert acc > 0.8, f"10 classes (chance 0.1), 250 steps: test/acc {acc}"

    events = EventAccumulator(
        str(next((tmp_path / "run").rglob("events.out.tfevents.*")).parent),
        size_guidance={"images": 0},
    )
    events.Reload()
    assert {"test/confusion_matrix", "test/misclassified"} <= set(events.Tags()["images"])
    matrix = events.Images("test/confusion_matrix")[-1]
    assert matrix.width > 200 and matrix.height > 200
    per_class = {
        tag: events.Scalars(tag)[-1].value
        for tag in events.Tags()["scalars"]
        if tag.startswith("test/class_acc/")
    }
    assert "test/class_acc/T-shirt_top" in per_class and len(per_class) == 10
    # The test set holds 1,000 images per class: the mean of per-class accuracy is accuracy.
    assert sum(per_class.values()) / 10 == pytest.approx(acc, abs=1e-4)


@pytest.mark.slow
@needs_shared_data("mnist")
def test_mlp_on_mnist_with_csv_logger_gets_per_class_accuracy(make_cfg, tmp_path: Path) -> None:
    cfg = make_cfg(
        "model=mlp",
        "data=mnist",
        f"data.data_dir={SHARED_DATA / 'mnist'}",
        "data.download=false",
        "logger=csv",
        "model.lr=0.003",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=150",
        "+trainer.limit_val_batches=1",
    )
    summary = train(cfg)
    assert summary["metrics"]["test/acc"] > 0.85
    rows = list(csv.DictReader((tmp_path / "run" / "csv" / "metrics.csv").open()))
    values = [row["test/class_acc/7"] for row in rows if row.get("test/class_acc/7")]
    assert len(values) == 1 and 0.5 < float(values[0]) <= 1
    assert not list((tmp_path / "run").rglob("events.out.tfevents*"))
