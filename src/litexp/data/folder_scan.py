"""Reading an image folder's layout: class folders (compared in Unicode NFC), their
usable image files, and a seeded train/val hold-out.

macOS writes file names decomposed (NFD: ``cafe`` + a combining accent), Linux and
Windows usually composed (NFC: ``café``); both look the same. Class names are
compared in NFC, so a ``val/café`` copied from a Mac matches ``train/café``.
"""

from __future__ import annotations

import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from litexp.errors import DataError, first_line

# torchvision's ImageFolder extensions: formats PIL decodes as still images.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` is not a usable image, or None when it decodes."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return f"not an image type ({path.suffix or 'no extension'})"
    try:
        with Image.open(path) as image:
            image.draft(None, (1, 1))  # JPEG: decode at 1/8 scale, still reads every byte
            image.load()
    except Exception as err:  # PIL raises many types for bad files
        return f"cannot be decoded ({first_line(err, 80)})"
    return None


def class_dirs(folder: Path) -> dict[str, str]:
    """``{NFC class name: the folder's name on disk}``, sorted by class name."""
    found = {
        nfc(p.name): p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
    }
    return dict(sorted(found.items()))


def image_files(folder: Path) -> list[Path]:
    """Every non-hidden file under ``folder``, in a stable (sorted) order."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
    return found


def _skeleton(name: str) -> str:
    """What a name looks like: accents, case, invisible characters and spaces dropped."""
    plain = unicodedata.normalize("NFKD", name)
    return "".join(c for c in plain if c.isalnum()).casefold()


def class_difference(split: str, names: list[str], train_names: list[str]) -> str | None:
    """None when ``names`` equal ``train_names``, else what differs, names only.

    A name that looks like one on the other side (``café`` vs ``cafe``, a trailing
    space, a Cyrillic ``а``) is shown as ``ascii()`` so the difference is visible.
    """
    extra = [n for n in names if n not in train_names]
    missing = [n for n in train_names if n not in names]
    if not extra and not missing:
        return None
    alike = {_skeleton(n) for n in extra} & {_skeleton(n) for n in missing}

    def show(items: list[str]) -> str:
        return ", ".join(ascii(n) if _skeleton(n) in alike else repr(n) for n in items)

    parts = []
    if extra:
        parts.append(f"{split}/ has {show(extra)} that train/ lacks")
    if missing:
        parts.append(f"{split}/ lacks {show(missing)} that train/ has")
    return "; ".join(parts)


def scan_split(
    root: Path,
    split_dir: Path,
    on_disk: dict[str, str],
    class_names: list[str],
    threads: int,
    skipped: list[str],
) -> list[tuple[Path, int]]:
    """``(file, class index)`` of every usable image of one split; the others are
    appended to ``skipped`` as ``"<path under root>: <reason>"``."""
    found: list[tuple[Path, int]] = []
    for label, name in enumerate(class_names):
        folder = split_dir / on_disk[name]
        files = image_files(folder)
        with ThreadPoolExecutor(max(1, threads)) as pool:
            reasons = list(pool.map(unreadable_reason, files))
        good = [f for f, why in zip(files, reasons, strict=True) if why is None]
        skipped += [
            f"{f.relative_to(root)}: {why}" for f, why in zip(files, reasons, strict=True) if why
        ]
        if not good:
            raise DataError(
                f"class folder {folder} has no usable images ({len(files)} file(s), none "
                f"a decodable {'/'.join(IMAGE_SUFFIXES)}): add images or remove the folder"
            )
        found += [(f, label) for f in good]
    return found


def hold_out(
    items: list[tuple[Path, int]],
    class_names: list[str],
    train_dir: Path,
    val_fraction: float,
    seed: int,
) -> tuple[list, list]:
    """Per class, hold out ``val_fraction`` of the images (at least one), seeded."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label, name in enumerate(class_names):
        mine = [it for it in items if it[1] == label]
        if len(mine) < 2:
            raise DataError(
                f"class folder {train_dir / name} has {len(mine)} usable "
                "image: at least 2 are needed to split it into train and val"
            )
        order = rng.permutation(len(mine))
        n_val = min(len(mine) - 1, max(1, round(len(mine) * val_fraction)))
        val += [mine[i] for i in sorted(order[:n_val])]
        train += [mine[i] for i in sorted(order[n_val:])]
    return train, val
