"""Lightning overhead: litexp's training vs a plain PyTorch loop on identical work.

Same model class and initial weights, same data tensors and batches (the datamodule's
own loader and on-device batch transforms), same optimiser and batch size. litexp runs
as ``train()`` does: the default callbacks, progress bar and TensorBoard logger, plus the
run's own (RNG state, NaN guard, graceful stop, run metadata); the plain loop does the
forward/backward/step and a validation pass per epoch, nothing else. A bare Lightning
Trainer (no callbacks, logger or bar) shows what Lightning's own loop costs. Runs
alternate (litexp, plain, bare, litexp, ...) in one process, so all see the same machine.

    python -m benchmarks.loop_overhead [--repeats 3] [--which mlp,cnn]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir

from litexp.build import build_data_and_model, build_trainer, run_callbacks
from litexp.config import register_resolvers, to_plain
from litexp.hardware import skip_nvml_check_without_gpu

CONF = Path(__file__).resolve().parents[1] / "conf"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EPOCHS = 4  # the first is warm-up; the median of the other three counts

CASES = {
    # The small MLP on a toy set large enough for a few hundred steps an epoch.
    "mlp": ["model=mlp", "data=blobs", "data.n_samples=40000", "data.batch_size=64"],
    # FashionCNN on Fashion-MNIST as the recipe trains it: whole epochs (215 steps).
    "cnn": ["experiment=fashion_cnn", f"data.data_dir={SHARED / 'fashion_mnist'}"],
}


class _EpochClock(L.Callback):
    """Wall time of each whole epoch: training, validation, checkpoints and logging."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.marks.append(time.perf_counter())

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.marks.append(time.perf_counter())


def _config(case: str, out: str, *extra: str):
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(
            "train",
            [
                *CASES[case],
                "trainer=cpu",
                f"trainer.max_epochs={EPOCHS}",
                f"paths.output_dir={out}",
                f"paths.data_dir={out}/data",
                *extra,
            ],
        )


def litexp_epochs(case: str, bare: bool = False, *extra: str) -> tuple[list[float], int]:
    """Seconds per epoch (warm-up dropped) and steps per epoch, through litexp's Trainer.

    ``bare``: a Trainer with no callbacks, logger, progress bar or checkpoints instead,
    the floor of Lightning's own loop around the same model and data. ``extra``: config
    overrides, e.g. ``data.batch_size=512``.
    """
    with tempfile.TemporaryDirectory() as out:
        cfg = _config(case, out, *extra)
        L.seed_everything(cfg.seed, verbose=False)
        datamodule, model = build_data_and_model(cfg.data, cfg.model)
        clock = _EpochClock()
        if bare:
            trainer = L.Trainer(
                max_epochs=EPOCHS,
                callbacks=[clock],
                logger=False,
                enable_progress_bar=False,
                enable_checkpointing=False,
                enable_model_summary=False,
                num_sanity_val_steps=0,
                default_root_dir=out,
            )
        else:
            callbacks = [*run_callbacks(to_plain(cfg), Path(out), datamodule.spec), clock]
            trainer = build_trainer(cfg, callbacks)
        trainer.fit(model, datamodule=datamodule)
        times = [b - a for a, b in zip(clock.marks, clock.marks[1:], strict=False)]
        return times[1:], trainer.global_step // EPOCHS


