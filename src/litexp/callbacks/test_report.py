"""What the model gets wrong, in TensorBoard: per-class accuracy, confusion matrix, mistakes.

Everything stays on the device during the test loop (metric states, and a fixed number
of candidate mistakes per batch), so there is no host sync per step; the report is
drawn once, at the end of the test.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import numpy as np
import torch
import torchmetrics
from lightning.pytorch.loggers import TensorBoardLogger

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


def confusion_figure(matrix: np.ndarray, class_names: list[str]) -> np.ndarray:
    """The confusion matrix (rows: true class, columns: predicted) as an image."""
    from matplotlib.figure import Figure

    n = len(class_names)
    size = max(4.0, 0.55 * n + 2)
    fig = Figure(figsize=(size, size), dpi=80)
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), class_names, rotation=90)
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:
        top = matrix.max() or 1
        for i in range(n):
            for j in range(n):
                color = "white" if matrix[i, j] > top / 2 else "black"
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7, color=color)
    fig.tight_layout()
    return _figure_image(fig)


def mistakes_figure(
    images: torch.Tensor, true: torch.Tensor, pred: torch.Tensor, class_names: list[str]
) -> np.ndarray:
    """A grid of images ``(N, C, H, W)``, each captioned with its true and predicted class.

    One mosaic in one Axes (32 separate subplots take seconds to lay out).
    """
    from matplotlib.figure import Figure

    n, _, h, w = images.shape
    cols = min(8, n)
    rows = -(-n // cols)
    cap, gap = h // 2, max(2, w // 14)  # caption band above each image, white gap around it
    cell_h, cell_w = h + cap + gap, w + gap
    mosaic = np.ones((rows * cell_h, cols * cell_w, 3), dtype=np.float32)
    flat = images.float().flatten(1)
    low, high = flat.min(1).values, flat.max(1).values
    scaled = (images.float() - low[:, None, None, None]) / (high - low + 1e-8)[:, None, None, None]
    rgb = scaled[:, :3].expand(n, 3, h, w) if scaled.shape[1] in (1, 3) else scaled[:, :1]
    fig = Figure(figsize=(cols * 1.3, rows * 1.3 * cell_h / cell_w), dpi=80)
    ax = fig.add_axes((0, 0, 1, 1))
    for k, (t, p) in enumerate(zip(true.tolist(), pred.tolist(), strict=True)):
        top, left = (k // cols) * cell_h + cap, (k % cols) * cell_w
        mosaic[top : top + h, left : left + w] = rgb[k].permute(1, 2, 0).numpy()
        caption = f"true: {class_names[t]}\npred: {class_names[p]}"
        ax.text(left + w / 2, top - 1, caption, ha="center", va="bottom", fontsize=7)
    ax.imshow(mosaic, interpolation="nearest")
    ax.axis("off")
    return _figure_image(fig)


class TestReport(L.Callback):
    """At the end of a test run: per-class accuracy for every logger; for TensorBoard,
    a confusion matrix image and a grid of misclassified images (when inputs are images).

    Args:
        max_images: how many misclassified test images to show.
    """

    def __init__(self, max_images: int = 32) -> None:
        positive_int("max_images", max_images, minimum=0)
        self.max_images = max_images
        self._active = False

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
        if self.max_images and x.ndim == 4 and x.shape[1] in (1, 3):
            # Wrong ones first, a fixed number per batch: no data-dependent shapes, no sync.
            wrong = pred != target
            first = torch.argsort((~wrong).to(torch.uint8), stable=True)[: self.max_images]
            self._candidates.append((x[first].detach(), target[first], pred[first], wrong[first]))

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._active:
            return
        names = list(pl_module.class_names)
        per_class = self._class_acc.compute().cpu()
        metrics = {
            f"test/class_acc/{_tag(c)}": float(a) for c, a in zip(names, per_class, strict=True)
        }
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        writers = [lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        # compute() syncs across DDP ranks: every rank calls it, only rank zero draws.
        matrix = self._confmat.compute().cpu().numpy()
        if writers and trainer.is_global_zero:
            images = {"test/confusion_matrix": confusion_figure(matrix, names)}
            if self._candidates:
                x, t, p, wrong = (
                    torch.cat(parts).cpu() for parts in zip(*self._candidates, strict=True)
                )
                keep = wrong.nonzero().squeeze(1)[: self.max_images]
                if len(keep):
                    images["test/misclassified"] = mistakes_figure(x[keep], t[keep], p[keep], names)
            for writer in writers:
                for tag, img in images.items():
                    writer.add_image(tag, img, trainer.global_step, dataformats="HWC")
                writer.flush()
        self._candidates = []
