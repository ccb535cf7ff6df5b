"""A user's own net, data and config folder, outside litexp, through the real commands.

The test writes what a user would: a package ``shapes_ext`` with an ``nn.Module`` and a
LightningDataModule (small PNG images on disk, three classes), and a config folder
that names them. Nothing in litexp is edited.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, read_metrics

pytestmark = pytest.mark.slow

CLASSES = ("horizontal", "vertical", "diagonal")
SIZE = 16

NETS = '''
from torch import nn


class StripeNet(nn.Module):
    """A small conv net; litexp gives it the data's input shape and its output count."""

    def __init__(self, input_shape, num_outputs, width=8):
        super().__init__()
        channels = input_shape[0]
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(width * 16, num_outputs),
        )

    def forward(self, x):
        return self.body(x)
'''

DATA = '''
from pathlib import Path

import lightning as L
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from litexp import DataSpec
from litexp.data.preprocessing import describe_preprocessing


class StripeData(L.LightningDataModule):
    """PNG files in <data_dir>/<split>/<class>/, read whole into memory."""

    def __init__(self, data_dir: str, batch_size: int = 32):
        super().__init__()
        self.root, self.batch_size = Path(data_dir), batch_size
        self.classes = sorted(p.name for p in (self.root / "train").iterdir())
        size = Image.open(next((self.root / "train").rglob("*.png"))).size[0]
        self.spec = DataSpec(
            num_classes=len(self.classes),
            input_shape=(1, size, size),
            class_names=tuple(self.classes),
            preprocessing=describe_preprocessing((1, size, size), [0.5], [0.5]),
        )

    def _split(self, split):
        xs, ys = [], []
        for label, name in enumerate(self.classes):
            for f in sorted((self.root / split / name).glob("*.png")):
                xs.append(np.asarray(Image.open(f).convert("L"), dtype=np.float32) / 255)
                ys.append(label)
        x = (torch.from_numpy(np.stack(xs))[:, None] - 0.5) / 0.5
        return TensorDataset(x, torch.tensor(ys))

    def setup(self, stage=None):
        self.sets = {s: self._split(s) for s in ("train", "val", "test")}

    def train_dataloader(self):
        return DataLoader(self.sets["train"], self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.sets["val"], self.batch_size)

    def test_dataloader(self):
        return DataLoader(self.sets["test"], self.batch_size)
'''

PLAIN = '''
import lightning as L
import torch
from torch import nn


