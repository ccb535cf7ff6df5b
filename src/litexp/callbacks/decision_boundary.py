"""The decision boundary of a model on 2-D data, as a TensorBoard image.

The plane around the validation points is coloured by the model's class probabilities
(the colours of the classes, mixed by probability, pale where it is unsure), and the
points are drawn on top in their true class's colour. Logged every few epochs and at
the end of training, so TensorBoard's step slider shows the boundary forming. Any data
whose samples are not 2-D is left alone.
"""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from litexp.checks import positive_int

# tab10: one colour per class (RGB in [0, 1]); more classes reuse them.
PALETTE = torch.tensor(
    [
        [0.12, 0.47, 0.71], [1.00, 0.50, 0.05], [0.17, 0.63, 0.17], [0.84, 0.15, 0.16],
        [0.58, 0.40, 0.74], [0.55, 0.34, 0.29], [0.89, 0.47, 0.76], [0.50, 0.50, 0.50],
        [0.74, 0.74, 0.13], [0.09, 0.75, 0.81],
    ]
)  # fmt: skip
TAG = "decision_boundary"


def render(
    probabilities: torch.Tensor, points: torch.Tensor, labels: torch.Tensor, bounds: torch.Tensor
) -> torch.Tensor:
    """A (3, H, W) image in [0, 1].

    Args:
        probabilities: (H, W, C) class probabilities over the grid, row 0 the top (max y).
        points: (N, 2) points to draw; labels: (N,) their classes.
        bounds: ``[[x_min, y_min], [x_max, y_max]]`` of the grid.
    """
    h, w, c = probabilities.shape
    colours = PALETTE[torch.arange(c) % len(PALETTE)]  # (C, 3)
    mixed = probabilities @ colours  # (H, W, 3)
    image = 0.45 + 0.55 * mixed  # pale: the points stand out
    span = bounds[1] - bounds[0]
    cols = ((points[:, 0] - bounds[0, 0]) / span[0] * (w - 1)).round().long().clamp(0, w - 1)
    rows = ((bounds[1, 1] - points[:, 1]) / span[1] * (h - 1)).round().long().clamp(0, h - 1)
    for radius, colour in ((2, None), (1, colours[labels % c])):  # a dark rim, then the class
        for dr in range(-radius, radius + 1):
            for dc in range(-radius, radius + 1):
                r, q = (rows + dr).clamp(0, h - 1), (cols + dc).clamp(0, w - 1)
                image[r, q] = 0.1 if colour is None else colour
    return image.permute(2, 0, 1).clamp(0, 1)  # (3, H, W)


class DecisionBoundary(L.Callback):
    """Log the decision boundary image every ``every_n_epochs`` epochs and at the end.

    Args:
        every_n_epochs: log after every N-th validation epoch (0: only at the end).
        resolution: the image's width and height in pixels.
        max_points: validation points drawn at most.
    """

    def __init__(
        self, every_n_epochs: int = 5, resolution: int = 160, max_points: int = 500
    ) -> None:
        positive_int("every_n_epochs", every_n_epochs, minimum=0)
        positive_int("resolution", resolution, minimum=16)
        positive_int("max_points", max_points)
        self.every_n_epochs = every_n_epochs
        self.resolution = resolution
        self.max_points = max_points
        self.logged_step = -1  # the step last drawn: the end does not draw it twice

    @staticmethod
    def _writers(trainer: L.Trainer) -> list:
        return [lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]

    @staticmethod
    def _is_2d(trainer: L.Trainer) -> bool:
        spec = getattr(trainer.datamodule, "spec", None)
        return spec is not None and tuple(spec.input_shape or ()) == (2,)

    def _points(self, trainer: L.Trainer) -> tuple[torch.Tensor, torch.Tensor] | None:
        loaders = trainer.val_dataloaders
        loader = loaders[0] if isinstance(loaders, (list, tuple)) else loaders
        if loader is None:
            return None
        xs, ys, n = [], [], 0
        for x, y in loader:
            xs.append(x.cpu().float())
            ys.append(y.cpu().long())
            n += len(x)
            if n >= self.max_points:
                break
        return torch.cat(xs)[: self.max_points], torch.cat(ys)[: self.max_points]

    @torch.no_grad()
    def log_image(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Render the current boundary and write it to every TensorBoard logger."""
        writers = self._writers(trainer)
        if not writers or not trainer.is_global_zero or not self._is_2d(trainer):
            return
        if trainer.global_step == self.logged_step:
            return
        self.logged_step = trainer.global_step
        found = self._points(trainer)
        if found is None:
            return
        points, labels = found
        low, high = points.min(0).values - 0.5, points.max(0).values + 0.5
        n = self.resolution
        xs = torch.linspace(float(low[0]), float(high[0]), n)
        ys = torch.linspace(float(high[1]), float(low[1]), n)  # row 0 at the top
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)  # (n, n, 2): x, y
        was_training = pl_module.training
        pl_module.eval()
        logits = pl_module(grid.reshape(-1, 2).to(pl_module.device))
        pl_module.train(was_training)
        if hasattr(pl_module, "probabilities"):  # litexp's Classifier: binary or not
            probs = pl_module.probabilities(logits)
        else:
            probs = torch.softmax(logits.float(), dim=-1)
        image = render(
            probs.float().cpu().reshape(n, n, -1), points, labels, torch.stack([low, high])
        )
        for writer in writers:
            writer.add_image(TAG, image, global_step=trainer.global_step)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not self.every_n_epochs:
            return
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.log_image(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.log_image(trainer, pl_module)
