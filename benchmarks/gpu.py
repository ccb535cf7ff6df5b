"""The GPU path: FashionCNN samples/s, time to 0.93 test accuracy, torch.compile speed-up.

Needs a CUDA GPU and the Fashion-MNIST files:

    python -m benchmarks.gpu --data-dir ../shared/data/fashion_mnist

Prints one JSON object; ``python -m benchmarks`` records it in RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir

from litexp.build import build_data_and_model, build_trainer
from litexp.config import register_resolvers
from litexp.train import train

CONF = Path(__file__).resolve().parents[1] / "conf"
CACHE = Path(tempfile.gettempdir()) / "litexp-bench-cache"  # decompressed Fashion-MNIST, kept
TRAINER = "gpu"  # --trainer cpu: a dry run of this script on a machine without a GPU
EXTRA: list[str] = []  # --extra: more overrides, e.g. to make a dry run tiny


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _config(overrides: list[str], out: str):
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(
            "train",
            [
                f"paths.output_dir={out}",
                f"paths.data_dir={out}/data",
                f"paths.cache_dir={CACHE}",
                f"trainer={TRAINER}",
                *overrides,
                *EXTRA,
            ],
        )


class _EpochClock(L.Callback):
    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _sync()
        self.marks.append(time.perf_counter())

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _sync()
        self.marks.append(time.perf_counter())


def throughput(data_dir: str, compile_mode: str | bool, epochs: int = 4) -> dict:
    """Training samples/s of the GPU recipe (epoch 0 and its compilation left out)."""
    with tempfile.TemporaryDirectory() as out:
        cfg = _config(
            [
                "experiment=fashion_cnn_gpu",
                f"data.data_dir={data_dir}",
                f"trainer.max_epochs={epochs}",
                f"model.compile={str(compile_mode).lower()}",
                "logger=none",
                "+trainer.limit_val_batches=0",
                "~callbacks.model_checkpoint",
            ],
            out,
        )
        datamodule, model = build_data_and_model(cfg.data, cfg.model)
        clock = _EpochClock()
        trainer = build_trainer(cfg, [clock])
        start = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
        total = time.perf_counter() - start
        pairs = list(zip(clock.marks[0::2], clock.marks[1::2], strict=True))
        train_only = [b - a for a, b in pairs]
        samples = len(datamodule.splits["train"])
        steady = sorted(train_only[1:])[len(train_only[1:]) // 2]
        return {
            "compile": compile_mode,
            "samples_per_s": samples / steady,
            "epoch_s": train_only,
            "first_epoch_s": train_only[0],
            "fit_s": total,
        }


def time_to_accuracy(data_dir: str, epochs: int) -> dict:
    """The GPU recipe end to end (fit + test, in process): test accuracy and seconds."""
    with tempfile.TemporaryDirectory() as out:
        cfg = _config(
            [
                "experiment=fashion_cnn_gpu",
                f"data.data_dir={data_dir}",
                f"trainer.max_epochs={epochs}",
            ],
            out,
        )
        start = time.perf_counter()
        summary = train(cfg)
        return {
            "epochs": epochs,
            "test_acc": summary["metrics"]["test/acc"],
            "seconds": time.perf_counter() - start,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", default="6,8,12")
    parser.add_argument("--trainer", default="gpu")
    parser.add_argument("--compile-modes", default="false,true,max-autotune-no-cudagraphs")
    parser.add_argument("--extra", default="", help="space-separated config overrides")
    args = parser.parse_args()
    global TRAINER
    TRAINER = args.trainer
    EXTRA.extend(args.extra.split())
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    result = {"device": device, "torch": torch.__version__}
    # Load + cache the data once so later runs measure training, not decompression.
    time_to_accuracy(args.data_dir, 1)
    result["time_to_accuracy"] = [
        time_to_accuracy(args.data_dir, int(e)) for e in args.epochs.split(",")
    ]
    print(json.dumps(result), flush=True)
    modes = [{"false": False, "true": True}.get(m, m) for m in args.compile_modes.split(",")]
    result["throughput"] = [throughput(args.data_dir, mode) for mode in modes]
    eager = result["throughput"][0]["samples_per_s"]
    for row in result["throughput"]:
        row["speedup"] = row["samples_per_s"] / eager
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
