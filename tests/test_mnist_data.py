"""Fashion-MNIST / MNIST datamodules: the real files, the cache, and every broken-file path."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
import torch

from litexp.config import build
from litexp.data import MNIST, FashionMNIST
from litexp.errors import ConfigError, DataError
from tests.conftest import SHARED_DATA, needs_shared_data

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(values: torch.Tensor, magic: bytes | None = None) -> bytes:
    """An IDX file of unsigned bytes holding ``values``."""
    head = magic or bytes([0, 0, 0x08, values.ndim])
    return head + struct.pack(f">{values.ndim}i", *values.shape) + values.numpy().tobytes()


def write_set(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = True) -> Path:
    """Four small synthetic IDX files in ``folder``; images of class k hold the value k."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = (torch.arange(n) % 10).to(torch.uint8)
        images = labels[:, None, None].expand(n, 28, 28).contiguous()
        for name, values in zip(FILES[split], (images, labels), strict=True):
            data = idx_bytes(values)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return folder


def loaded(dm: FashionMNIST | MNIST) -> FashionMNIST | MNIST:
    dm.prepare_data()
    dm.setup("fit")
    return dm


@needs_shared_data("fashion_mnist")
def test_fashion_real_files_give_60000_10000_balanced(tmp_path: Path) -> None:
    source = SHARED_DATA / "fashion_mnist"
    before = sorted(p.name for p in source.iterdir())
    dm = loaded(FashionMNIST(data_dir=source, cache_dir=tmp_path / "cache", download=False))
    sizes = {name: len(split) for name, split in dm.splits.items()}
    assert sizes == {"train": 55000, "val": 5000, "test": 10000}
    train_labels = torch.cat([dm.splits["train"].tensors[1], dm.splits["val"].tensors[1]])
    assert torch.bincount(train_labels.long()).tolist() == [6000] * 10
    assert torch.bincount(dm.splits["test"].tensors[1].long()).tolist() == [1000] * 10
    assert dm.splits["train"].tensors[0].dtype == torch.uint8
    assert dm.class_names[0] == "T-shirt/top" and dm.class_names[9] == "Ankle boot"
    assert sorted(p.name for p in source.iterdir()) == before, "nothing written to the source"
    cached = sorted(p.name.split("-")[0] for p in (tmp_path / "cache").rglob("*.pt"))
    assert cached == ["test", "train"]
    # The second run reads the cache: the same split, identical pixels.
    again = loaded(FashionMNIST(data_dir=source, cache_dir=tmp_path / "cache", download=False))
    assert torch.equal(again.splits["val"].tensors[0], dm.splits["val"].tensors[0])


@needs_shared_data("mnist")
def test_mnist_real_files_give_60000_10000(tmp_path: Path) -> None:
    dm = loaded(MNIST(data_dir=SHARED_DATA / "mnist", cache_dir=None, download=False, val_size=1))
    assert len(dm.splits["train"]) + len(dm.splits["val"]) == 60000
    assert len(dm.splits["test"]) == 10000
    assert dm.class_names == [str(d) for d in range(10)]


def test_batches_are_normalised_and_augmented_on_the_device(tmp_path: Path) -> None:
    dm = loaded(
        FashionMNIST(
            data_dir=write_set(tmp_path / "src"),
            val_size=10,
            random_crop_padding=4,
            horizontal_flip=True,
        )
    )
    x = torch.zeros(64, 1, 28, 28, dtype=torch.uint8)
    x[:, :, 10, 20] = 255  # one bright pixel
    out, y = dm.on_after_batch_transfer((x, torch.zeros(64, dtype=torch.uint8)), 0)
    assert out.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.allclose(out[0, 0, 0, 0], torch.tensor(-dm.mean / dm.std), atol=1e-4)
    moved = dm.augment(x)
    rows, cols = (moved[:, 0] == 255).nonzero()[:, 1:].T
    assert ((rows - 10).abs() <= 4).all() and len(rows) == 64, "crop shifts by <= padding"
    assert len(set(rows.tolist())) > 1, "offsets differ per sample"
    assert (cols > 14).any() and (cols < 14).any(), "some images are mirrored, some not"


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_offline_layouts_are_found(tmp_path: Path, gz: bool, layout: str) -> None:
    root = tmp_path / "src"
    write_set(root if layout == "flat" else root / "MNIST" / "raw", gz=gz)
    dm = loaded(MNIST(data_dir=root, download=False, val_size=10))
    assert [len(dm.splits[s]) for s in ("train", "val", "test")] == [30, 10, 20]
    assert torch.equal(dm.splits["test"].tensors[0][:, 0, 0, 0], torch.arange(20) % 10)


