"""data=folder: layouts, seeded split, bad files found at setup, grey/RGB as the model wants."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from litexp.data.folder import FolderData
from litexp.data.preprocessing import describe_preprocessing
from litexp.errors import DataError
from tests.conftest import SHARED_DATA, needs_shared_data

RGB_32 = describe_preprocessing((3, 32, 32), mean=[0.5] * 3, std=[0.25] * 3)


def make_images(folder: Path, n: int, *, mode: str = "RGB", size: int = 40, seed: int = 0) -> None:
    """``n`` small PNGs in ``folder``; class-dependent brightness so a model can learn it."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    for i in range(n):
        pixels = rng.integers(0, 100, shape) + (120 if seed % 2 else 0)
        Image.fromarray(pixels.astype(np.uint8), mode).save(folder / f"img{i:03d}.png")


def make_dataset(root: Path, classes: int = 2, per_class: int = 6, splits=("train", "val")) -> Path:
    for split in splits:
        for c in range(classes):
            make_images(root / split / f"class{c}", per_class, seed=c)
    return root


def ready(root: Path, prep: dict = RGB_32, **kwargs) -> FolderData:
    data = FolderData(data_dir=root, num_workers=0, **kwargs)
    data.set_preprocessing(prep)
    data.setup("fit")
    return data