def plain_epochs(case: str) -> list[float]:
    """Seconds per epoch (warm-up dropped) of the plain loop on the same objects."""
    with tempfile.TemporaryDirectory() as out:
        cfg = _config(case, out)
        L.seed_everything(cfg.seed, verbose=False)
        datamodule, model = build_data_and_model(cfg.data, cfg.model)
        datamodule.setup("fit")
        model.configure_model()
        optimizer = model.optimizer([p for p in model.parameters() if p.requires_grad], lr=model.lr)
        transform = datamodule.on_after_batch_transfer
        times = []
        for _ in range(EPOCHS):
            start = time.perf_counter()
            model.train()
            limit = cfg.trainer.get("limit_train_batches") or float("inf")
            for i, batch in enumerate(datamodule.train_dataloader()):
                if i >= limit:
                    break
                x, y = transform(batch, i)
                loss = model.loss(model(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.inference_mode():
                correct = 0
                for i, batch in enumerate(datamodule.val_dataloader()):
                    x, y = transform(batch, i)
                    probs = model.probabilities(model(x))
                    correct += int((probs.argmax(-1) == y).sum())
            times.append(time.perf_counter() - start)
        return times[1:]


def measure(case: str, repeats: int = 3) -> dict:
    """Median seconds per epoch of each side, the slowdown and the extra ms per step."""
    ours, plain, bare, steps = [], [], [], 0
    for _ in range(repeats):
        t, steps = litexp_epochs(case)
        ours.append(statistics.median(t))
        plain.append(statistics.median(plain_epochs(case)))
        bare.append(statistics.median(litexp_epochs(case, bare=True)[0]))
    lit, base = statistics.median(ours), statistics.median(plain)
    return {
        "bare_lightning_extra_ms_per_step": 1000 * (statistics.median(bare) - base) / steps,
        "case": case,
        "steps_per_epoch": steps,
        "litexp_s_per_epoch": lit,
        "plain_s_per_epoch": base,
        "litexp_runs": ours,
        "plain_runs": plain,
        "slowdown_pct": 100 * (lit / base - 1),
        "extra_ms_per_step": 1000 * (lit - base) / steps,
    }


TARGETS = {
    "cnn": ("slowdown_pct", 5.0, "<= 5% slower per epoch"),
    "mlp": ("extra_ms_per_step", 0.3, "<= 0.3 ms extra per step"),
}


def markdown(results: list[dict]) -> str:
    """Markdown table rows: | benchmark | figure | target | command |."""
    rows = []
    for r in results:
        key, limit, target = TARGETS[r["case"]]
        met = "met" if r[key] <= limit else "MISSED"
        runs = lambda xs: f"{min(xs):.3f}-{max(xs):.3f}"  # noqa: E731
        rows.append(
            (
                f"loop overhead, {r['case']}: litexp vs plain loop ({r['steps_per_epoch']} steps/epoch)",
                f"{r['litexp_s_per_epoch']:.3f} s/epoch ({runs(r['litexp_runs'])}) vs "
                f"{r['plain_s_per_epoch']:.3f} ({runs(r['plain_runs'])}): "
                f"{r['slowdown_pct']:+.1f}%, {r['extra_ms_per_step']:+.3f} ms/step",
                f"{target} ({met})",
                f"`python -m benchmarks.loop_overhead --which {r['case']}`",
            )
        )
        rows.append(
            (
                f"loop overhead, {r['case']}: Lightning alone (no callbacks, logger, bar, "
                "checkpoints)",
                f"{r['bare_lightning_extra_ms_per_step']:+.3f} ms/step vs the plain loop",
                "",
                f"`python -m benchmarks.loop_overhead --which {r['case']}`",
            )
        )
    return "\n".join(f"| {' | '.join(row)} |" for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--which", default="mlp,cnn")
    args = parser.parse_args()
    skip_nvml_check_without_gpu()  # as litexp's commands do at start-up (litexp.cli)
    for case in args.which.split(","):
        r = measure(case, args.repeats)
        print(
            f"{case}: litexp {r['litexp_s_per_epoch']:.3f} s/epoch, plain {r['plain_s_per_epoch']:.3f} "
            f"s/epoch, {r['slowdown_pct']:+.1f}%, {r['extra_ms_per_step']:+.3f} ms/step "
            f"({r['steps_per_epoch']} steps/epoch); Lightning alone "
            f"{r['bare_lightning_extra_ms_per_step']:+.3f} ms/step"
        )


if __name__ == "__main__":
    main()
