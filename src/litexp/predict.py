"""``predict(cfg)``: classify image files with a litexp checkpoint or a pretrained timm model.

From a checkpoint, everything comes from the file: the model, its class names and how
images are prepared (``litexp.data.preprocessing``). Without one, ``model=timm``
classifies with the pretrained (ImageNet) head itself: the quickest proof that the
weights and their preprocessing are right.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import timm
import torch
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from litexp.build import build_model
from litexp.checkpoint import check_fits, load_checkpoint, run_config
from litexp.config import in_group
from litexp.data.folder import IMAGE_SUFFIXES, unreadable_reason
from litexp.data.preprocessing import (
    eval_transform,
    from_timm_config,
    image_mode,
    normalize,
    open_image,
)
from litexp.errors import CheckpointError, ConfigError, DataError, first_line
from litexp.nets.timm_backbone import create_timm_model
from litexp.preflight import check_predict_config
from litexp.spec import DataSpec

log = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.csv"
# (normalised images (B, C, H, W), device) -> class probabilities (B, num_classes)
Classify = Callable[[torch.Tensor, torch.device], torch.Tensor]


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Classify ``cfg.input`` (an image or a folder); print a table, write predictions.csv.

    Returns ``{"predictions": [{"file", "top": [(class, probability), ...]}], "skipped":
    [{"file", "reason"}], "csv": path}``; a skipped file is a row of predictions.csv
    too, with its reason in the ``skipped`` column.
    """
    check_predict_config(cfg)
    if cfg.get("ckpt_path"):
        classify, prep, names = from_checkpoint(cfg.ckpt_path)
    elif cfg.get("model"):
        classify, prep, names = from_pretrained(cfg.model, cfg.get("labels"))
    else:
        raise ConfigError(
            "nothing to predict with: give ckpt_path=<a litexp .ckpt>, or model=timm "
            "model.name=<timm model> [model.weights=<file>] for its pretrained head"
        )
    root, files, skipped = find_images(Path(cfg.input))
    k = min(int(cfg.top_k), len(names))
    device = torch.device(
        "cuda"
        if cfg.device == "auto" and torch.cuda.is_available()
        else ("cpu" if cfg.device == "auto" else cfg.device)
    )
    transform, mode = eval_transform(prep), image_mode(prep)
    rows = []
    for start in range(0, len(files), int(cfg.batch_size)):
        batch = files[start : start + int(cfg.batch_size)]
        images = torch.stack([transform(open_image(f, mode)) for f in batch])  # uint8
        with torch.inference_mode():
            probs = classify(normalize(images.to(device), prep), device).float().cpu()
        top_p, top_i = probs.topk(k, dim=-1)
        for f, ps, idx in zip(batch, top_p.tolist(), top_i.tolist(), strict=True):
            rows.append(
                {
                    "file": str(f.relative_to(root)),
                    "top": [(names[i], p) for i, p in zip(idx, ps, strict=True)],
                }
            )
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / PREDICTIONS_FILE
    write_csv(csv_path, rows, k, skipped)
    print_table(rows)
    Console().print(f"predictions: {csv_path}", soft_wrap=True)
    return {"predictions": rows, "skipped": skipped, "csv": str(csv_path)}


def from_checkpoint(path: str | Path) -> tuple[Classify, dict[str, Any], list[str]]:
    """The checkpoint's model, preprocessing and class names; no data set needed."""
    ckpt = load_checkpoint(path)
    data = ckpt["litexp"]["data"]
    prep = data.get("preprocessing") or ckpt["litexp"].get("preprocessing")
    if not prep:
        raise CheckpointError(
            f"checkpoint {path} was trained on data that are not images "
            f"({ckpt['litexp']['config'].get('data', {}).get('_target_', '?')}, inputs "
            f"{data.get('input_shape')}): predict.py classifies image files"
        )
    cfg = run_config(ckpt, path)
    model = build_model(cfg.model, DataSpec.from_dict(data))
    if not hasattr(model, "probabilities"):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(model).__name__}, not a litexp Classifier: "
            "predict.py needs its class probabilities (subclass litexp.models.Classifier)"
        )
    check_fits(ckpt, model, path)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()

    def classify(images: torch.Tensor, device: torch.device) -> torch.Tensor:
        return model.to(device).probabilities(model(images))

    return classify, prep, list(data["class_names"])


