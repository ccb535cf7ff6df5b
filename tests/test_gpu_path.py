"""The GPU path (device-resident data, bf16, channels_last, torch.compile).

On a machine without a GPU the parts that are not GPU-specific still run on the CPU:
compile keeps checkpoints loadable, the data stays where it is.
"""

from __future__ import annotations

import pytest
import torch

from litexp.checkpoint import load_checkpoint
from litexp.train import build_data_and_model, train
from tests.conftest import SHARED_DATA, needs_shared_data, requires_gpu

FASHION = f"data.data_dir={SHARED_DATA / 'fashion_mnist'}"
TINY = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=20",
    "+trainer.limit_val_batches=2",
    "+trainer.limit_test_batches=2",
]


@pytest.mark.slow
def test_compiled_net_trains_and_saves_plain_checkpoint_keys(make_cfg) -> None:
    summary = train(make_cfg("model.compile=true", "trainer.max_epochs=2", "logger=none"))
    assert summary["status"] == "completed"
    assert summary["metrics"]["test/acc"] > 0.8
    keys = load_checkpoint(summary["best_checkpoint"])["state_dict"].keys()
    assert keys and not any("_orig_mod" in k for k in keys)


def test_bad_compile_mode_is_refused(make_cfg) -> None:
    from litexp.errors import ConfigError

    with pytest.raises(ConfigError, match="model.compile='fast' is invalid"):
        build_data_and_model(
            make_cfg("model.compile=fast").data, make_cfg("model.compile=fast").model
        )


def test_cpu_training_keeps_the_data_on_the_cpu(make_cfg) -> None:
    cfg = make_cfg("trainer.max_epochs=1", "logger=none")
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    from litexp.train import build_trainer

    build_trainer(cfg, []).fit(model, datamodule=datamodule)
    assert datamodule.splits["train"].tensors[0].device.type == "cpu"


@pytest.mark.gpu
@requires_gpu
@needs_shared_data("fashion_mnist")
def test_gpu_trainer_keeps_fashion_resident_on_the_device_in_bf16(make_cfg) -> None:
    cfg = make_cfg("model=cnn", "data=fashion", FASHION, "trainer=gpu", "logger=none", *TINY)
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    from litexp.train import build_trainer

    trainer = build_trainer(cfg, [])
    trainer.fit(model, datamodule=datamodule)
    assert datamodule.splits["train"].tensors[0].device.type == "cuda"
    assert trainer.precision == "bf16-mixed"
    assert model.net.channels_last if hasattr(model.net, "channels_last") else True


@pytest.mark.gpu
@requires_gpu
@needs_shared_data("fashion_mnist")
def test_gpu_recipe_is_well_above_chance_after_a_few_steps(make_cfg) -> None:
    summary = train(
        make_cfg("experiment=fashion_cnn_gpu", FASHION, "trainer=gpu", "logger=none", *TINY)
    )
    assert summary["metrics"]["test/acc"] > 0.5
    assert torch.cuda.is_available()