def test_bad_files_are_skipped_and_listed_in_one_warning(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "d")
    (root / "train" / "class0" / "notes.txt").write_text("not an image")
    (root / "train" / "class1" / "empty.jpg").write_bytes(b"")
    (root / "val" / "class1" / "truncated.png").write_bytes(
        (root / "val" / "class1" / "img000.png").read_bytes()[:60]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = ready(root)
    ours = [w for w in caught if "not usable images" in str(w.message)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    message = str(ours[0].message)
    assert "skipped 3 file(s)" in message
    assert "train/class0/notes.txt: not an image type (.txt)" in message
    assert "train/class1/empty.jpg: cannot be decoded" in message
    assert "val/class1/truncated.png: cannot be decoded" in message
    assert len(data.samples["train"]) == 12 and len(data.samples["val"]) == 12
    x, y = data.on_after_batch_transfer(next(iter(data.train_dataloader())), 0)
    assert x.shape[1:] == (3, 32, 32) and x.dtype.is_floating_point


def test_empty_class_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "d")
    (root / "train" / "class2").mkdir()
    (root / "val" / "class2").mkdir()
    with pytest.raises(DataError, match=r"class folder .*train/class2 has no usable images"):
        ready(root)


def test_class_folder_with_only_broken_files_is_an_error(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "d", splits=("all",))
    for f in (root / "all" / "class1").iterdir():
        f.write_bytes(b"")
    with pytest.raises(DataError, match=r"all/class1 has no usable images \(6 file"):
        ready(root / "all")


def test_single_class_is_an_error_naming_the_folder(tmp_path: Path) -> None:
    make_images(tmp_path / "d" / "only", 4)
    with pytest.raises(DataError, match=r"d holds 1 class folder\(s\) \['only'\].*at least 2"):
        FolderData(data_dir=tmp_path / "d")


def test_val_classes_must_match_train(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "d")
    make_images(root / "val" / "extra", 2)
    with pytest.raises(DataError) as err:
        FolderData(data_dir=root)
    # Only the differing name, not both whole lists.
    assert str(err.value).endswith(
        "class folders differ: val/ has 'extra' that train/ lacks; make them the same"
    )
    assert "class0" not in str(err.value)


def test_one_folder_is_split_by_seed_and_test_is_val(tmp_path: Path, caplog) -> None:
    root = make_dataset(tmp_path / "d", per_class=10, splits=("all",)) / "all"
    with caplog.at_level(logging.INFO, logger="litexp.data.folder"):
        a = ready(root, val_fraction=0.2, seed=1)
    assert "the test set is the validation set" in caplog.text
    b, c = ready(root, val_fraction=0.2, seed=1), ready(root, val_fraction=0.2, seed=2)
    assert [len(a.samples[s]) for s in ("train", "val")] == [16, 4]
    assert sorted(lab for _, lab in a.samples["val"]) == [0, 0, 1, 1]  # per class
    assert a.samples == b.samples and a.samples["val"] != c.samples["val"]
    assert not set(a.samples["val"]) & set(a.samples["train"])
    assert a.test_dataloader().dataset.samples == a.samples["val"]


def test_grey_images_become_rgb_and_rgb_become_grey(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for c in range(2):
        make_images(root / "train" / f"c{c}", 3, mode="L", seed=c)
        make_images(root / "val" / f"c{c}", 3, mode="RGB", seed=c)
    rgb = ready(root)
    assert next(iter(rgb.train_dataloader()))[0].shape[1:] == (3, 32, 32)
    grey = ready(root, prep=describe_preprocessing((1, 24, 24), mean=[0.5], std=[0.5]))
    assert next(iter(grey.val_dataloader()))[0].shape[1:] == (1, 24, 24)
    assert grey.spec.input_shape == (1, 24, 24)


@needs_shared_data("hymenoptera_data")
def test_hymenoptera_gif_skipped_and_space_in_name_kept() -> None:
    root = SHARED_DATA / "hymenoptera_data"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = ready(root, prep=RGB_32)
    message = "\n".join(str(w.message) for w in caught if "not usable images" in str(w.message))
    assert "skipped 1 file(s)" in message and "train/ants/imageNotFound.gif" in message
    assert len(data.samples["train"]) == 244 and len(data.samples["val"]) == 153
    spaced = [p for p, _ in data.samples["train"] if Path(p).name == "ant photos.jpg"]
    assert spaced, "the file with a space in its name is used"
    image, label = data.image_loader("train").dataset[data.samples["train"].index((spaced[0], 0))]
    assert image.shape == (3, 32, 32) and label == 0


@pytest.mark.parametrize("augment", ["trivialaugment", "timm"])
def test_training_augmentation_is_a_setting_and_blocks_feature_caching(
    tmp_path: Path, augment: str
) -> None:
    root = make_dataset(tmp_path / "d")
    plain, augmented = ready(root), ready(root, augment=augment)
    assert plain.cache_blocker() is None
    assert augment in augmented.cache_blocker()
    x, _ = next(iter(augmented.train_dataloader()))
    assert x.shape[1:] == (3, 32, 32) and x.dtype == torch.uint8
    # Validation images are never augmented.
    assert torch.equal(
        next(iter(augmented.val_dataloader()))[0], next(iter(plain.val_dataloader()))[0]
    )


def test_small_images_are_decoded_once_cached_and_redone_when_a_file_changes(
    tmp_path: Path, caplog
) -> None:
    root = make_dataset(tmp_path / "d", per_class=3)

    def load() -> FolderData:
        data = FolderData(data_dir=root, image_size=16, cache_dir=tmp_path / "cache", num_workers=0)
        data.setup("fit")
        return data

    with caplog.at_level(logging.INFO, logger="litexp.data.image_cache"):
        first = load()
    assert first.in_memory and "decoded 6 train images once to (3, 16, 16)" in caplog.text
    x, y = next(iter(first.val_dataloader()))
    assert x.dtype == torch.uint8 and x.shape == (6, 3, 16, 16)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="litexp.data.image_cache"):
        again = load()
    assert "decoded" not in caplog.text  # read from the cache
    assert torch.equal(next(iter(again.val_dataloader()))[0], x)
    changed = root / "val" / "class0" / "img000.png"
    Image.new("RGB", (40, 40), (255, 255, 255)).save(changed)  # now all white
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="litexp.data.image_cache"):
        fresh = load()
    assert "decoded 6 val images once" in caplog.text and "train images" not in caplog.text
    files = [Path(p).name for p in fresh.test_files]
    assert (next(iter(fresh.val_dataloader()))[0][files.index("img000.png")] == 255).all()


def test_test_files_name_each_test_sample_in_loader_order(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "d", per_class=5, splits=("train", "val", "test"))
    data = FolderData(data_dir=root, image_size=16, num_workers=0, eval_batch_size=4)
    data.setup("test")
    labels = torch.cat([y for _, y in data.test_dataloader()])
    assert len(data.test_files) == len(labels) == 10
    for path, label in zip(data.test_files, labels.tolist(), strict=True):
        assert Path(path).parent.name == data.class_names[label]
        assert Path(path).parts[-3] == "test"
