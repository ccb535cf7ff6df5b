"""FashionCNN and MLP on Fashion-MNIST and MNIST: build, one debug step, output shapes."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from litexp.config import build
from litexp.errors import ConfigError
from litexp.models import FashionCNN
from litexp.train import build_data_and_model, train
from tests.conftest import SHARED_DATA, needs_shared_data

DATA_DIRS = {"fashion": SHARED_DATA / "fashion_mnist", "mnist": SHARED_DATA / "mnist"}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One decompressed cache for the whole module: each data set is read once."""
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize(
    "data",
    [pytest.param(d, marks=needs_shared_data(DATA_DIRS[d].name)) for d in ("fashion", "mnist")],
)
@pytest.mark.parametrize("model", ["cnn", "mlp"])
def test_model_x_data_debug_step(make_cfg, cache_dir: Path, model: str, data: str) -> None:
    cfg = make_cfg(
        f"model={model}",
        f"data={data}",
        f"data.data_dir={DATA_DIRS[data]}",
        f"paths.cache_dir={cache_dir}",
        "data.download=false",
        "data.batch_size=32",
        "data.eval_batch_size=100",
        "debug=fast",
    )
    summary = train(cfg)
    assert summary["status"] == "completed"
    # fast_dev_run tests on one batch of 100 images; after one step the 10-class model is
    # still near uniform (loss ~ ln 10), not blown up by unnormalised inputs.
    test_acc, test_loss = summary["metrics"]["test/acc"], summary["metrics"]["test/loss"]
    assert round(test_acc * 100, 6).is_integer(), test_acc
    assert math.isfinite(test_loss) and test_loss < 2 * math.log(10), test_loss
    datamodule, net = build_data_and_model(cfg.data, cfg.model)
    datamodule.setup("test")
    x, y = datamodule.on_after_batch_transfer(next(iter(datamodule.test_dataloader())), 0)
    assert x.shape == (cfg.data.eval_batch_size, 1, 28, 28) and x.dtype == torch.float32
    assert net(x).shape == (len(y), 10)
    assert net.class_names == datamodule.class_names


def test_cnn_is_tinyvgg_sized_from_the_input() -> None:
    model = FashionCNN(num_classes=10, input_shape=(3, 32, 32), channels=[8, 16, 24])
    convs = [m for m in model.net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16, 16, 24, 24]
    assert model.net.classifier[-1].in_features == 24 * 4 * 4  # 32 -> 16 -> 8 -> 4
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    weight = convs[1].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    plain = FashionCNN(
        num_classes=2, input_shape=(1, 28, 28), batch_norm=False, channels_last=False
    )
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    assert plain(torch.randn(2, 1, 28, 28)).shape == (2, 1)  # binary: one logit


def test_blocks_can_have_one_conv_each_and_pool_early() -> None:
    model = FashionCNN(
        num_classes=10,
        input_shape=(1, 28, 28),
        channels=[16, 32, 64, 128],
        convs_per_block=[1, 2, 1, 1],
        early_pool=True,
    )
    kinds = [type(m).__name__ for m in model.net.features]
    # Block 1: conv, pool, norm, act. Block 2: conv, norm, act, conv, pool, norm, act.
    assert kinds[:11] == [
        "Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU",
        "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU",
    ]  # fmt: skip
    assert kinds.count("Conv2d") == 5 and kinds.count("MaxPool2d") == 4
    assert model.net.classifier[-1].in_features == 128  # 28 -> 14 -> 7 -> 3 -> 1
    assert model(torch.randn(4, 1, 28, 28)).shape == (4, 10)


def test_early_pool_is_the_same_function_for_relu_without_batch_norm() -> None:
    """Max-pooling commutes with ReLU: pooling first only saves work."""
    kwargs = {"num_classes": 10, "input_shape": (1, 28, 28), "batch_norm": False}
    late = FashionCNN(**kwargs)
    early = FashionCNN(**kwargs, early_pool=True)
    late_convs = [m for m in late.net.modules() if isinstance(m, torch.nn.Conv2d)]
    early_convs = [m for m in early.net.modules() if isinstance(m, torch.nn.Conv2d)]
    for a, b in zip(late_convs, early_convs, strict=True):
        b.load_state_dict(a.state_dict())
    early.net.classifier.load_state_dict(late.net.classifier.state_dict())
    x = torch.randn(8, 1, 28, 28)
    torch.testing.assert_close(early(x), late(x))


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("model.channels=[]", "model.channels=[] is invalid"),
        ("model.convs_per_block=[1,2,2]", "convs_per_block=[1, 2, 2] is invalid: give one number, or one per block (2"),
        ("model.convs_per_block=0", "convs_per_block=[0] is invalid"),
        ("model.channels=[8,8,8,8,8,8]", "6 blocks halve a 28x28 image to nothing; use at most 4"),
        ("model.dropout=1.0", "model.dropout=1.0 is invalid"),
        ("model.activation=swish", "activation='swish' is unknown"),
    ],
)
def test_bad_cnn_settings_say_what_is_valid(make_cfg, override: str, words: str) -> None:
    cfg = make_cfg("model=cnn", "data=fashion", override)
    with pytest.raises(ConfigError, match=re.escape(words)):
        build(cfg.model, "model", num_classes=10, input_shape=(1, 28, 28))


def test_cnn_refuses_data_that_is_not_images(make_cfg) -> None:
    cfg = make_cfg("model=cnn", "data=circles")
    with pytest.raises(ConfigError, match="needs images.*model=mlp"):
        build_data_and_model(cfg.data, cfg.model)
