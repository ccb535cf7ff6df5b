"""Images decoded right: 16/32-bit and float data, EXIF orientation, transparency, CMYK,
Unicode (NFD) class names and paths, skipped files listed by predict."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import unicodedata
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from litexp.data.folder import FolderData
from litexp.data.image_decode import open_image
from litexp.errors import DataError
from litexp.predict import predict
from litexp.train import train
from tests.conftest import ROOT, SHARED_DATA, compose_config, needs_shared_data
from tests.test_folder_data import make_dataset

GRADIENT = np.linspace(0.0, 1.0, 64 * 64).reshape(64, 64)  # mean 0.5: grey, not white


def _grey(path: Path) -> np.ndarray:
    return np.asarray(open_image(path, "L"), dtype=np.float64)


def test_wide_images_are_scaled_to_8_bits_not_clipped(tmp_path: Path) -> None:
    Image.fromarray((GRADIENT * 65535).astype(np.uint16)).save(tmp_path / "g16.png")
    Image.fromarray((GRADIENT * (2**31 - 1)).astype(np.int32), "I").save(tmp_path / "g32.tif")
    Image.fromarray(GRADIENT.astype(np.float32), "F").save(tmp_path / "f01.tif")
    Image.fromarray((GRADIENT * 1000 - 200).astype(np.float32), "F").save(tmp_path / "fwide.tif")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I;16")  # really 16-bit on disk
    for name in ("g16.png", "g32.tif", "f01.tif", "fwide.tif"):
        pixels = _grey(tmp_path / name)
        assert abs(pixels.mean() - 127.5) < 2, (name, pixels.mean())  # PIL clipping: ~255
        assert (pixels == 255).mean() < 0.01, name
        assert pixels.min() == 0 and pixels.max() == 255, name
    # The same file as RGB (what a pretrained model gets): three equal grey channels.
    rgb = np.asarray(open_image(tmp_path / "g16.png", "RGB"), dtype=np.float64)
    assert rgb.shape == (64, 64, 3) and abs(rgb.mean() - 127.5) < 2


def test_transparency_is_white_and_cmyk_is_rgb(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 200  # red where opaque
    rgba[:4, :, 3] = 255  # top half opaque, bottom half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = np.asarray(open_image(tmp_path / "a.png", "RGB"))
    assert out[:4].tolist() == [[[200, 0, 0]] * 8] * 4  # opaque: its colour
    assert (out[4:] == 255).all()  # transparent: white, not black
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # pure red in CMYK
    red = np.asarray(open_image(tmp_path / "c.jpg", "RGB"), dtype=int).mean(axis=(0, 1))
    assert red[0] > 200 and red[1] < 60 and red[2] < 60, red


def _exif_rotated(path: Path) -> None:
    """Stored landscape 40x20 (left half black, right half white), tagged Orientation=6:
    a viewer turns it 90 degrees clockwise, so upright it is portrait, black on top."""
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, 20:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(path, exif=exif)


@pytest.mark.parametrize("size", [[40, 20], [160, 80]], ids=["in-memory", "streamed"])
def test_exif_orientation_is_applied_in_training_and_eval(tmp_path: Path, size) -> None:
    root = make_dataset(tmp_path / "d", per_class=2)
    for split in ("train", "val"):
        _exif_rotated(root / split / "class0" / "rotated.jpg")
    data = FolderData(data_dir=root, image_size=size, num_workers=0)
    data.setup("fit")
    assert data.in_memory == (max(size) <= 128)
    for split in ("train", "val"):  # unshuffled, in the order of data.samples
        x = next(iter(data.image_loader(split)))[0]  # uint8 (B, 3, H, W)
        files = [Path(p).name for p, _ in data.samples[split]]
        image = x[files.index("rotated.jpg")].float().mean(0)  # (H, W)
        h = image.shape[0]
        assert tuple(image.shape) == tuple(size)  # portrait, as a viewer shows it
        assert image[: h // 2 - 2].mean() < 30 and image[h // 2 + 2 :].mean() > 225


def test_nfd_class_folder_matches_nfc_and_differences_show_only_the_names(
    tmp_path: Path,
) -> None:
    composed, decomposed = "café", unicodedata.normalize("NFD", "café")
    assert composed != decomposed
    root = tmp_path / "d"
    make_dataset(root, per_class=2, splits=("train",))
    make_dataset(root, per_class=2, splits=("val",))
    for split, name in (("train", composed), ("val", decomposed)):  # val/ written by a Mac
        os.rename(root / split / "class1", root / split / name)
    data = FolderData(data_dir=root, image_size=16, num_workers=0)
    data.setup("fit")
    assert data.class_names == ["café", "class0"]
    assert sorted({label for _, label in data.samples["val"]}) == [0, 1]
    # Names that look alike but differ (an accent): shown with ascii(), only those.
    os.rename(root / "val" / decomposed, root / "val" / "cafe")
    with pytest.raises(DataError) as err:
        FolderData(data_dir=root, image_size=16)
    message = str(err.value)
    assert "val/ has 'cafe' that train/ lacks; val/ lacks 'caf\\xe9' that train/ has" in message
    assert "class0" not in message and "\n" not in message


def _brightness_folder(root: Path, n: int, seed: int) -> None:
    """16-bit grey PNGs: class dark at ~15% of the range, class bright at ~60%."""
    rng = np.random.default_rng(seed)
    for name, level in (("dark", 0.15), ("bright", 0.6)):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = np.clip(level + rng.normal(0, 0.05, (24, 24)), 0, 1) * 65535
            Image.fromarray(pixels.astype(np.uint16)).save(root / name / f"{i}.png")


def test_16_bit_photos_train_and_predict_by_their_real_brightness(
    make_cfg, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Clipped to 8 bits both classes were all white: a model could not tell them apart."""
    _brightness_folder(tmp_path / "d" / "train", 12, seed=0)
    _brightness_folder(tmp_path / "d" / "val", 4, seed=1)
    run = train(
        make_cfg(
            "model=cnn",
            "data=folder",
            f"data.data_dir={tmp_path / 'd'}",
            "data.image_size=16",
            "data.grayscale=true",
            "data.batch_size=8",
            "trainer.max_epochs=4",
        )
    )
    assert run["metrics"]["val/acc"] == 1.0
    _brightness_folder(tmp_path / "new", 3, seed=2)
    (tmp_path / "new" / "notes.txt").write_text("not an image")
    (tmp_path / "new" / "bright" / "broken.png").write_bytes(b"\x89PNG truncated")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = predict(
            compose_config(
                "predict",
                [
                    f"ckpt_path={run['best_checkpoint']}",
                    f"input={tmp_path / 'new'}",
                    f"paths.output_dir={tmp_path / 'p'}",
                ],
            )
        )
    # Said in one log line (no warnings.warn: no source line printed under it).
    assert "skipped 2 file(s) that are not usable images" in caplog.text
    assert not [w for w in caught if "usable images" in str(w.message)]
    best = {row["file"]: row["top"][0][0] for row in out["predictions"]}
    assert best == {f"{c}/{i}.png": c for c in ("dark", "bright") for i in range(3)}
    # The skipped files are rows of predictions.csv too, each with its reason.
    rows = {r["file"]: r for r in csv.DictReader(Path(out["csv"]).read_text().splitlines())}
    assert rows["notes.txt"]["skipped"] == "not an image type (.txt)"
    assert rows["bright/broken.png"]["skipped"].startswith("cannot be decoded")
    assert rows["notes.txt"]["class_1"] == "" and rows["dark/0.png"]["skipped"] == ""


