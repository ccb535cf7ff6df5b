"""The misclassified-images grid in TensorBoard: surest mistakes first, the real images
of a cached-feature run (its test batches hold no pixels), and the table naming them."""

from __future__ import annotations

import gzip
import html
import io
import re
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from litexp.callbacks.test_report import file_images, mistakes_figure
from litexp.train import train
from tests.conftest import SHARED_DATA, compose_config, needs_shared_data
from tests.test_tensorboard import _get, serve

HYMENOPTERA = SHARED_DATA / "hymenoptera_data"
WEIGHTS = SHARED_DATA / "pretrained" / "timm_mobilenetv2_100_coral.safetensors"


def _table(base: str, run: str) -> list[dict[str, str]]:
    """The TEXT tab's ``test/misclassified_list`` table, one dict per grid image."""
    query = urllib.parse.urlencode({"run": run, "tag": "test/misclassified_list/text_summary"})
    (entry,) = _get(f"{base}/data/plugin/text/text?{query}")
    inner = entry["text"][entry["text"].index("<thead>") :]  # TensorBoard wraps it in a table
    rows = re.findall(r"<tr>(.*?)</tr>", inner, flags=re.S)
    header, *body = (
        [html.unescape(c).strip() for c in re.findall(r"<t[hd]>(.*?)</t[hd]>", r, flags=re.S)]
        for r in rows
    )
    assert header == ["#", "image", "true", "predicted", "p"], header
    return [dict(zip(header, cells, strict=True)) for cells in body]


def _grid(base: str, run: str) -> np.ndarray:
    query = urllib.parse.urlencode({"run": run, "tag": "test/misclassified"})
    (image,) = _get(f"{base}/data/plugin/images/images?{query}")
    url = f"{base}/data/plugin/images/individualImage?{image['query']}"
    with urllib.request.urlopen(url) as resp:
        return np.asarray(Image.open(io.BytesIO(resp.read())).convert("RGB"))


def _surest_first(rows: list[dict[str, str]]) -> list[float]:
    probs = [float(r["p"]) for r in rows]
    assert probs == sorted(probs, reverse=True), f"not surest first: {probs}"
    assert all(r["true"] != r["predicted"] for r in rows), rows
    return probs


@pytest.mark.slow
@needs_shared_data("fashion_mnist")
def test_pixel_run_grid_shows_its_surest_mistakes_first(make_cfg, tmp_path: Path) -> None:
    train(
        make_cfg(
            "model=cnn",
            "data=fashion",
            f"data.data_dir={SHARED_DATA / 'fashion_mnist'}",
            "data.download=false",
            "model.channels=[8,16]",
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=20",  # half trained: many mistakes, some sure
            "+trainer.limit_val_batches=1",
            "+trainer.limit_test_batches=2",  # 2 batches of 1000: the best of both
        )
    )
    with gzip.open(SHARED_DATA / "fashion_mnist" / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]
    names += ["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    with serve(tmp_path) as base:
        (run,) = _get(f"{base}/data/runs")
        rows = _table(base, run)
        grid = _grid(base, run)
    assert len(rows) == 32, "the report's 32 images: a 20-step model makes far more mistakes"
    probs = _surest_first(rows)
    assert probs[0] > probs[-1]
    index = [int(r["image"].removeprefix("test sample ")) for r in rows]
    assert len(set(index)) == 32 and max(index) < 2000
    # Each row is the test image of that index: its label is the caption's true class.
    assert [r["true"] for r in rows] == [names[labels[i]] for i in index]
    assert grid.shape[0] > 4 * 28 and grid.shape[1] > 8 * 28, "4 rows of 8 images"


@pytest.mark.slow
@needs_shared_data("hymenoptera_data", "pretrained")
def test_cached_feature_timm_run_shows_the_real_images_of_its_mistakes(tmp_path: Path) -> None:
    cfg = compose_config(
        "train",
        [
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.data_dir={tmp_path / 'data'}",
            "trainer=cpu",
            "experiment=hymenoptera_mobilenetv2",
            f"data.data_dir={HYMENOPTERA}",
            f"model.weights={WEIGHTS}",
            "+model.pretrained_cfg_overlay.input_size=[3,128,128]",
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=2",  # 2 steps of the head: some mistakes left
        ],
    )
    summary = train(cfg)
    acc = summary["metrics"]["test/acc"]
    wrong = round((1 - acc) * 153)  # the test set is val/: 153 images
    assert wrong >= 1, f"test/acc {acc}: no mistake to show"
    with serve(tmp_path / "run") as base:
        (run,) = _get(f"{base}/data/runs")
        rows = _table(base, run)
        grid = _grid(base, run)
    assert len(rows) == min(32, wrong), (len(rows), wrong)
    probs = _surest_first(rows)
    files = [Path(r["image"]) for r in rows]  # paths: the test batches were features
    # Real files of the test set, each in its true class's folder.
    assert all(f.is_file() and f.parent.parent == HYMENOPTERA / "val" for f in files), files
    assert [f.parent.name for f in files] == [r["true"] for r in rows]
    # The grid is those photos, in that order (captions aside: p is rounded in the table).
    names = ["ants", "bees"]
    true = torch.tensor([names.index(r["true"]) for r in rows])
    pred = torch.tensor([names.index(r["predicted"]) for r in rows])
    expected = mistakes_figure(
        file_images([str(f) for f in files]), true, pred, names, torch.tensor(probs)
    )
    assert grid.shape == expected.shape
    differ = (np.abs(grid.astype(int) - expected.astype(int)).max(-1) > 8).mean()
    assert differ < 0.005, f"{differ:.2%} of the grid's pixels differ from the photos"
    if len(files) > 1:  # the comparison can fail: the photos in reverse order differ
        flipped = mistakes_figure(
            file_images([str(f) for f in files[::-1]]), true, pred, names, torch.tensor(probs)
        )
        assert (np.abs(grid.astype(int) - flipped.astype(int)).max(-1) > 8).mean() > 0.05
