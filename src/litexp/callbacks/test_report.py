"""What the model gets wrong, in TensorBoard: per-class accuracy, confusion matrix, mistakes.

Everything stays on the device during the test loop (metric states, and a fixed number
of candidate mistakes per batch), so there is no host sync per step; the report is
drawn once, at the end of the test.

When the test batches are cached backbone features (no pixels), the grid shows the real
images: the datamodule's ``test_files`` name each test sample in the loader's order.
"""

from __future__ import annotations

import logging
import textwrap
from typing import Any

import lightning as L
import numpy as np
import torch
import torchmetrics
from lightning.pytorch.loggers import TensorBoardLogger

from litexp.callbacks.report_fonts import class_labels
from litexp.checks import positive_int
from litexp.models.classifier import Classifier

log = logging.getLogger(__name__)


def _tag(name: str) -> str:
    return name.replace("/", "_").replace(" ", "_")  # "T-shirt/top" would nest a tag


def _figure_image(fig: Any) -> np.ndarray:
    """(H, W, 3) uint8 pixels of a matplotlib figure (drawn without pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


CELL_INCHES, MARGIN_INCHES, MIN_INCHES, DPI = 0.6, 2.5, 4.0, 80


def confusion_inches(n: int) -> float:
    """The confusion matrix's side in inches: room for ``n`` classes, at least 4."""
    return max(MIN_INCHES, CELL_INCHES * n + MARGIN_INCHES)


def confusion_figure(matrix: np.ndarray, class_names: list[str]) -> np.ndarray:
    """The confusion matrix (rows: true class, columns: predicted) as an image: each row
    normalised by its true class's count (colour and the share), the count below it,
    the accuracy in the title; square, ``confusion_inches(n) * DPI`` pixels a side."""
    from matplotlib.figure import Figure

    n = len(class_names)
    labels, family, legend = class_labels(class_names)
    counts = matrix.astype(np.int64)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = confusion_inches(n)
    fig = Figure(figsize=(size, size), dpi=DPI)
    ax = fig.add_subplot()
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    font = {"family": family} if family else {}
    ax.set_xticks(range(n), labels, rotation=90, fontdict=font)
    ax.set_yticks(range(n), labels, fontdict=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = int(counts.sum())
    accuracy = np.trace(counts) / total if total else float("nan")
    ax.set_title(f"test accuracy {accuracy:.4g} ({total} samples); rows: share of true class")
    if legend:
        fig.text(0.01, 0.005, textwrap.fill(legend, 110), fontsize=6, va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.06 if legend else 0, 1, 1))
    if n <= 20:  # after the layout, which would measure every cell's text (half the cost)
        for i in range(n):
            for j in range(n):
                color = "white" if shares[i, j] > 0.5 else "black"
                cell = f"{shares[i, j]:.2f}\n{counts[i, j]}"
                ax.text(j, i, cell, ha="center", va="center", fontsize=7, color=color)
    return _figure_image(fig)