def from_pretrained(
    model_cfg: DictConfig, labels: str | None
) -> tuple[Classify, dict[str, Any], list[str]]:
    """A timm model with its own pretrained head; class names from ``labels`` or timm."""
    if not str(model_cfg.get("_target_", "")).endswith("TimmTransfer"):
        raise ConfigError(
            "without ckpt_path, predict needs model=timm (a pretrained timm classifier); "
            "for a litexp model give ckpt_path=<its .ckpt>"
        )
    kwargs = {
        k: model_cfg.get(k)
        for k in ("pretrained", "weights", "model_kwargs", "pretrained_cfg_overlay")
    }
    try:
        net = create_timm_model(model_cfg.name, keep_head=True, **kwargs).eval()
    except ValueError as err:
        raise ConfigError(in_group("model", first_line(err))) from None
    in_chans = (model_cfg.get("model_kwargs") or {}).get("in_chans", 3)
    prep = from_timm_config(timm.data.resolve_model_data_config(net), in_chans)
    names = class_names(net, labels)

    def classify(images: torch.Tensor, device: torch.device) -> torch.Tensor:
        return torch.softmax(net.to(device)(images), dim=-1)

    return classify, prep, names


def class_names(net: torch.nn.Module, labels: str | None) -> list[str]:
    """One name per output: from the labels file, else timm's own ImageNet names."""
    n = net.num_classes
    if labels is None:
        subset = timm.data.infer_imagenet_subset(net)
        if subset is None:
            raise ConfigError(
                f"the model has {n} outputs of unknown names: give labels=<a text file, one "
                "class name per line>"
            )
        info = timm.data.ImageNetInfo(subset)
        return [info.index_to_description(i) for i in range(n)]
    path = Path(labels)
    if not path.is_file():
        raise ConfigError(f"labels={labels} is not a file: give a text file, one name per line")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(names) == n + 1:  # TF-style files start with a "background" class
        names = names[1:]
    if len(names) != n:
        raise ConfigError(
            f"labels={labels} has {len(names)} names, the model has {n} outputs: give a file "
            "with one name per output (or one extra first line, e.g. 'background')"
        )
    return names


def find_images(path: Path) -> tuple[Path, list[Path], list[dict[str, str]]]:
    """The image files at ``path`` (a file, or a folder searched recursively), and the
    files skipped as not decodable images (``{"file", "reason"}``, listed in one warning).
    """
    if not path.exists():
        raise DataError(f"input={path} does not exist: give an image file or a folder of images")
    candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    candidates = [p for p in candidates if not p.name.startswith(".")]
    reasons = {p: unreadable_reason(p) for p in candidates}
    root = path if path.is_dir() else path.parent
    skipped = [
        {"file": str(p.relative_to(root)), "reason": why} for p, why in reasons.items() if why
    ]
    if skipped:  # a log line, not warnings.warn: no source line of litexp's under it
        log.warning(
            f"skipped {len(skipped)} file(s) that are not usable images (rows in "
            f"{PREDICTIONS_FILE}, column skipped):\n  "
            + "\n  ".join(f"{s['file']}: {s['reason']}" for s in skipped)
        )
    files = [p for p, why in reasons.items() if why is None]
    if not files:
        raise DataError(
            f"input={path} holds no usable image ({'/'.join(IMAGE_SUFFIXES)}): give an image "
            "file or a folder of images"
        )
    return root, files, skipped


def write_csv(
    path: Path, rows: list[dict[str, Any]], k: int, skipped: list[dict[str, str]] = ()
) -> None:
    """``file, class_1, prob_1, ..., class_k, prob_k, skipped``: one row per image, and
    one per skipped file (no classes, its reason under ``skipped``)."""
    header = ["file"] + [f"{c}_{i}" for i in range(1, k + 1) for c in ("class", "prob")]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*header, "skipped"])
        for row in rows:
            top = [v for c, p in row["top"] for v in (c, f"{p:.4f}")]
            writer.writerow([row["file"], *top, ""])
        for row in skipped:
            writer.writerow([row["file"], *([""] * 2 * k), row["reason"]])


def print_table(rows: list[dict[str, Any]], console: Console | None = None) -> None:
    table = Table(title="litexp: predictions", show_header=True)
    table.add_column("file")
    table.add_column("class")
    table.add_column("probability", justify="right")
    table.add_column("next best")
    for row in rows:
        (best, p), rest = row["top"][0], row["top"][1:]
        table.add_row(row["file"], best, f"{p:.3f}", ", ".join(f"{c} ({q:.3f})" for c, q in rest))
    (console or Console()).print(table)
