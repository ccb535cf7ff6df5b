"""model.fused_steps: K optimizer steps per Lightning batch train exactly as K = 1 does."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from litexp.callbacks.nan_guard import NonFiniteLoss
from litexp.errors import ConfigError
from litexp.models import MLP
from litexp.train import build_data_and_model, build_trainer, train
from tests.conftest import requires_gpu

# 1400 training points in batches of 64: 22 batches an epoch, the last one short (56).
BLOBS = ["data=blobs", "data.n_samples=2000", "logger=none", "callbacks.progress_bar=null"]
ONE_CYCLE = [
    "model.scheduler={_target_: torch.optim.lr_scheduler.OneCycleLR, _partial_: true, max_lr: 0.05}"
]
STEP_LR = [
    "model.scheduler={_target_: torch.optim.lr_scheduler.StepLR, _partial_: true, step_size: 1, gamma: 0.5}"
]


def _fit(make_cfg, fused_steps: int, *overrides: str) -> tuple[dict, int, dict]:
    """Weights, optimizer steps and final metrics of a 3-epoch fit (dropout on: RNG order counts)."""
    cfg = make_cfg(
        *BLOBS,
        "trainer.max_epochs=3",
        "model.dropout=0.2",
        f"model.fused_steps={fused_steps}",
        *overrides,
    )
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    trainer = build_trainer(cfg, [], model=model)
    trainer.fit(model, datamodule=datamodule)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return model.state_dict(), trainer.global_step, metrics


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["+trainer.gradient_clip_val=0.05"],
        ["+trainer.gradient_clip_val=0.01", "+trainer.gradient_clip_algorithm=value"],
        ["+trainer.accumulate_grad_batches=3"],  # 22 batches: the epoch's last step takes 1
        ONE_CYCLE,  # total steps counted in batches, not in groups
        STEP_LR,  # an epoch scheduler, stepped by litexp when it steps the optimizer
        ["+trainer.limit_train_batches=5"],  # 5 batches, not 5 groups of 4
        ["+trainer.limit_train_batches=5", "+trainer.accumulate_grad_batches=2", *ONE_CYCLE],
        ["+trainer.max_steps=30", *ONE_CYCLE],  # stops mid-group, at step 30 exactly
        ["trainer.precision=bf16-mixed"],  # the GPU recipe's precision (CPU autocast here)
        ["trainer.precision=bf16-mixed", "+trainer.gradient_clip_val=0.05"],
    ],
    ids=[
        "plain",
        "clip-norm",
        "clip-value",
        "accumulate",
        "one-cycle",
        "step-lr",
        "limit",
        "limit-accumulate-one-cycle",
        "max-steps",
        "bf16-mixed",
        "bf16-mixed-clip",
    ],
)
def test_fused_steps_train_the_same_weights_as_one_step_per_batch(make_cfg, overrides) -> None:
    one, steps_one, metrics_one = _fit(make_cfg, 1, *overrides)
    fused, steps_fused, metrics_fused = _fit(make_cfg, 4, *overrides)
    assert steps_fused == steps_one
    assert one.keys() == fused.keys()
    different = [name for name in one if not torch.equal(one[name], fused[name])]
    assert not different, f"weights differ: {different}"
    assert metrics_fused["val/acc"] == metrics_one["val/acc"]
    assert metrics_fused["train/acc"] == metrics_one["train/acc"]
    # The epoch's mean loss is summed in another order: equal to float precision.
    assert metrics_fused["train/loss"] == pytest.approx(metrics_one["train/loss"], rel=1e-6)


@pytest.mark.gpu
@requires_gpu
def test_fused_steps_with_the_fp16_grad_scaler_match_on_a_gpu(make_cfg) -> None:
    # fp16 AMP (a GradScaler that unscales before clipping and may skip steps) is GPU-only.
    gpu = [
        "trainer=gpu",
        "trainer.devices=1",
        "trainer.precision=16-mixed",
        "trainer.deterministic=true",
    ]
    clip = "+trainer.gradient_clip_val=0.05"
    one, steps_one, _ = _fit(make_cfg, 1, *gpu, clip)
    fused, steps_fused, _ = _fit(make_cfg, 4, *gpu, clip)
    assert steps_fused == steps_one
    assert all(torch.equal(one[name], fused[name]) for name in one)


def test_the_mlp_default_fuses_steps_and_lightning_counts_groups(make_cfg) -> None:
    cfg = make_cfg(*BLOBS, "trainer.max_epochs=1")
    assert cfg.model.fused_steps == 32
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    trainer = build_trainer(cfg, [], model=model)
    trainer.fit(model, datamodule=datamodule)
    assert trainer.num_training_batches == 1  # 22 batches of 64 in one group
    assert trainer.global_step == 22


def _logged_steps(run_dir: Path, tag: str) -> list[int]:
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return [event.step for event in events.Scalars(tag)]


def test_tensorboard_steps_are_optimizer_steps(make_cfg, tmp_path) -> None:
    base = ["data=blobs", "data.n_samples=2000", "trainer.max_epochs=3", "logger=tensorboard"]
    steps = {}
    for k in (1, 4):
        run_dir = tmp_path / f"run{k}"
        train(make_cfg(*base, f"model.fused_steps={k}", f"paths.output_dir={run_dir}"))
        steps[k] = _logged_steps(run_dir, "val/acc")
    assert steps[4] == steps[1] == [21, 43, 65]  # the step of each epoch's last batch


def test_nan_guard_names_the_same_step_when_steps_are_fused(make_cfg, tmp_path) -> None:
    # SGD whose learning rate grows 1e12-fold every epoch: fine in epoch 0, diverges in 1.
    diverging = [
        "model.optimizer._target_=torch.optim.SGD",
        "model.scheduler={_target_: torch.optim.lr_scheduler.ExponentialLR, _partial_: true, gamma: 1e12}",
    ]
    messages = {}
    for k in (1, 4):
        out = f"paths.output_dir={tmp_path / f'run{k}'}"
        with pytest.raises(NonFiniteLoss) as err:
            train(
                make_cfg(*BLOBS, "trainer.max_epochs=5", f"model.fused_steps={k}", out, *diverging)
            )
        messages[k] = str(err.value).split(" (last good")[0]
    assert "at epoch 1, step 2" in messages[1]  # epoch 1 runs steps 23-44
    assert messages[4] == messages[1]


@pytest.mark.parametrize("value", [0, -2, 1.5, True, "'8'"])
def test_bad_fused_steps_is_a_one_line_config_error(make_cfg, value) -> None:
    cfg = make_cfg(*BLOBS, f"model.fused_steps={value}")
    with pytest.raises(
        ConfigError, match=r"^model\.fused_steps=.* is invalid: must be an integer >= 1"
    ):
        build_data_and_model(cfg.data, cfg.model)


def test_val_check_interval_must_be_whole_groups(make_cfg) -> None:
    cfg = make_cfg(*BLOBS, "model.fused_steps=4", "+trainer.val_check_interval=10")
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    with pytest.raises(ConfigError, match=r"val_check_interval=10 is invalid .* multiple of 4"):
        build_trainer(cfg, [], model=model)
    cfg = make_cfg(*BLOBS, "model.fused_steps=4", "+trainer.val_check_interval=8")
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    assert build_trainer(cfg, [], model=model).val_check_interval == 2  # groups of 4


def test_fused_steps_need_a_litexp_datamodule() -> None:
    model = MLP(num_classes=3, input_shape=(2,), fused_steps=4)
    data = torch.utils.data.TensorDataset(torch.randn(64, 2), torch.randint(0, 3, (64,)))

    class Plain(L.LightningDataModule):
        def train_dataloader(self):
            return torch.utils.data.DataLoader(data, batch_size=8)

    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with pytest.raises(ValueError, match="fused_steps=4 needs a litexp datamodule"):
        trainer.fit(model, datamodule=Plain())