@needs_shared_data("hymenoptera_data")
def test_unicode_paths_on_the_command_line(tmp_path: Path) -> None:
    """The exact lines a user types: no LexerNoViableAltException."""
    data = tmp_path / "données"
    for split, n in (("train", 4), ("val", 2)):
        for kind in ("ants", "bees"):
            (data / split / kind).mkdir(parents=True)
            for src in sorted((SHARED_DATA / "hymenoptera_data" / split / kind).glob("*.jpg"))[:n]:
                (data / split / kind / src.name).symlink_to(src)
    photos = tmp_path / "photos" / "café"
    photos.mkdir(parents=True)
    (photos / "b3.jpg").symlink_to(next((data / "val" / "bees").iterdir()))
    env = {**os.environ, "LITEXP_LOG_DIR": str(tmp_path / "logs")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    trained = run(
        str(ROOT / "train.py"),
        "model=cnn",
        "data=folder",
        "data.data_dir=./données",
        "data.image_size=32",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=1",
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "Lexer" not in trained.stderr
    ckpt = next((tmp_path / "logs").rglob("checkpoints/epoch*.ckpt"))
    predicted = run(str(ROOT / "predict.py"), f"ckpt_path={ckpt}", "input=photos/café/b3.jpg")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert "b3.jpg" in predicted.stdout and "Lexer" not in predicted.stderr
