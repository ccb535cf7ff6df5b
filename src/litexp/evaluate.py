"""``evaluate(cfg)``: test a checkpoint on the data it was trained on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig

from litexp.checkpoint import load_checkpoint, rebuild
from litexp.config import build
from litexp.results import print_summary, scalars
from litexp.run_files import METRICS_FILE, write_json_atomic


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Rebuild data and model from the checkpoint alone, run the test set, report.

    ``cfg.data_dir`` (optional) points at the data if it moved since training.
    """
    ckpt = load_checkpoint(cfg.ckpt_path)
    run_cfg, datamodule, model = rebuild(
        ckpt, {"data_dir": cfg.get("data_dir")}, path=cfg.ckpt_path
    )
    L.seed_everything(run_cfg.seed, verbose=False)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    trainer: L.Trainer = build(cfg.trainer, "trainer", logger=False, callbacks=[])
    trainer.test(model, datamodule=datamodule, verbose=False)
    summary = {
        "status": "completed",
        "metrics": scalars(
            {k: v for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
        ),
        "checkpoint": str(Path(cfg.ckpt_path).resolve()),
        "run_dir": str(out),
    }
    write_json_atomic(out / METRICS_FILE, summary)
    print_summary(summary)
    return summary
