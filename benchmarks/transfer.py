"""Feature caching: a frozen backbone's features computed once vs recomputed every epoch.

Hymenoptera (244 train / 153 val images) with the pretrained ``mobilenetv2_100`` at
224 px, frozen backbone, head-only training, same batches either way. Cached: the
features of train and val are computed once at fit start (reported as "first epoch
starts after"), then each epoch trains the head on them. Recomputing
(``model.cache_features=false``): every epoch decodes the images and runs the backbone
for train and val. Per-epoch time includes validation. Runs go through litexp's own
datamodule and model, on the CPU, without logger, checkpoints or progress bar.

    python -m benchmarks.transfer [--epochs 3] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
from hydra import compose, initialize_config_dir

from litexp.build import build_data_and_model
from litexp.config import register_resolvers

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DATA = SHARED / "hymenoptera_data"
WEIGHTS = SHARED / "pretrained" / "timm_mobilenetv2_100_coral.safetensors"


class _EpochClock(L.Callback):
    """Wall-clock marks at each training epoch's start and at the end of fit."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.marks.append(time.perf_counter())

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.marks.append(time.perf_counter())


def fit_once(cache: bool, epochs: int, image_size: int) -> dict[str, float]:
    """One fit; seconds until the first epoch starts, and per epoch after that."""
    register_resolvers()
    with (
        tempfile.TemporaryDirectory() as out,
        initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"),
    ):
        cfg = compose(
            "train",
            [
                f"paths.output_dir={out}",
                "experiment=hymenoptera_mobilenetv2",
                f"data.data_dir={DATA}",
                f"model.weights={WEIGHTS}",
                f"model.cache_features={cache}",
                f"+model.pretrained_cfg_overlay.input_size=[3,{image_size},{image_size}]",
            ],
        )
        L.seed_everything(cfg.seed, verbose=False)
        datamodule, model = build_data_and_model(cfg.data, cfg.model)
        clock = _EpochClock()
        trainer = L.Trainer(
            accelerator="cpu",
            devices=1,
            max_epochs=epochs,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            callbacks=[clock],
        )
        start = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
    epoch_s = [b - a for a, b in zip(clock.marks[:-1], clock.marks[1:], strict=True)]
    return {
        "first_epoch_after_s": clock.marks[0] - start,
        "epoch_s": statistics.median(epoch_s),
        "fit_s": clock.marks[-1] - start,
        "val_acc": float(trainer.callback_metrics["val/acc"]),
    }


def measure(epochs: int = 3, image_size: int = 224) -> dict:
    """Figures for both ways; ``speedup_per_epoch`` and ``speedup_fit`` compare them."""
    cached = fit_once(True, epochs, image_size)
    recomputed = fit_once(False, epochs, image_size)
    return {
        "epochs": epochs,
        "image_size": image_size,
        "cached": cached,
        "recomputed": recomputed,
        "speedup_per_epoch": recomputed["epoch_s"] / cached["epoch_s"],
        "speedup_fit": recomputed["fit_s"] / cached["fit_s"],
    }


def markdown(r: dict) -> str:
    """Markdown table rows: | benchmark | figure | target | command |."""
    cmd = "`python -m benchmarks.transfer`"
    c, u, n = r["cached"], r["recomputed"], r["epochs"]
    rows = [
        (
            "transfer (hymenoptera, mobilenetv2_100, frozen): cached features",
            f"{c['epoch_s']:.2f} s/epoch after a {c['first_epoch_after_s']:.1f} s feature pass",
            "",
            cmd,
        ),
        ("transfer: recomputing the backbone every epoch", f"{u['epoch_s']:.2f} s/epoch", "", cmd),
        (
            "transfer: speed-up per epoch (cached vs recomputed)",
            f"{r['speedup_per_epoch']:.0f}x",
            "",
            cmd,
        ),
        (
            f"transfer: {n}-epoch fit, cached vs recomputed",
            f"{c['fit_s']:.1f} s vs {u['fit_s']:.1f} s ({r['speedup_fit']:.1f}x)",
            "",
            cmd,
        ),
    ]
    return "\n".join(f"| {' | '.join(row)} |" for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--markdown", action="store_true", help="print Markdown table rows")
    args = parser.parse_args()
    r = measure(args.epochs, args.image_size)
    print(markdown(r) if args.markdown else json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