class PlainModule(L.LightningModule):
    """A user's own LightningModule, no litexp base class."""

    def __init__(self, num_classes: int, input_shape):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(input_shape).prod()), num_classes))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/acc", (self.net(x).argmax(-1) == y).float().mean())

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test/acc", (self.net(x).argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)
'''

CONFIGS = {
    "model/stripes.yaml": """
        # my own net in litexp's Classifier
        defaults:
          - classifier
        net:
          _target_: shapes_ext.nets.StripeNet
          width: 8
        lr: 0.01
    """,
    "model/plain.yaml": "_target_: shapes_ext.plain.PlainModule\n",
    # a LightningDataModule that does not say what it holds
    "data/nospec.yaml": "_target_: lightning.pytorch.demos.boring_classes.BoringDataModule\n",
    "data/stripes.yaml": """
        _target_: shapes_ext.data.StripeData
        data_dir: ???
        batch_size: 32
    """,
}


def stripe_image(kind: str, rng: np.random.Generator) -> Image.Image:
    """A noisy 16x16 grey image with one bright stripe of the given orientation."""
    img = rng.uniform(0, 60, (SIZE, SIZE))
    k = int(rng.integers(2, SIZE - 2))
    if kind == "horizontal":
        img[k - 1 : k + 1, :] = 255
    elif kind == "vertical":
        img[:, k - 1 : k + 1] = 255
    else:
        for i in range(SIZE):
            img[i, (i + k) % SIZE] = 255
    return Image.fromarray(img.astype(np.uint8), mode="L")


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The user's project: package, config folder and image folders."""
    home = tmp_path_factory.mktemp("user")
    pkg = home / "code" / "shapes_ext"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name, text in (("nets", NETS), ("data", DATA), ("plain", PLAIN)):
        (pkg / f"{name}.py").write_text(text)
    for rel, text in CONFIGS.items():
        (home / "myconf" / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / "myconf" / rel).write_text(textwrap.dedent(text).lstrip())
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("val", 20), ("test", 20)):
        for kind in CLASSES:
            folder = home / "images" / split / kind
            folder.mkdir(parents=True)
            for i in range(n):
                stripe_image(kind, rng).save(folder / f"{i}.png")
    return {"home": home, "code": home / "code", "conf": home / "myconf", "images": home / "images"}


def run(user: dict[str, Path], *cmd: str, allow: bool = False) -> subprocess.CompletedProcess:
    """A command as the user types it, from their own directory, their package on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITEXP_")}
    env["PYTHONPATH"] = str(user["code"])
    if allow:  # the user vouches for their own package when loading its checkpoints
        env["LITEXP_ALLOWED_TARGETS"] = "shapes_ext"
    return subprocess.run(
        list(cmd), cwd=user["home"], env=env, capture_output=True, text=True, timeout=600
    )


LITEXP = str(Path(sys.executable).with_name("litexp"))


def train_args(user: dict[str, Path], *extra: str) -> list[str]:
    return [
        "-cd", str(user["conf"]), "model=stripes", "data=stripes",
        f"data.data_dir={user['images']}", "trainer=cpu", "trainer.max_epochs=8", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def trained(user: dict[str, Path]) -> Path:
    """``litexp train -cd myconf model=stripes data=stripes``: the run's directory."""
    proc = run(user, LITEXP, "train", *train_args(user, "hydra.run.dir=runs/litexp"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return user["home"] / "runs" / "litexp"


def test_own_net_and_data_train_with_the_litexp_command(trained: Path) -> None:
    result = read_metrics(trained)
    assert result["status"] == "completed"
    assert result["metrics"]["test/acc"] > 0.8  # chance is 1/3
    config = (trained / "config.yaml").read_text()
    assert "shapes_ext.nets.StripeNet" in config and "shapes_ext.data.StripeData" in config


def test_own_net_and_data_train_with_train_py(user: dict[str, Path]) -> None:
    proc = run(
        user, sys.executable, str(ROOT / "train.py"),
        *train_args(user, "trainer.max_epochs=2", "hydra.run.dir=runs/train_py"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_metrics(user["home"] / "runs" / "train_py")["status"] == "completed"


def test_eval_reproduces_the_test_metrics(user: dict[str, Path], trained: Path) -> None:
    best = read_metrics(trained)["best_checkpoint"]
    proc = run(user, LITEXP, "eval", f"ckpt_path={best}", "hydra.run.dir=runs/eval", allow=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    evaluated = read_metrics(user["home"] / "runs" / "eval")["metrics"]["test/acc"]
    assert evaluated == pytest.approx(read_metrics(trained)["metrics"]["test/acc"], abs=1e-6)


def test_eval_refuses_the_users_classes_unless_allowed(user: dict[str, Path], trained) -> None:
    best = read_metrics(trained)["best_checkpoint"]
    proc = run(user, LITEXP, "eval", f"ckpt_path={best}", "hydra.run.dir=runs/refused")
    assert proc.returncode == 2
    assert "shapes_ext" in proc.stderr and "LITEXP_ALLOWED_TARGETS" in proc.stderr


def test_predict_classifies_the_users_images(user: dict[str, Path], trained: Path) -> None:
    best = read_metrics(trained)["best_checkpoint"]
    folder = user["images"] / "test" / "vertical"
    proc = run(
        user, LITEXP, "predict", f"ckpt_path={best}", f"input={folder}",
        "hydra.run.dir=runs/predict", allow=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(user["home"] / "runs" / "predict" / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20
    top = [row["class_1"] for row in rows]
    assert sum(t == "vertical" for t in top) >= 16, top


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_own_data_works_with_litexps_models(user: dict[str, Path], model: str) -> None:
    proc = run(
        user, LITEXP, "train", *train_args(user, "trainer.max_epochs=2", f"hydra.run.dir=runs/{model}"),
        f"model={model}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = read_metrics(user["home"] / "runs" / model)
    assert result["status"] == "completed" and result["metrics"]["test/acc"] > 0.4


def test_a_plain_lightning_module_trains_and_the_test_report_steps_aside(user) -> None:
    proc = run(user, LITEXP, "train", *train_args(user, "model=plain", "hydra.run.dir=runs/plain"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = read_metrics(user["home"] / "runs" / "plain")
    assert result["status"] == "completed" and result["metrics"]["test/acc"] > 0.5
    log = (user["home"] / "runs" / "plain" / "train.log").read_text()
    assert "test report: off for PlainModule" in log


def test_a_datamodule_without_spec_is_one_line(user: dict[str, Path]) -> None:
    proc = run(
        user, LITEXP, "train", "-cd", str(user["conf"]), "data=nospec", "hydra.run.dir=runs/nospec"
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("litexp: error")]
    assert lines and "BoringDataModule has no `spec`" in lines[0], proc.stderr[-2000:]
    assert json.loads((user["home"] / "runs" / "nospec" / "metrics.json").read_text())[
        "status"
    ] == "failed"

