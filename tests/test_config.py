"""Every config option composes, and every sensible model x data pair runs one step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from litexp.train import build_data_and_model, train
from tests.conftest import CONF, SHARED_DATA, compose_config, needs_shared_data

GROUPS = [
    "model",
    "data",
    "trainer",
    "logger",
    "callbacks",
    "paths",
    "hydra",
    "debug",
    "experiment",
]

# Data sets whose files must be pointed at: the overrides tests use (real, read-only data).
DATA_OVERRIDES: dict[str, list[str]] = {
    "fashion": [f"data.data_dir={SHARED_DATA / 'fashion_mnist'}"],
    "mnist": [f"data.data_dir={SHARED_DATA / 'mnist'}"],
    "folder": [
        f"data.data_dir={SHARED_DATA / 'hymenoptera_data'}",
        f"model.weights={SHARED_DATA / 'pretrained' / 'timm_mobilenetv2_100_coral.safetensors'}",
        "+model.model_kwargs.pad_type=same",
        "model.cache_features=false",  # one step needs no pass over every image
    ],
}
# Which models make sense on which data sets: the MLP on anything of a fixed size, the CNN
# on small images, timm models on image folders (prepared as their weights expect).
PAIRS = [
    ("mlp", "circles"),
    ("mlp", "moons"),
    ("mlp", "blobs"),
    ("mlp", "fashion"),
    ("mlp", "mnist"),
    ("cnn", "fashion"),
    ("cnn", "mnist"),
    ("timm", "folder"),
]
# The shared data sets each of DATA_OVERRIDES reads.
SHARED_SETS_OF = {
    "fashion": ("fashion_mnist",),
    "mnist": ("mnist",),
    "folder": ("hymenoptera_data", "pretrained"),
}


def options(group: str) -> list[str]:
    # Every yaml file in a group is an option the user can pick.
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize(
    "group,option", [(g, o) for g in GROUPS for o in options(g)], ids=lambda v: str(v)
)
def test_every_option_composes(group: str, option: str, tmp_path: Path) -> None:
    overrides = [f"{group}={option}", f"paths.output_dir={tmp_path}"]
    cfg = compose_config("train", overrides)
    assert cfg.seed is not None
    if group in ("model", "data"):
        assert cfg[group]._target_.startswith("litexp.")


def test_eval_config_composes(tmp_path: Path) -> None:
    cfg = compose_config("eval", ["ckpt_path=x.ckpt", f"paths.output_dir={tmp_path}"])
    assert cfg.ckpt_path == "x.ckpt"


@pytest.mark.parametrize(
    "model,data",
    [
        pytest.param(
            m, d, marks=[needs_shared_data(*SHARED_SETS_OF[d])] if d in SHARED_SETS_OF else []
        )
        for m, d in PAIRS
    ],
)
def test_pair_builds_and_runs_one_step(model: str, data: str, make_cfg) -> None:
    cfg = make_cfg(f"model={model}", f"data={data}", "debug=fast", *DATA_OVERRIDES.get(data, []))
    datamodule, net = build_data_and_model(cfg.data, cfg.model)
    datamodule.setup("fit")
    # The batch as the model receives it (after the datamodule's on-device transforms).
    x, y = datamodule.on_after_batch_transfer(next(iter(datamodule.train_dataloader())), 0)
    logits = net(x)
    # The head follows the data: one logit for two classes, one per class otherwise.
    expected = 1 if datamodule.num_classes == 2 else datamodule.num_classes
    assert logits.shape == (x.shape[0], expected)
    probs = net.probabilities(logits)
    assert probs.shape == (x.shape[0], datamodule.num_classes)
    torch.testing.assert_close(probs.sum(-1), torch.ones(x.shape[0]))

    summary = train(cfg)
    assert summary["status"] == "completed"
    assert set(summary["metrics"]) >= {"train/loss", "val/acc", "test/acc"}


def test_data_decides_the_head(make_cfg) -> None:
    for classes in (2, 3, 6):
        cfg = make_cfg("data=blobs", f"data.num_classes={classes}")
        _, model = build_data_and_model(cfg.data, cfg.model)
        assert model.num_classes == classes
        assert model.net.layers[-1].out_features == (1 if classes == 2 else classes)


def test_binary_uses_bce_and_multiclass_cross_entropy(make_cfg) -> None:
    logits = torch.tensor([[2.0], [-1.0]])
    target = torch.tensor([1, 0])
    _, binary = build_data_and_model(make_cfg("data=circles").data, make_cfg().model)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits.squeeze(-1), target.float()
    )
    torch.testing.assert_close(binary.loss(logits, target), expected)
    torch.testing.assert_close(
        binary.probabilities(logits)[:, 1], torch.sigmoid(logits.squeeze(-1))
    )

    cfg = make_cfg("data=blobs", "data.num_classes=3")
    _, multi = build_data_and_model(cfg.data, cfg.model)
    logits3 = torch.tensor([[2.0, 0.0, -1.0]])
    torch.testing.assert_close(
        multi.loss(logits3, torch.tensor([0])),
        torch.nn.functional.cross_entropy(logits3, torch.tensor([0])),
    )
    torch.testing.assert_close(multi.probabilities(logits3), torch.softmax(logits3, -1))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "none"])
def test_activation_by_name(activation: str, make_cfg) -> None:
    cfg = make_cfg(f"model.activation={activation}")
    _, model = build_data_and_model(cfg.data, cfg.model)
    kinds = {type(m).__name__ for m in model.net.layers}
    expected = {
        "relu": "ReLU",
        "tanh": "Tanh",
        "sigmoid": "Sigmoid",
        "gelu": "GELU",
        "leaky_relu": "LeakyReLU",
        "none": "Identity",
    }
    assert expected[activation] in kinds


def test_toy_features_standardised_on_train_split_only(make_cfg) -> None:
    cfg = make_cfg("data=moons")
    datamodule, _ = build_data_and_model(cfg.data, cfg.model)
    datamodule.setup("fit")
    train_x = datamodule.splits["train"].tensors[0]
    torch.testing.assert_close(train_x.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(train_x.std(0, unbiased=False), torch.ones(2), atol=1e-4, rtol=0)
    sizes = {k: len(v) for k, v in datamodule.splits.items()}
    assert sizes == {"train": 700, "val": 150, "test": 150}
