"""timm models by name, with pretrained weights from a local file or timm's hub path."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import timm
from torch import nn

from litexp.downloads import run_download
from litexp.errors import first_line

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


def check_model_name(name: str) -> None:
    """Raise a ValueError suggesting close matches unless timm knows ``name``."""
    if isinstance(name, str) and timm.is_model(name):
        return
    close = difflib.get_close_matches(str(name), timm.list_models(), n=5, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ValueError(
        f"name={name!r} is not a timm model: {hint}"
        "(python -c \"import timm; print(timm.list_models('*word*'))\" lists the names)"
    )


def create_timm_model(
    name: str,
    *,
    pretrained: bool = True,
    weights: str | Path | None = None,
    model_kwargs: dict[str, Any] | None = None,
    pretrained_cfg_overlay: dict[str, Any] | None = None,
    keep_head: bool = False,
) -> nn.Module:
    """A timm model with its pretrained weights, headless unless ``keep_head``.

    Args:
        name: a timm model name (``timm.list_models()``).
        pretrained: load pretrained weights (from ``weights``, else timm's hub path).
        weights: a local ``.safetensors``/``.pth`` file in timm's format for ``name``.
        model_kwargs: passed to ``timm.create_model`` (e.g. ``pad_type``, ``drop_rate``).
        pretrained_cfg_overlay: overrides of the pretrained config (``mean``, ``std``,
            ``input_size``, ``crop_pct``, ``interpolation``, or ``file``).
        keep_head: keep the pretrained classifier (ImageNet) instead of removing it.

    The weights load strictly, with the model's own head, then the head is removed:
    a file that does not fit the architecture is an error, never a silent partial load.
    """
    check_model_name(name)
    kwargs = dict(model_kwargs or {})
    overlay = dict(pretrained_cfg_overlay or {})
    if "num_classes" in kwargs:
        raise ValueError(
            "model_kwargs.num_classes is invalid: the head is sized from the data; "
            "remove model_kwargs.num_classes"
        )
    if weights is not None:
        if not pretrained:
            raise ValueError(
                f"weights={weights} is invalid with pretrained=false: drop model.weights for "
                "random init, or set model.pretrained=true"
            )
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ValueError(f"weights={weights} is invalid: no such file")
        if path.suffix not in WEIGHT_SUFFIXES:
            raise ValueError(
                f"weights={weights} is invalid: expected a {', '.join(WEIGHT_SUFFIXES)} file "
                "in timm's format, or a litexp .ckpt"
            )
        overlay["file"] = str(path)

    def create() -> nn.Module:
        return timm.create_model(
            name, pretrained=pretrained, pretrained_cfg_overlay=overlay or None, **kwargs
        )

    try:
        # From the hub: given up when the network stops answering (HF cache or torch hub).
        model = run_download(create, _hub_folders()) if weights is None and pretrained else create()
    except (RuntimeError, KeyError) as err:
        if weights is None and pretrained:
            raise _hub_error(name, err) from None
        raise ValueError(
            f"weights={weights} does not fit timm model {name!r} with model_kwargs={kwargs}: "
            f"{first_line(err, 300)}"
        ) from None
    except TypeError as err:
        raise ValueError(f"model_kwargs={kwargs} is invalid for {name!r}: {err}") from None
    except Exception as err:  # hub/network errors come in many types
        if weights is None and pretrained:
            raise _hub_error(name, err) from None
        raise
    if not keep_head:
        model.reset_classifier(0)  # (B, C, H, W) -> pooled (B, num_features)
    return model


def _hub_folders() -> list[Path]:
    """Where timm's hub downloads land: huggingface_hub's cache (and its xet chunks, under
    HF_HOME), torch.hub's checkpoints."""
    import torch.hub
    from huggingface_hub import constants

    return [Path(constants.HF_HUB_CACHE), Path(constants.HF_HOME), Path(torch.hub.get_dir())]


def _hub_error(name: str, err: BaseException) -> ValueError:
    reason = first_line(err, 200)
    return ValueError(
        f"pretrained=true cannot get the weights of {name!r} from timm's hub ({reason}): "
        "give model.weights=<a local .safetensors/.pth file>, or model.pretrained=false "
        "for random init"
    )
