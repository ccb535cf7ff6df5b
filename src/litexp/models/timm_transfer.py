"""TimmTransfer: any timm model, pretrained, as the backbone of a new classifier."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import timm

from litexp.callbacks.feature_cache import FeatureCache
from litexp.callbacks.finetuning import GradualUnfreezing
from litexp.checkpoint import load_checkpoint
from litexp.checks import fraction, positive_ints
from litexp.data.preprocessing import from_timm_config
from litexp.errors import CheckpointError
from litexp.models.classifier import Classifier
from litexp.nets.timm_backbone import check_model_name, create_timm_model
from litexp.nets.transfer import TransferNet

log = logging.getLogger(__name__)


class TimmTransfer(Classifier):
    """A timm backbone (pretrained, frozen by default) with a new dropout + linear head.

    Args:
        num_classes: from the datamodule.
        name: any timm model name, e.g. ``mobilenetv2_100``, ``efficientnet_b0``.
        pretrained: start from pretrained weights (``weights``, else timm's hub/cache).
        weights: a local ``.safetensors``/``.pth`` file in timm's format, or a litexp
            ``.ckpt`` of a TimmTransfer run (its backbone, config and preprocessing).
        model_kwargs: extra ``timm.create_model`` arguments (``pad_type``, ``in_chans``...).
        pretrained_cfg_overlay: pretrained-config overrides (``mean``, ``std``,
            ``input_size``, ``crop_pct``, ``interpolation``): what the images get.
        dropout: dropout before the new linear layer, in [0, 1).
        freeze_backbone: train the head only.
        unfreeze_at: epochs at which backbone stages unfreeze, deepest first (gradual
            fine-tuning); empty keeps the backbone as ``freeze_backbone`` says.
        backbone_lr_factor: unfrozen backbone layers train at ``lr`` times this.
        cache_features: with a frozen backbone and no training augmentation, compute the
            backbone's features once and train the head on them.
        channels_last: NHWC memory layout for the backbone (faster convolutions).
        input_shape: from an in-memory data set; its channel count sets ``in_chans``.
        **kwargs: lr, optimizer, scheduler, class_names (see ``Classifier``).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        name: str = "mobilenetv2_100",
        pretrained: bool = True,
        weights: str | None = None,
        model_kwargs: dict[str, Any] | None = None,
        pretrained_cfg_overlay: dict[str, Any] | None = None,
        dropout: float = 0.2,
        freeze_backbone: bool = True,
        unfreeze_at: Sequence[int] = (),
        backbone_lr_factor: float = 0.1,
        cache_features: bool = True,
        channels_last: bool = True,
        input_shape: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        check_model_name(name)
        fraction("dropout", dropout)
        hint = "give increasing epochs >= 0, e.g. [3, 6]"
        unfreeze_at = list(unfreeze_at)
        if unfreeze_at:
            positive_ints("unfreeze_at", unfreeze_at, hint, minimum=0)
        if unfreeze_at != sorted(set(unfreeze_at)):
            raise ValueError(f"unfreeze_at={unfreeze_at!r} is invalid: {hint}")
        if unfreeze_at and not freeze_backbone:
            raise ValueError(
                f"unfreeze_at={unfreeze_at} is invalid with freeze_backbone=false: the "
                "backbone already trains; set model.freeze_backbone=true or unfreeze_at=[]"
            )
        if not backbone_lr_factor > 0:
            raise ValueError(f"backbone_lr_factor={backbone_lr_factor!r} is invalid: must be > 0")
        kw = dict(model_kwargs or {})
        overlay = dict(pretrained_cfg_overlay or {})
        if input_shape is not None:
            kw.setdefault("in_chans", int(input_shape[0]))
            if kw["in_chans"] != input_shape[0]:
                raise ValueError(
                    f"model_kwargs.in_chans={kw['in_chans']} is invalid: the data has "
                    f"{input_shape[0]} channel(s); remove model_kwargs.in_chans"
                )
        if weights is not None and not pretrained:
            raise ValueError(
                f"weights={weights} is invalid with pretrained=false: drop model.weights for "
                "random init, or set model.pretrained=true"
            )
        source = None
        if weights is not None and Path(weights).suffix == ".ckpt":
            source, kw, overlay = _litexp_source(weights, name, kw, overlay)
        backbone = create_timm_model(
            name,
            pretrained=pretrained and source is None,
            weights=None if source is not None else weights,
            model_kwargs=kw,
            pretrained_cfg_overlay=overlay,
        )
        if source is not None:
            backbone.load_state_dict(source)  # strict: same architecture, every key
        self.model_name, self.model_kwargs = name, kw
        self.pretrained = pretrained
        config = timm.data.resolve_model_data_config(backbone)
        self.preprocessing = from_timm_config(config, in_chans=kw.get("in_chans", 3))
        self.net = TransferNet(
            backbone, backbone.num_features, self.num_outputs, dropout, channels_last
        )
        self.unfreeze_at, self.backbone_lr_factor = unfreeze_at, backbone_lr_factor
        self.cache_features = cache_features
        self.net.set_backbone_trainable(not freeze_backbone)

    def on_fit_start(self) -> None:
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        total = sum(p.numel() for p in self.parameters())
        state = "backbone frozen" if trainable < total else "backbone trains"
        if self.unfreeze_at:
            state += f", unfreezing at epochs {self.unfreeze_at}"
        log.info(
            f"TimmTransfer {self.model_name} ({'pretrained' if self.pretrained else 'random init'}"
            f"): {trainable:,} of {total:,} parameters trainable ({state})"
        )

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()  # the epoch's training means start empty
        # In TensorBoard: how many parameters train, epoch by epoch (gradual unfreezing).
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        total = sum(p.numel() for p in self.parameters())
        self.log("params/trainable", float(trainable), on_step=False, on_epoch=True)
        self.log("params/total", float(total), on_step=False, on_epoch=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Rebuilding from this checkpoint needs no weights file and no hub: the state
        # dict holds every weight, and the preprocessing is stated explicitly.
        super().on_save_checkpoint(checkpoint)  # the running epoch's training means
        meta = dict(checkpoint.get("litexp", {}))
        meta["preprocessing"] = self.preprocessing
        meta["rebuild_overrides"] = {
            "model": {
                "pretrained": False,
                "weights": None,
                "model_kwargs": dict(self.model_kwargs),
                "pretrained_cfg_overlay": dict(self.preprocessing),
            }
        }
        checkpoint["litexp"] = meta

    def configure_callbacks(self) -> list[L.Callback]:
        callbacks: list[L.Callback] = []
        if self.unfreeze_at:
            callbacks.append(GradualUnfreezing(self.unfreeze_at, self.backbone_lr_factor))
        elif self.cache_features:
            callbacks.append(FeatureCache())
        return callbacks


def _litexp_source(
    path: str, name: str, kwargs: dict[str, Any], overlay: dict[str, Any]
) -> tuple[dict, dict[str, Any], dict[str, Any]]:
    """The backbone weights, model kwargs and preprocessing of a litexp TimmTransfer run.

    The run's own kwargs and preprocessing come first; those given now override them.
    """
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as err:
        raise ValueError(f"weights={path} is invalid: {err}") from None
    meta = ckpt["litexp"]
    model_cfg = meta.get("config", {}).get("model", {})
    saved = meta.get("rebuild_overrides", {}).get("model", {})
    if not model_cfg.get("_target_", "").endswith("TimmTransfer") or "model_kwargs" not in saved:
        raise ValueError(
            f"weights={path} is invalid: it is a checkpoint of {model_cfg.get('_target_')}, not "
            "of a TimmTransfer run; give a TimmTransfer checkpoint or a timm weights file"
        )
    if model_cfg.get("name") != name:
        raise ValueError(
            f"weights={path} is invalid: it holds a {model_cfg.get('name')!r} backbone, not "
            f"{name!r}; set model.name={model_cfg.get('name')}"
        )
    prefix = "net.backbone."
    state = {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    return (
        state,
        {**saved["model_kwargs"], **kwargs},
        {**saved["pretrained_cfg_overlay"], **overlay},
    )
