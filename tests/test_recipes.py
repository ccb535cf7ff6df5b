"""Every recipe in conf/experiment/ trains, validates and tests through train.py, with the
default callbacks and tiny limits (as lightning-hydra-template's ``experiment=glob(*)``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import CONF, SHARED_DATA, needs_shared_data, read_metrics, run_cli

RECIPES = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
# ++: adds the key or overrides it, whether or not conf/trainer/ lists it.
SHORT = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=8",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
]
# Where each data option's real data is in the shared copy (folder: the ants and bees).
DATA_DIRS = {"fashion": "fashion_mnist", "mnist": "mnist", "folder": "hymenoptera_data"}
WEIGHTS = {"mobilenetv2_100": SHARED_DATA / "pretrained" / "timm_mobilenetv2_100_coral.safetensors"}


def recipe(name: str) -> tuple[dict, dict[str, str]]:
    """The recipe's YAML and the groups its defaults list picks (``/data: fashion`` ...)."""
    text = yaml.safe_load((CONF / "experiment" / f"{name}.yaml").read_text())
    groups = {}
    for entry in text.get("defaults", []):
        if isinstance(entry, dict):
            for key, option in entry.items():
                groups[key.removeprefix("override ").strip("/")] = option
    return text, groups


def local_overrides(name: str) -> list[str]:
    """The shared data and weights instead of a download (and for ``???`` values)."""
    text, groups = recipe(name)
    out = []
    if groups.get("data") in DATA_DIRS:
        out.append(f"data.data_dir={SHARED_DATA / DATA_DIRS[groups['data']]}")
    if groups.get("model") == "timm":
        weights = WEIGHTS.get(text["model"]["name"])
        assert weights, f"{name}: no local weights for {text['model']['name']} (no network here)"
        out.append(f"model.weights={weights}")
    return out


def recipe_param(name: str) -> object:
    """The recipe for ``parametrize``, marked with the shared data sets it reads."""
    text, groups = recipe(name)
    sets = [DATA_DIRS[groups["data"]]] if groups.get("data") in DATA_DIRS else []
    sets += ["pretrained"] if groups.get("model") == "timm" else []
    return pytest.param(name, marks=[needs_shared_data(*sets)] if sets else [])


def test_every_recipe_is_found():
    assert {"circles_mlp", "fashion_cnn", "hymenoptera_mobilenetv2", "mnist_cnn"} <= set(RECIPES)


@pytest.mark.slow
@pytest.mark.parametrize("name", [recipe_param(n) for n in RECIPES])
def test_recipe_trains_and_tests(name: str, tmp_path: Path) -> None:
    text, groups = recipe(name)
    if groups.get("trainer") in ("gpu", "ddp") and not torch.cuda.is_available():
        pytest.skip(f"{name} is a GPU recipe (trainer={groups['trainer']}); no CUDA GPU here")
    # The README's promise: a recipe's file starts with the command that runs it.
    second = (CONF / "experiment" / f"{name}.yaml").read_text().splitlines()[1]
    # (a comparison recipe's command is a sweep: python train.py -m experiment=<name>)
    assert second.startswith(
        (f"# python train.py experiment={name}", f"# python train.py -m experiment={name}")
    ), second

    done = run_cli("train.py", f"experiment={name}", *local_overrides(name), *SHORT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    task = text.get("task_name", "train")
    (run,) = (tmp_path / "logs" / task / "runs").iterdir()
    summary = read_metrics(run)
    assert summary["status"] == "completed", summary
    # What the run prints is what it saved: the summary table's test/acc is metrics.json's.
    printed = re.search(r"test/acc\W+([0-9.]+)", done.stdout)
    assert printed, done.stdout[-2000:]
    assert float(printed.group(1)) == round(summary["metrics"]["test/acc"], 4), done.stdout[-2000:]
    assert Path(summary["best_checkpoint"]).is_file()