def mistakes_figure(
    images: torch.Tensor,
    true: torch.Tensor,
    pred: torch.Tensor,
    class_names: list[str],
    confidence: torch.Tensor | None = None,
) -> np.ndarray:
    """A grid of images ``(N, C, H, W)``, each captioned with its true and predicted class
    and the model's probability for the prediction (the order given: most confident first).

    One mosaic in one Axes (32 separate subplots take seconds to lay out).
    """
    from matplotlib.figure import Figure

    labels, family, legend = class_labels(class_names)
    n, _, h, w = images.shape
    cols = min(8, n)
    rows = -(-n // cols)
    cap, gap = h // 2 + h // 4, max(2, w // 14)  # caption band above each image, white gap
    cell_h, cell_w = h + cap + gap, w + gap
    mosaic = np.ones((rows * cell_h, cols * cell_w, 3), dtype=np.float32)
    flat = images.float().flatten(1)
    low, high = flat.min(1).values, flat.max(1).values
    scaled = (images.float() - low[:, None, None, None]) / (high - low + 1e-8)[:, None, None, None]
    rgb = scaled[:, :3].expand(n, 3, h, w) if scaled.shape[1] in (1, 3) else scaled[:, :1]
    fig = Figure(
        figsize=(cols * 1.3, rows * 1.3 * cell_h / cell_w + (0.3 if legend else 0)), dpi=DPI
    )
    ax = fig.add_axes((0, 0.06 if legend else 0, 1, 0.94 if legend else 1))
    probs = confidence.tolist() if confidence is not None else [None] * n
    for k, (t, p, c) in enumerate(zip(true.tolist(), pred.tolist(), probs, strict=True)):
        top, left = (k // cols) * cell_h + cap, (k % cols) * cell_w
        mosaic[top : top + h, left : left + w] = rgb[k].permute(1, 2, 0).numpy()
        caption = f"true: {labels[t]}\npred: {labels[p]}" + ("" if c is None else f"\np={c:.2f}")
        ax.text(
            left + w / 2,
            top - 1,
            caption,
            ha="center",
            va="bottom",
            fontsize=6,
            **({"family": family} if family else {}),
        )
    ax.imshow(mosaic, interpolation="nearest")
    ax.axis("off")
    if legend:
        fig.text(0.01, 0.005, textwrap.fill(legend, 110), fontsize=6, va="bottom")
    return _figure_image(fig)


GRID_PIXELS = 96  # a file's image in the grid: centre-cropped to a square this size


def file_images(paths: list[str], size: int = GRID_PIXELS) -> torch.Tensor:
    """The images of ``paths`` as one ``(N, 3, size, size)`` uint8 batch, each upright
    (EXIF), resized on its shorter side and centre-cropped: what a cached-feature run's
    misclassified grid shows."""
    from PIL import ImageOps

    from litexp.data.image_decode import open_image

    pictures = [np.asarray(ImageOps.fit(open_image(p, "RGB"), (size, size))) for p in paths]
    return torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2)


def mistakes_table(
    names: list[str], true: list[int], pred: list[int], confidence: list[float]
) -> str:
    """The grid's images in its order, as a markdown table (TensorBoard's TEXT tab)."""
    rows = ["| # | image | true | predicted | p |", "|---|---|---|---|---|"]
    for k, (name, t, p, c) in enumerate(zip(names, true, pred, confidence, strict=True)):
        cells = (str(v).replace("|", "\\|") for v in (name, t, p))  # "|" ends a cell
        rows.append(f"| {k + 1} | {' | '.join(cells)} | {c:.4f} |")
    return "\n".join(rows)


class TestReport(L.Callback):
    """At the end of a test run: per-class accuracy for every logger; for TensorBoard,
    a confusion matrix image and a grid of misclassified images, surest mistakes first
    (pixels from the batch, or for cached features the datamodule's ``test_files``), with
    a table naming them (TEXT tab, ``test/misclassified_list``).

    Args:
        max_images: how many misclassified test images to show.
    """

    def __init__(self, max_images: int = 32) -> None:
        positive_int("max_images", max_images, minimum=0)
        self.max_images = max_images
        self._active = False
        self.class_accuracy: dict[str, float] = {}  # after a test: per class, for the summary

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Nothing to report to (no logger, or fast_dev_run's dummy one): cost nothing.
        self._active = bool(trainer.loggers) and not trainer.fast_dev_run
        if self._active and not isinstance(pl_module, Classifier):
            # A user's own LightningModule: its test_step's outputs are its own business.
            log.info(
                f"test report: off for {type(pl_module).__name__} (not a litexp Classifier, "
                "so its test outputs carry no logits to report on)"
            )
            self._active = False
        if not self._active:
            return
        n = pl_module.num_classes
        self._confmat = torchmetrics.ConfusionMatrix(task="multiclass", num_classes=n)
        self._confmat = self._confmat.to(pl_module.device)
        self._class_acc = torchmetrics.Accuracy(task="multiclass", num_classes=n, average=None)
        self._class_acc = self._class_acc.to(pl_module.device)
        self._candidates: list[tuple[torch.Tensor, ...]] = []
        self._seen = 0  # test samples before this batch (on this rank)
        self._files = list(getattr(trainer.datamodule, "test_files", None) or [])

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not self._active or not isinstance(outputs, dict) or "logits" not in outputs:
            return
        logits, target = outputs["logits"], outputs["target"]
        pred = (logits.squeeze(-1) > 0).long() if pl_module.binary else logits.argmax(-1)
        self._confmat.update(pred, target)
        self._class_acc.update(pred, target)
        x = batch[0]
        offset, self._seen = self._seen, self._seen + len(target)  # shapes: no sync
        pixels = x.ndim == 4 and x.shape[1] in (1, 3)
        if self.max_images and (pixels or (x.ndim == 2 and self._files)):
            # The most confident mistakes first, a fixed number per batch: no
            # data-dependent shapes, no sync.
            wrong = pred != target
            confidence = pl_module.probabilities(logits).max(-1).values
            score = torch.where(wrong, confidence, torch.full_like(confidence, -1.0))
            first = torch.argsort(score, descending=True, stable=True)[: self.max_images]
            # The sample's index in the test set: a distributed (unshuffled) sampler
            # deals sample i to rank i % world_size.
            index = (first + offset) * trainer.world_size + trainer.global_rank
            shown = x[first].detach() if pixels else index
            self._candidates.append((shown, index, target[first], pred[first], score[first]))

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._active:
            return
        names = list(pl_module.class_names)
        per_class = self._class_acc.compute().cpu()
        metrics = {
            f"test/class_acc/{_tag(c)}": float(a) for c, a in zip(names, per_class, strict=True)
        }
        self.class_accuracy = {c: float(a) for c, a in zip(names, per_class, strict=True)}
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        writers = [lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        # compute() syncs across DDP ranks: every rank calls it, only rank zero draws.
        matrix = self._confmat.compute().cpu().numpy()
        if writers and trainer.is_global_zero:
            images = {"test/confusion_matrix": confusion_figure(matrix, names)}
            table = None
            if self._candidates:
                x, index, t, p, score = (
                    torch.cat(parts).cpu() for parts in zip(*self._candidates, strict=True)
                )
                order = torch.argsort(score, descending=True, stable=True)
                keep = order[score[order] >= 0][: self.max_images]  # mistakes, surest first
                if len(keep):
                    if x.ndim == 4:
                        shown, what = x[keep], [f"test sample {i}" for i in index[keep].tolist()]
                    else:  # cached features: the real images, from their files
                        what = [self._files[i % len(self._files)] for i in index[keep].tolist()]
                        shown = file_images(what)
                    images["test/misclassified"] = mistakes_figure(
                        shown, t[keep], p[keep], names, score[keep]
                    )
                    table = mistakes_table(
                        what,
                        [names[i] for i in t[keep].tolist()],
                        [names[i] for i in p[keep].tolist()],
                        score[keep].tolist(),
                    )
            for writer in writers:
                for tag, img in images.items():
                    writer.add_image(tag, img, trainer.global_step, dataformats="HWC")
                if table:
                    writer.add_text("test/misclassified_list", table, trainer.global_step)
                writer.flush()
        self._candidates = []
