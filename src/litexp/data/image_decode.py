"""One image file -> a PIL image in the mode a model wants, decoded the same everywhere.

Training, evaluation and ``predict.py`` all open files through :func:`open_image`:

* EXIF orientation is applied (``ImageOps.exif_transpose``): a phone photo stored
  landscape with ``Orientation=6`` is seen upright, as every viewer shows it.
* 16-bit (``I;16*``), 32-bit integer (``I``) and float (``F``) images are scaled to
  8 bits by their type's range, not clipped (PIL's ``convert("L")`` clips, and a
  16-bit PNG became 99.96% white): 16-bit data by 65535; 32-bit integers by 65535
  when every value fits in 16 bits (PIL decodes some 16-bit files as ``I``), else by
  2**31 - 1 (negative values clipped to 0); floats in [0, 1] by 1, other floats
  min-max to [0, 255].
* Transparency (RGBA, LA, palette with transparency) is composited on white, CMYK
  and other colour spaces are converted to RGB, then to grey if the model is grey.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def to_8bit(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit integer or float single-channel image scaled to 8-bit grey ``L``."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        low, high = (0.0, 1.0) if values.size == 0 else (float(values.min()), float(values.max()))
        if low >= 0.0 and high <= 1.0:
            low, high = 0.0, 1.0
    elif image.mode == "I" and values.size and (values.min() < 0 or values.max() > 65535):
        low, high = 0.0, float(2**31 - 1)  # PIL's "I" is signed 32-bit
    else:  # 16-bit data, whatever PIL calls its mode
        low, high = 0.0, 65535.0
    scaled = (np.clip(values, low, high) - low) * (255.0 / max(high - low, 1e-12))
    return Image.fromarray(np.rint(scaled).astype(np.uint8), "L")


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """RGBA/LA/transparent palette -> RGB on a white background."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def open_image(path: str | Path, mode: str) -> Image.Image:
    """Decode ``path`` upright and convert it to ``mode`` (``"RGB"`` or ``"L"``)."""
    with Image.open(path) as image:
        image.load()
        upright = ImageOps.exif_transpose(image)
    if upright.mode in _WIDE_MODES:
        upright = to_8bit(upright)
    elif upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    ):
        upright = _flatten_alpha(upright)
    elif upright.mode not in ("RGB", "L"):  # CMYK, YCbCr, LAB, HSV, P, 1
        upright = upright.convert("RGB")
    return upright if upright.mode == mode else upright.convert(mode)
