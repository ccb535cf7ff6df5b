"""The learning rate in the run's logs: one ``lr`` tag whatever the optimiser, a point on
each step Lightning logs; several optimisers and parameter groups apart, by name."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn

from litexp.train import train
from tests.conftest import run_cli


def csv_rows(run_dir: Path) -> list[dict[str, str]]:
    text = (run_dir / "csv" / "metrics.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


def lr_points(rows: list[dict[str, str]]) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, lr), ...]}`` for every column whose tag starts with ``lr``."""
    found: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith("lr") and value:
                found.setdefault(key, []).append((int(row["step"]), float(value)))
    return found


def test_one_lr_tag_for_adamw_a_point_on_each_logged_step(make_cfg) -> None:
    # Circles: 11 batches an epoch; logs every 3rd step (2, 5, 8, ...).
    summary = train(
        make_cfg(
            "trainer.max_epochs=2",
            "trainer.log_every_n_steps=3",
            "model.optimizer._target_=torch.optim.AdamW",
            "model.lr=0.02",
            "logger=csv",
        )
    )
    rows = csv_rows(Path(summary["run_dir"]))
    points = lr_points(rows)
    assert set(points) == {"lr"}, "one tag, not lr-AdamW"
    loss_steps = [int(r["step"]) for r in rows if r.get("train/loss_step")]
    assert [s for s, _ in points["lr"]] == loss_steps == list(range(2, 22, 3))
    assert all(v == pytest.approx(0.02) for _, v in points["lr"])
    assert not any(k.startswith("lr-") for r in rows for k in r), "no Lightning lr-<class> tag"


def test_logging_interval_epoch_writes_one_point_per_epoch(make_cfg) -> None:
    summary = train(
        make_cfg(
            "trainer.max_epochs=2", "callbacks.lr_monitor.logging_interval=epoch", "logger=csv"
        )
    )
    points = lr_points(csv_rows(Path(summary["run_dir"])))
    assert points == {"lr": [(0, 0.01), (11, 0.01)]}, "at each epoch's start (11 steps)"


class TwoOptimizers(L.LightningModule):
    """A user's LightningModule (not litexp's Classifier) with two optimisers, the first
    with a named second parameter group, stepped by hand."""

    def __init__(self, num_classes: int, input_shape: list[int]) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0], 8), nn.ReLU())
        self.head = nn.Linear(8, num_classes)
        self.extra = nn.Linear(8, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.body(x)
        return self.head(features) + self.extra(features)

    def training_step(self, batch, batch_idx):
        x, y = batch
        sgd, adam = self.optimizers()
        schedule = self.lr_schedulers()
        loss = nn.functional.cross_entropy(self(x), y)
        for opt in (sgd, adam):
            opt.zero_grad()
        self.manual_backward(loss)
        sgd.step()
        adam.step()
        schedule.step()
        self.log("train/loss", loss)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/acc", (self(x).argmax(-1) == y).float().mean())

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test/acc", (self(x).argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        sgd = torch.optim.SGD(
            [
                {"params": self.body.parameters()},
                {"params": self.head.parameters(), "lr": 0.2, "name": "head"},
            ],
            lr=0.1,
        )
        adam = torch.optim.Adam(self.extra.parameters(), lr=0.003)
        halving = torch.optim.lr_scheduler.StepLR(sgd, step_size=1, gamma=0.5)
        return [sgd, adam], [halving]


@pytest.mark.slow
def test_a_users_module_with_two_optimisers_gets_one_readable_tag_per_group(
    tmp_path: Path,
) -> None:
    conf = tmp_path / "myconf" / "model"
    conf.mkdir(parents=True)
    (conf / "two.yaml").write_text(
        textwrap.dedent(
            """\
            # a user's own LightningModule with two optimisers
            _target_: tests.test_lr_tag.TwoOptimizers
            """
        )
    )
    proc = run_cli(
        "train.py",
        "-cd", str(tmp_path / "myconf"), "model=two", "logger=csv",
        "trainer=cpu", "trainer.max_epochs=1", "+trainer.limit_train_batches=4",
        "trainer.log_every_n_steps=1", f"hydra.run.dir={tmp_path / 'two'}",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    points = lr_points(csv_rows(tmp_path / "two"))
    assert set(points) == {"lr/SGD", "lr/SGD/head", "lr/Adam"}, sorted(points)
    # One point per batch (4), the rate that batch stepped with: SGD's halve each batch.
    assert [v for _, v in points["lr/SGD"]] == [0.1, 0.05, 0.025, 0.0125]
    assert [v for _, v in points["lr/SGD/head"]] == [0.2, 0.1, 0.05, 0.025]
    assert [v for _, v in points["lr/Adam"]] == [0.003] * 4