def test_debian_folder_is_found_on_its_own(tmp_path: Path, monkeypatch) -> None:
    assert FashionMNIST(data_dir="x").places()[-1] == Path("/usr/share/datasets/fashion-mnist")
    debian = write_set(tmp_path / "usr-share-datasets-fashion-mnist")
    monkeypatch.setattr(FashionMNIST, "system_dirs", (str(debian),))
    dm = loaded(FashionMNIST(data_dir=tmp_path / "empty", download=False, val_size=10))
    assert len(dm.splits["test"]) == 20


def test_read_only_source_is_never_written(tmp_path: Path) -> None:
    source = write_set(tmp_path / "src")
    source.chmod(0o555)
    before = {p: p.stat().st_mtime_ns for p in source.rglob("*")}
    try:
        dm = loaded(FashionMNIST(data_dir=source, cache_dir=tmp_path / "cache", val_size=10))
        assert len(dm.splits["train"]) == 30
        assert {p: p.stat().st_mtime_ns for p in source.rglob("*")} == before
        assert len(list((tmp_path / "cache").rglob("*.pt"))) == 2
    finally:
        source.chmod(0o755)


def test_missing_files_name_every_place_and_the_fix(tmp_path: Path) -> None:
    empty = tmp_path / "nowhere"
    with pytest.raises(DataError) as err:
        loaded(FashionMNIST(data_dir=empty, download=False))
    msg = str(err.value)
    for place in (
        str(empty),
        str(empty / "FashionMNIST" / "raw"),
        "/usr/share/datasets/fashion-mnist",
    ):
        assert place in msg
    assert "t10k-labels-idx1-ubyte" in msg and "data.data_dir=" in msg
    assert "data.download=true" in msg


def test_one_missing_file_is_not_a_partial_dataset(tmp_path: Path) -> None:
    source = write_set(tmp_path / "src")
    (source / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="MNIST not found"):
        loaded(MNIST(data_dir=source, download=False))


def _corrupt(folder: Path, name: str, data: bytes) -> Path:
    path = folder / f"{name}.gz"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("truncated_gzip", "truncated or corrupt gzip"),
        ("truncated_data", "is truncated"),
        ("bad_magic", "not an IDX file"),
        ("label_out_of_range", "holds label 12, outside 0..9"),
        ("count_mismatch", "do not belong together"),
    ],
)
def test_broken_files_are_errors_naming_the_file(tmp_path: Path, damage: str, words: str) -> None:
    source = write_set(tmp_path / "src")
    images, labels = FILES["train"]
    good = gzip.decompress((source / f"{images}.gz").read_bytes())
    if damage == "truncated_gzip":
        bad = _corrupt(source, images, gzip.compress(good)[:100])
    elif damage == "truncated_data":
        bad = _corrupt(source, images, gzip.compress(good[:-50]))
    elif damage == "bad_magic":
        bad = _corrupt(source, images, gzip.compress(b"\x08\x03\x00\x00" + good[4:]))
    elif damage == "label_out_of_range":
        values = (torch.arange(40) % 10).to(torch.uint8)
        values[7] = 12
        bad = _corrupt(source, labels, gzip.compress(idx_bytes(values)))
    else:
        bad = _corrupt(source, labels, gzip.compress(idx_bytes(torch.zeros(39, dtype=torch.uint8))))
    with pytest.raises(DataError) as err:
        loaded(FashionMNIST(data_dir=source, download=False, val_size=5))
    assert words in str(err.value) and str(bad.parent) in str(err.value)


def test_bad_settings_are_config_errors(tmp_path: Path, make_cfg) -> None:
    cfg = make_cfg("data=mnist", "+data.horizontal_flip=true")
    with pytest.raises(ConfigError, match=r"data\.horizontal_flip=True is invalid.*digits"):
        build(cfg.data, "data")
    cfg = make_cfg("data=fashion", "data.random_crop_padding=20")
    with pytest.raises(ConfigError, match=r"data\.random_crop_padding=20 is invalid"):
        build(cfg.data, "data")
    dm = FashionMNIST(data_dir=write_set(tmp_path / "src"), val_size=5000)
    with pytest.raises(ConfigError, match="val_size=5000 is invalid: the training file holds 40"):
        loaded(dm)
