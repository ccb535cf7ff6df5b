"""Reading and checking IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a header (two zero bytes, a type byte, the number of dimensions, then
each dimension as a big-endian int32) followed by the values. Only unsigned bytes
(type 0x08) occur in these data sets. Gzipped files are read as they are.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import torch

from litexp.errors import DataError

_UBYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if it is gzipped (judged by content, not name)."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:
        raise DataError(
            f"{path} is a truncated or corrupt gzip file ({err}): download it again or "
            "replace it with the official file"
        ) from None


def read_idx(path: str | Path, ndim: int) -> torch.Tensor:
    """An IDX file of unsigned bytes as a uint8 tensor of ``ndim`` dimensions.

    Raises:
        DataError: naming the file, when the magic number, the number of dimensions
            or the length of the data does not match the header.
    """
    path = Path(path)
    data = _read_bytes(path)
    fix = "download it again or replace it with the official file"
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path} is not an IDX file (bad magic number {data[:4].hex()}): {fix}")
    if data[2] != _UBYTE or data[3] != ndim:
        raise DataError(
            f"{path} holds IDX type 0x{data[2]:02x} with {data[3]} dimensions, expected "
            f"unsigned bytes (0x08) with {ndim}: is it the right file? {fix}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated inside its header: {fix}")
    dims = struct.unpack(f">{ndim}i", data[4:header])
    expected = math.prod(dims)
    found = len(data) - header
    if found != expected:
        what = "truncated" if found < expected else "longer than its header says"
        raise DataError(
            f"{path} is {what}: header says {'x'.join(map(str, dims))} = {expected} values, "
            f"file holds {found}: {fix}"
        )
    return torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=header).reshape(dims)


def read_pair(
    images_path: str | Path, labels_path: str | Path, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(N, H, W)`` uint8 and labels ``(N,)`` uint8, checked against each other.

    Raises:
        DataError: a bad file, counts that differ, or a label outside ``[0, num_classes)``.
    """
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels: the two files do not belong together"
        )
    top = int(labels.max()) if len(labels) else 0
    if top >= num_classes:
        raise DataError(
            f"{labels_path} holds label {top}, outside 0..{num_classes - 1}: the file is "
            "corrupt or from another data set"
        )
    return images, labels
