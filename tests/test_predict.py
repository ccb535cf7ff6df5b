"""predict.py: the pretrained ImageNet head, a checkpoint alone, and the errors a user meets."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from litexp.errors import CheckpointError, ConfigError, DataError
from litexp.predict import predict
from litexp.train import train
from tests.conftest import SHARED_DATA, compose_config, needs_shared_data, run_cli
from tests.test_folder_data import make_dataset, make_images
from tests.test_timm_transfer import tiny_cfg

EXAMPLES = SHARED_DATA / "pretrained" / "examples"
WEIGHTS = SHARED_DATA / "pretrained" / "timm_mobilenetv2_100_coral.safetensors"


def predict_cfg(tmp_path: Path, *overrides: str):
    return compose_config("predict", [f"paths.output_dir={tmp_path / 'out'}", *overrides])


@needs_shared_data("pretrained")
def test_imagenet_head_names_the_example_photos(tmp_path: Path) -> None:
    cfg = predict_cfg(
        tmp_path,
        "model=timm",
        "model.name=mobilenetv2_100",
        f"model.weights={WEIGHTS}",
        "model.model_kwargs={pad_type:same}",
        "model.pretrained_cfg_overlay={mean:[0.5,0.5,0.5],std:[0.5,0.5,0.5]}",
        f"labels={EXAMPLES / 'imagenet_labels.txt'}",
        f"input={EXAMPLES}",
    )
    result = predict(cfg)
    top1 = {row["file"]: row["top"][0][0] for row in result["predictions"]}
    assert top1["bird.png"].startswith("chickadee")
    assert top1["cat.png"].startswith("Egyptian cat")
    assert top1["dragonfly.png"].startswith("dragonfly")
    assert top1["hot_dog.jpg"].startswith("hotdog")
    rows = list(csv.DictReader(Path(result["csv"]).read_text().splitlines()))
    assert rows[0].keys() >= {"file", "class_1", "prob_1", "class_3", "skipped"}
    assert len([r for r in rows if not r["skipped"]]) == 5  # the photos ...
    (labels,) = [r for r in rows if r["skipped"]]  # ... and the labels file beside them
    assert labels["file"] == "imagenet_labels.txt" and not labels["class_1"], labels
    probs = [float(rows[0][f"prob_{k}"]) for k in (1, 2, 3)]  # the top 3, best first
    assert 1 >= probs[0] >= probs[1] >= probs[2] > 0, probs


def test_cli_predicts_from_a_checkpoint_alone(make_cfg, tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "d", per_class=8)
    summary = train(tiny_cfg(make_cfg, data, "trainer.max_epochs=3"))
    make_images(tmp_path / "new", 2, seed=1)  # the bright class
    shutil.rmtree(data)  # the checkpoint alone: no data set, no weights file
    done = run_cli(
        "predict.py",
        f"ckpt_path={summary['best_checkpoint']}",
        f"input={tmp_path / 'new'}",
        "top_k=5",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "img000.png" in done.stdout and "class1" in done.stdout
    written = list((tmp_path / "logs" / "predict").rglob("predictions.csv"))
    assert len(written) == 1 and f"predictions: {written[0]}" in done.stdout
    rows = list(csv.DictReader(written[0].read_text().splitlines()))
    assert [r["file"] for r in rows] == ["img000.png", "img001.png"]
    assert {r["class_1"] for r in rows} | {r["class_2"] for r in rows} == {"class0", "class1"}
    assert "class_3" not in rows[0]  # top_k is capped at the number of classes


def test_a_checkpoint_of_points_is_refused(make_cfg, tmp_path: Path) -> None:
    summary = train(make_cfg("data=circles", "trainer.max_epochs=1", "logger=none"))
    make_images(tmp_path / "new", 1)
    with pytest.raises(CheckpointError, match=r"trained on data that are not images"):
        predict(
            predict_cfg(
                tmp_path, f"ckpt_path={summary['best_checkpoint']}", f"input={tmp_path / 'new'}"
            )
        )


def test_input_and_labels_errors_say_what_to_give(tmp_path: Path, caplog) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("no images here")
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    tiny = ["model=timm", "model.name=test_efficientnet", "model.pretrained=false"]
    with pytest.raises(DataError, match=r"input=.*docs holds no usable image"):
        predict(predict_cfg(tmp_path, *tiny, f"input={tmp_path / 'docs'}"))
    assert "readme.txt: not an image type" in caplog.text
    make_images(tmp_path / "one", 1)
    with pytest.raises(ConfigError, match=r"labels=.* has 3 names, the model has 1000 outputs"):
        predict(
            predict_cfg(
                tmp_path, *tiny, f"labels={tmp_path / 'labels.txt'}", f"input={tmp_path / 'one'}"
            )
        )
    with pytest.raises(ConfigError, match=r"give ckpt_path=<a litexp .ckpt>, or model=timm"):
        predict(predict_cfg(tmp_path, f"input={tmp_path / 'one'}"))


@pytest.mark.slow
@needs_shared_data("fashion_mnist")
def test_fashion_cnn_checkpoint_classifies_image_files(make_cfg, tmp_path: Path) -> None:
    from PIL import Image

    from litexp.data.idx import read_idx
    from litexp.data.mnist import FashionMNIST

    summary = train(
        make_cfg(
            "experiment=fashion_cnn",
            f"data.data_dir={SHARED_DATA / 'fashion_mnist'}",
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=150",
            "logger=none",
        )
    )
    # Twenty official test images, written as ordinary PNG files (RGB, as a user has them).
    images = read_idx(SHARED_DATA / "fashion_mnist" / "t10k-images-idx3-ubyte.gz", 3)[:20]
    labels = read_idx(SHARED_DATA / "fashion_mnist" / "t10k-labels-idx1-ubyte.gz", 1)[:20]
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image.numpy()).convert("RGB").save(folder / f"{i:02d}.png")
    result = predict(
        predict_cfg(tmp_path, f"ckpt_path={summary['best_checkpoint']}", f"input={folder}")
    )
    names = [row["top"][0][0] for row in sorted(result["predictions"], key=lambda r: r["file"])]
    truth = [FashionMNIST.class_names[int(y)] for y in labels]
    correct = sum(a == b for a, b in zip(names, truth, strict=True))
    assert correct >= 14, (names, truth)  # the short run is ~85% accurate; chance is 10%
