"""Compute a frozen backbone's features once; the head then trains on them.

With the backbone frozen (and in eval mode) and no training augmentation, every
epoch would feed the same images through the same function: the features are
computed once at the start of fit, for the train and val sets, and the datamodule
serves them instead of images. ``TransferNet`` sends ``(B, F)`` features straight
to its head, so loss, metrics, checkpoints and the saved model are unchanged: a
checkpoint still holds the whole net and classifies images.

A test batch of cached features holds no pixels, so a report cannot draw it: the
datamodule keeps the files instead. ``datamodule.test_files[i]`` is the path of
test sample ``i``, in the order of the (unshuffled) test loader, so sample ``j`` of
test batch ``b`` is ``test_files[b * eval_batch_size + j]``; a report opens those
files (``litexp.data.image_decode.open_image``) for its misclassified-images grid.
"""

from __future__ import annotations

import logging
import time

import lightning as L
import torch

from litexp.data.tensors import TensorSplit

log = logging.getLogger(__name__)


class FeatureCache(L.Callback):
    """Precompute backbone features for ``datamodule.use_features`` at fit start.

    The datamodule must offer ``cache_blocker()``, ``image_loader(split)`` and
    ``use_features(dict)`` (``litexp.data.folder.FolderData`` does); the module's
    ``net.backbone`` maps images to ``(B, F)``. Otherwise caching is off, with the
    reason in the log. The real images stay reachable as ``datamodule.test_files``.
    """

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        reason = self._blocker(trainer, pl_module)
        if reason:
            log.info(f"feature caching off: {reason}")
            if hasattr(datamodule, "use_features"):
                datamodule.use_features({})
            return
        start = time.perf_counter()
        backbone = pl_module.net.backbone
        was_training = backbone.training
        backbone.eval()
        features = {split: self._encode(trainer, backbone, split) for split in ("train", "val")}
        backbone.train(was_training)
        datamodule.use_features(features)
        sizes = " / ".join(f"{len(v)} {k}" for k, v in features.items())
        log.info(
            f"feature caching on: the frozen backbone's features of {sizes} images were "
            f"computed once ({time.perf_counter() - start:.1f} s); the head trains on them "
            "(model.cache_features=false to recompute every epoch)"
        )

    @staticmethod
    def _blocker(trainer: L.Trainer, pl_module: L.LightningModule) -> str | None:
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "use_features"):
            return f"{type(datamodule).__name__} serves no cached features (only data=folder does)"
        if trainer.fast_dev_run:
            return "fast_dev_run reads one batch only"
        if any(p.requires_grad for p in pl_module.net.backbone.parameters()):
            return "the backbone trains"
        return datamodule.cache_blocker()

    @staticmethod
    @torch.no_grad()
    def _encode(trainer: L.Trainer, backbone: torch.nn.Module, split: str) -> TensorSplit:
        feats, labels = [], []
        datamodule = trainer.datamodule
        for batch in datamodule.image_loader(split):
            # The same path as a training batch: to the device, then normalised there.
            images, targets = datamodule.on_after_batch_transfer(
                trainer.strategy.batch_to_device(batch), 0
            )
            with trainer.precision_plugin.forward_context():
                feats.append(backbone(images).float().cpu())  # (B, F)
            labels.append(targets.cpu())
        return TensorSplit(torch.cat(feats), torch.cat(labels))
