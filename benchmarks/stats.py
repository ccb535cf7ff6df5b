"""How benchmarks summarise repeated measurements."""

from __future__ import annotations

import statistics


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of repeated measurements."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def rate(s: dict[str, float]) -> str:
    """A ``spread`` of samples/s as a table cell: ``9,759 samples/s (9,479-10,512)``."""
    return f"{s['median']:,.0f} samples/s ({s['min']:,.0f}-{s['max']:,.0f})"
