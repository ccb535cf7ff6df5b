"""A sweep's plots, as PNG files in its directory.

- a grid: the objective against each swept parameter (``plot_<key>.png``), one point per
  finished job;
- an Optuna study: Optuna's own matplotlib figures: the optimisation history, the parallel
  coordinates and the parameter importances (``optuna_<name>.png``).
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
UNSAFE = r"[^\w.=-]"  # characters a plot's file name does not keep


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt

    return plt


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def swept_values(rows: list[Any], objective: str) -> dict[str, list[tuple[str, float]]]:
    """``key -> [(value, objective)]`` for each override whose value differs between the
    jobs of ``rows`` (summary rows that have the objective)."""
    by_key: dict[str, dict[str, str]] = {}
    for i, row in enumerate(rows):
        for item in row.overrides.split():
            key, sep, value = item.lstrip("+~").partition("=")
            if sep:
                by_key.setdefault(key, {})[str(i)] = value
    return {
        key: [(values[str(i)], float(rows[i].metrics[objective])) for i in range(len(rows))]
        for key, values in by_key.items()
        if len(values) == len(rows) and len(set(values.values())) > 1
    }


def grid_plots(rows: list[Any], sweep_dir: Path, objective: str) -> list[Path]:
    """``plot_<key>.png``: ``objective`` against each swept parameter, for the jobs in
    ``rows`` that have it. Numbers on a numeric axis (log-scaled when they span more than
    a factor of 20), other values as categories."""
    done = [r for r in rows if r.metrics.get(objective) is not None]
    if len(done) < 2:
        return []
    plt = _pyplot()
    paths = []
    for key, points in swept_values(done, objective).items():
        fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
        numbers = [_number(v) for v, _ in points]
        if all(n is not None for n in numbers):
            pairs = sorted(zip(numbers, (y for _, y in points), strict=True))
            ax.plot([x for x, _ in pairs], [y for _, y in pairs], "o-")
            positive = [x for x, _ in pairs if x > 0]
            if len(positive) == len(pairs) and max(positive) / min(positive) > 20:
                ax.set_xscale("log")
        else:
            labels = sorted({v for v, _ in points})
            ax.plot([labels.index(v) for v, _ in points], [y for _, y in points], "o")
            ax.set_xticks(range(len(labels)), labels, rotation=20)
        ax.set_xlabel(key)
        ax.set_ylabel(objective)
        ax.set_title(f"{objective} against {key}")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = sweep_dir / f"plot_{re.sub(UNSAFE, '_', key)}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def optuna_plots(study: Any, sweep_dir: Path, objective: str) -> list[Path]:
    """Optuna's history, parallel-coordinate and importance figures, where the study has
    the trials they need (importances: at least two finished trials)."""
    import optuna.visualization.matplotlib as vis
    from optuna.exceptions import ExperimentalWarning

    plt = _pyplot()
    paths = []
    for name, plot in (
        ("history", vis.plot_optimization_history),
        ("parallel_coordinate", vis.plot_parallel_coordinate),
        ("param_importances", vis.plot_param_importances),
    ):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                ax = plot(study, target_name=objective)
        except (ValueError, RuntimeError, ZeroDivisionError) as err:
            log.info(f"no {name} plot yet: {err}")
            continue
        fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        fig.set_size_inches(7, 4.5)
        fig.tight_layout()
        path = sweep_dir / f"optuna_{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def to_tensorboard(paths: list[Path], sweep_dir: Path) -> Path | None:
    """The plots as images in TensorBoard (IMAGES tab, run ``sweep_plots`` of the sweep's
    ``--logdir``); returns the event folder, or None without plots."""
    if not paths:
        return None
    import numpy as np
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter

    folder = sweep_dir / "sweep_plots"
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for path in paths:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))  # (H, W, 3) uint8
            writer.add_image(f"sweep/{path.stem}", pixels, dataformats="HWC")
    finally:
        writer.close()  # its writer thread ends here: nothing left running
    return folder
