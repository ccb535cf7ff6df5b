"""Class names in any script on a matplotlib figure: a font that has their glyphs, or
their index (with a legend that spells them with escapes), never empty boxes."""

from __future__ import annotations

from functools import cache


@cache
def _charmap(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


def font_for(names: tuple[str, ...]) -> str | None:
    """The family of a font that draws every character of ``names``: matplotlib's default
    (DejaVu Sans) if it can, else the first installed font that can; None if none can."""
    from matplotlib import font_manager

    needed = {ord(c) for name in names for c in name if not c.isspace()}
    default = font_manager.findfont(font_manager.FontProperties())
    paths = [default] + sorted({f.fname for f in font_manager.fontManager.ttflist})
    for path in paths:
        if needed <= _charmap(path):
            return font_manager.FontProperties(fname=path).get_name()
    return None


def class_labels(names: list[str]) -> tuple[list[str], str | None, str]:
    """``(labels, family, legend)``: the names and the font drawing them; or, when no
    installed font has their glyphs, each class's index and a legend ``0: '\\u732b'``."""
    family = font_for(tuple(names))
    if family is not None:
        return list(names), family, ""
    legend = "  ".join(f"{i}: {ascii(n)}" for i, n in enumerate(names))
    return [str(i) for i in range(len(names))], None, legend
