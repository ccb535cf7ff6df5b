"""The lessons of conf/experiment/ (experiments/lessons.md), each run as a user types it
(``python train.py -m experiment=<name>``) with tiny limits: the comparison table has the
lesson's columns, and linear_vs_relu, heads and overfitting teach what they promise.
Plus the fit diagnosis on histories built to show each case, and data.train_subset."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from litexp.data.toy import Circles
from litexp.diagnosis import diagnose, epochs_to
from tests.conftest import SHARED_DATA, needs_shared_data, run_cli

TINY = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
]
FASHION = f"data.data_dir={SHARED_DATA / 'fashion_mnist'}"


def sweep(tmp_path: Path, name: str, *overrides: str, timeout: float = 300) -> list[dict]:
    """Run the lesson; return its summary.csv rows, each with the job's metrics.json."""
    done = run_cli(
        "train.py", "-m", f"experiment={name}", *overrides, cwd=tmp_path, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-4000:]
    (sweep_dir,) = (tmp_path / "logs" / name / "multiruns").iterdir()
    with open(sweep_dir / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["result"] = json.loads((sweep_dir / row["job"] / "metrics.json").read_text())
        row["dir"] = sweep_dir / row["job"]
    assert "diagnosis" in (sweep_dir / "summary.md").read_text()
    return rows


def value_of(row: dict, key: str) -> str:
    """The value a job's overrides give ``key``."""
    (value,) = [o.split("=", 1)[1] for o in row["overrides"].split() if o.startswith(f"{key}=")]
    return value


def by(rows: list[dict], key: str, value: str) -> dict:
    (row,) = [r for r in rows if value_of(r, key) == value]
    return row


def tb_tags(run_dir: Path, kind: str) -> dict[str, int]:
    """``{tag: number of events}`` of one kind ("images", "scalars") in a run's TensorBoard files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    counts: dict[str, int] = {}
    for folder in {p.parent for p in run_dir.rglob("events.out.tfevents.*")}:
        acc = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
        acc.Reload()
        for tag in acc.Tags()[kind]:
            events = acc.Images(tag) if kind == "images" else acc.Scalars(tag)
            counts[tag] = counts.get(tag, 0) + len(events)
    return counts


# -- the lessons, run ---------------------------------------------------------------------
def test_linear_vs_relu_linear_stays_near_chance_relu_separates_circles(tmp_path: Path) -> None:
    # The lesson's two 2x64 networks, 10 of its 30 epochs (the 2-5-1 pair left out for time).
    rows = sweep(tmp_path, "linear_vs_relu", "model.hidden_sizes=[64,64]", "trainer.max_epochs=10")
    linear, relu = by(rows, "model.activation", "none"), by(rows, "model.activation", "relu")
    assert float(linear["test/acc"]) < 0.65, linear  # chance is 0.5
    assert float(relu["test/acc"]) >= 0.97, relu
    assert relu["epochs_to_target"] not in ("", "never") and linear["epochs_to_target"] == "never"
    assert linear["params"] == relu["params"] == "4417"  # same net, only the activation differs
    assert linear["result"]["diagnosis"]["verdict"] == "underfitting"
    # The decision boundary forming: an image every 5 epochs and one at the end.
    images = tb_tags(relu["dir"], "images")
    assert images.get("decision_boundary", 0) == 2, images  # epochs 5 and 10 (= the end)


def test_heads_binary_gets_one_logit_and_bce_multiclass_softmax(tmp_path: Path) -> None:
    rows = sweep(tmp_path, "heads", "trainer.max_epochs=2")
    two, four = by(rows, "data.num_classes", "2"), by(rows, "data.num_classes", "4")
    assert two["head"] == "1 logit, sigmoid, BCE"
    assert four["head"] == "4 logits, softmax, cross-entropy"
    assert two["result"]["head"]["loss"] == "binary_cross_entropy_with_logits"
    assert four["result"]["head"]["outputs"] == 4
    assert float(four["test/acc"]) > 0.5  # 4 blobs: chance is 0.25


def test_activations_table_and_gradient_norms(tmp_path: Path) -> None:
    rows = sweep(tmp_path, "activations", *TINY, "callbacks.grad_norms.every_n_steps=1")
    assert sorted(value_of(r, "model.activation") for r in rows) == sorted(
        ["relu", "tanh", "sigmoid", "gelu", "leaky_relu"]
    )
    assert {"epochs_to_target", "params", "diagnosis"} <= set(rows[0])
    scalars = tb_tags(by(rows, "model.activation", "sigmoid")["dir"], "scalars")
    layers = [t for t in scalars if t.startswith("grad_norm/") and t.endswith(".weight")]
    assert len(layers) == 5, scalars  # 4 hidden layers and the output layer
    assert "grad_norm/total" in scalars


def test_optimizers_each_arm_uses_its_optimizer(tmp_path: Path) -> None:
    rows = sweep(tmp_path, "optimizers", *TINY)
    assert len(rows) == 4 and all(r["status"] == "completed" for r in rows)
    for arm, target in [("sgd_momentum", "SGD"), ("adamw", "AdamW")]:
        config = (by(rows, "+experiment/optimizer_arms", arm)["dir"] / "config.yaml").read_text()
        assert f"_target_: torch.optim.{target}\n" in config
    assert "epochs_to_target" in rows[0] and "samples_per_s" in rows[0]


@needs_shared_data("fashion_mnist")
def test_fashion_models_table_has_accuracy_parameters_and_time(tmp_path: Path) -> None:
    rows = sweep(tmp_path, "fashion_models", FASHION, *TINY)
    params = {value_of(r, "+experiment/fashion_arms"): int(r["params"]) for r in rows}
    assert set(params) == {"linear", "mlp", "cnn"}
    assert params["linear"] == params["mlp"]  # only the activation differs
    assert all(r["test/acc"] and r["wall_time_s"] and r["samples_per_s"] for r in rows)


@needs_shared_data("fashion_mnist")
def test_overfitting_is_diagnosed_and_early_stopping_ends_near_it(tmp_path: Path) -> None:
    # The unregularised arm, without and with early stopping (patience as users type it).
    rows = sweep(
        tmp_path,
        "overfitting",
        FASHION,
        "model.dropout=0.0",
        "callbacks.early_stopping.patience=null,2",
        "trainer.max_epochs=8",
    )
    plain = by(rows, "callbacks.early_stopping.patience", "null")
    stopped = by(rows, "callbacks.early_stopping.patience", "2")
    diagnosis = plain["result"]["diagnosis"]
    assert diagnosis["verdict"] == "overfitting", diagnosis
    assert plain["diagnosis"].startswith(f"overfitting from epoch {diagnosis['from_epoch']}")
    assert diagnosis["figures"]["gap"] > 0.2
    assert plain["result"]["early_stopping"] is None and plain["result"]["epochs"] == 8
    stop = stopped["result"]["early_stopping"]
    assert stop["monitor"] == "val/loss" and stop["patience"] == 2
    # Stopped 2 epochs after the val loss minimum, i.e. right where overfitting began.
    assert stop["stopped_epoch"] == stopped["result"]["epochs"] < 8
    best = stopped["result"]["diagnosis"]["figures"]["best_epoch"]
    assert stop["stopped_epoch"] == best + 2
    assert stopped["stopped_epoch"] == str(stop["stopped_epoch"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU behaviour: skipped with a reason")
def test_device_data_says_what_it_would_measure_and_skips_on_cpu(tmp_path: Path) -> None:
    done = run_cli("train.py", "-m", "experiment=device_data", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "skipped: this recipe needs a CUDA GPU to measure samples/s" in done.stderr
    (sweep_dir,) = (tmp_path / "logs" / "device_data" / "multiruns").iterdir()
    with open(sweep_dir / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["skipped", "skipped"]


# -- the fit diagnosis on built histories --------------------------------------------------
def history(train_loss: list[float], val_loss: list[float], train_acc: list[float]) -> list[dict]:
    return [
        {"epoch": i + 1, "train/loss": t, "val/loss": v, "train/acc": a, "val/acc": a - 0.05}
        for i, (t, v, a) in enumerate(zip(train_loss, val_loss, train_acc, strict=True))
    ]


def test_diagnosis_underfitting_near_chance() -> None:
    got = diagnose(history([0.69, 0.69, 0.69, 0.69], [0.69] * 4, [0.51, 0.52, 0.5, 0.53]), 2)
    assert got["verdict"] == "underfitting" and "chance 0.500" in got["text"]
    assert got["figures"]["train_acc"] == 0.53


def test_diagnosis_underfitting_still_learning() -> None:
    got = diagnose(history([1.0, 0.8, 0.6, 0.4], [1.0, 0.85, 0.65, 0.45], [0.6, 0.7, 0.8, 0.85]), 2)
    assert got["verdict"] == "underfitting" and "still falling" in got["text"]
    assert got["figures"]["late_share_of_fall"] == pytest.approx(1.0)


def test_diagnosis_overfitting_from_the_epoch_after_the_val_minimum() -> None:
    train = [1.0, 0.6, 0.4, 0.3, 0.2, 0.1]
    val = [1.0, 0.7, 0.5, 0.55, 0.6, 0.7]  # minimum at epoch 3, then rising
    got = diagnose(history(train, val, [0.6, 0.8, 0.9, 0.93, 0.96, 0.99]), 10)
    assert got["verdict"] == "overfitting" and got["from_epoch"] == 4
    assert got["text"].startswith("overfitting from epoch 4")
    assert got["figures"]["gap"] == pytest.approx(0.6)
    assert got["figures"]["best_epoch"] == 3


def test_diagnosis_good_fit_and_undecided() -> None:
    train = [0.5, 0.3, 0.27, 0.26, 0.255]  # 18% of the fall in the last 3 epochs: not steep
    val = [0.5, 0.32, 0.27, 0.26, 0.262]  # flat at the end: not 10% above its minimum
    assert diagnose(history(train, val, [0.8, 0.9, 0.92, 0.93, 0.93]), 2)["verdict"] == "good fit"
    assert diagnose(history([0.3], [0.3], [0.9]), 2)["verdict"] == "undecided"
    assert diagnose([], 2)["verdict"] == "undecided"
    # Two epochs are one drop of the loss: "all of its fall in the last epoch" says nothing.
    two = diagnose(history([0.6, 0.4], [0.55, 0.42], [0.8, 0.86]), 10)
    assert two["verdict"] == "undecided" and "2 epochs" in two["text"]


def test_diagnosis_a_converged_runs_wobble_is_not_overfitting() -> None:
    """Measured on circles: val loss 0.007 -> 0.011 with the train loss above it."""
    train = [0.3, 0.05, 0.02, 0.013, 0.012, 0.011]
    val = [0.2, 0.02, 0.007, 0.008, 0.01, 0.0105]  # +50%, but 0.0035 and below train
    assert diagnose(history(train, val, [0.9, 0.99, 1.0, 1.0, 1.0, 1.0]), 2)["verdict"] == (
        "good fit"
    )


def test_epochs_to_target() -> None:
    rows = history([0.5] * 3, [0.5] * 3, [0.7, 0.96, 0.99])  # val/acc 0.65, 0.91, 0.94
    assert epochs_to(rows, 0.9) == 2 and epochs_to(rows, 0.95) is None


# -- data.train_subset -------------------------------------------------------------------
def test_train_subset_is_seeded_and_checked() -> None:
    def train_x(seed: int) -> torch.Tensor:
        data = Circles(n_samples=1000, train_subset=100, seed=seed)
        data.setup()
        assert len(data.splits["val"]) == 150  # validation and test keep every sample
        return data.splits["train"].tensors[0]

    assert len(train_x(1)) == 100
    assert torch.equal(train_x(1), train_x(1)) and not torch.equal(train_x(1), train_x(2))
    with pytest.raises(ValueError, match=r"train_subset=800 is invalid: .* at most 700"):
        Circles(n_samples=1000, train_subset=800)
