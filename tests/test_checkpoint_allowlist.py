"""A checkpoint is data, never code: its stored config builds only allowed classes.

A real checkpoint (train.py, default callbacks) has its ``litexp.config`` rewritten so a
node names a callable that runs a command writing a marker file; eval.py, predict.py and
``resume=`` must refuse it in one line naming the ``_target_`` and its key, exit status
2, and the marker must never appear.
"""

from __future__ import annotations

import copy
import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra.utils import instantiate

from litexp import allowlist
from litexp.checkpoint import load_checkpoint, rebuild
from litexp.data.toy import Circles
from litexp.errors import CheckpointError
from tests.conftest import SHARED_DATA, needs_shared_data, run_cli

TARGETS = ["distutils.spawn.spawn", "os.system", "subprocess.Popen", "builtins.exec"]
KEYS = ["data", "model", "model.optimizer", "model.scheduler"]
# Arguments of an allowed class: the payload is built first, as Hydra builds recursively.
NESTED = ["model.dropout", "model.optimizer.weight_decay", "model.hidden_sizes[1]", "model.net"]
FASHION = SHARED_DATA / "fashion_mnist"


class UserCircles(Circles):
    """A user's own datamodule, for the extension point."""


def payload(target: str, marker: Path) -> dict[str, Any]:
    """A node that, built by Hydra, writes ``marker``."""
    args = {
        "distutils.spawn.spawn": [["sh", "-c", f"touch {shlex.quote(str(marker))}"]],
        "os.system": [f"touch {shlex.quote(str(marker))}"],
        "subprocess.Popen": [["touch", str(marker)]],
        "builtins.exec": [f"open({str(marker)!r}, 'w').close()"],
    }[target]
    return {"_target_": target, "_args_": args}


def put(config: dict[str, Any], key: str, value: Any) -> None:
    """``config[key] = value`` for a dotted key, ``[i]`` indexing a list."""
    *parents, last = key.replace("[", ".").replace("]", "").split(".")
    node: Any = config
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def tampered(good: Path, out: Path, key: str, value: Any) -> Path:
    """A copy of checkpoint ``good`` whose stored config has ``key`` set to ``value``."""
    ckpt = torch.load(good, map_location="cpu", weights_only=True)
    put(ckpt["litexp"]["config"], key, value)
    torch.save(ckpt, out)
    return out


def trained(tmp: Path, *overrides: str) -> Path:
    done = run_cli("train.py", "trainer=cpu", "trainer.max_epochs=1", *overrides, cwd=tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    (metrics,) = (tmp / "logs").rglob("metrics.json")
    return Path(json.loads(metrics.read_text())["best_checkpoint"])


@pytest.fixture(scope="module")
def circles_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained(tmp_path_factory.mktemp("circles"))


@pytest.fixture(scope="module")
def fashion_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained(  # its tests are marked needs_shared_data("fashion_mnist")
        tmp_path_factory.mktemp("fashion"),
        "model=cnn",
        "data=fashion",
        f"data.data_dir={FASHION}",
        "trainer.limit_train_batches=8",
        "trainer.limit_val_batches=2",
        "trainer.limit_test_batches=2",
    )


def test_the_payloads_are_real_attacks(tmp_path: Path) -> None:
    # Hydra's own blocklist stops os.system, subprocess.Popen and builtins.exec, not this.
    marker = tmp_path / "marker"
    instantiate(payload("distutils.spawn.spawn", marker))
    assert marker.exists()


@pytest.mark.parametrize("key", KEYS + NESTED)
@pytest.mark.parametrize("target", TARGETS)
def test_rebuild_refuses_every_payload_before_building(circles_ckpt, tmp_path, key, target):
    marker = tmp_path / "marker"
    ckpt = load_checkpoint(circles_ckpt)
    put(ckpt["litexp"]["config"], key, payload(target, marker))
    with pytest.raises(CheckpointError) as err:
        rebuild(ckpt, path="evil.ckpt")
    assert f"checkpoint evil.ckpt: refused to build {key}._target_={target}: " in str(err.value)
    assert "LITEXP_ALLOWED_TARGETS" in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("model.optimizer._target_", " torch.optim.Adam", "' torch.optim.Adam'"),
        ("model.optimizer._target_", "torch.optim.Adam\n", r"'torch.optim.Adam\n'"),
        ("data._target_", "litexp.datax.Evil", "litexp.datax.Evil"),
        ("data._target_", "litexp.data.../../os.system", "'litexp.data.../../os.system'"),
        ("model._target_", "litexp.models.mlp.os.system", "litexp.models.mlp.os.system"),
        ("model._target_", "litexp.models.timm_transfer.torch.load", None),
        ("model._target_", "litexp.models.classifier.L.LightningModule", None),
        ("model._target_", "litexp.models.__builtins__", None),
        ("data._target_", "litexp.data.folder.ImageFiles", None),  # a Dataset, not a datamodule
        ("model._target_", "litexp.models.classifier.LoopOptions", None),  # not a module
        ("model.optimizer._target_", "torch.nn.Linear", None),
        ("model.optimizer._target_", "posix.system", None),
        ("model.optimizer._target_", "importlib.import_module", None),
        ("model.optimizer._target_", 7, "7"),
    ],
)
def test_tricks_are_refused(circles_ckpt, key, value, shown) -> None:
    ckpt = load_checkpoint(circles_ckpt)
    put(ckpt["litexp"]["config"], key, value)
    with pytest.raises(CheckpointError, match="refused to build") as err:
        rebuild(ckpt, path="evil.ckpt")
    assert f"refused to build {key}={shown or value}: " in str(err.value)


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"data._args_": ["EVIL"]}, "data._args_[0]"),
        ({"model.hidden_sizes": [64, [8, "EVIL"]]}, "model.hidden_sizes[1][1]"),
        # Hydra passes a non-recursive node's children unbuilt; they are checked anyway.
        ({"model.optimizer._recursive_": False, "model.optimizer.betas": [0.9, "EVIL"]},
         "model.optimizer.betas[1]"),
        ({"model.optimizer._convert_": "none", "model.optimizer.x": {"y": "EVIL"}},
         "model.optimizer.x.y"),
    ],
)  # fmt: skip
def test_payloads_hidden_in_args_and_lists(circles_ckpt, tmp_path, changes, where) -> None:
    marker = tmp_path / "marker"
    evil = payload("distutils.spawn.spawn", marker)
    ckpt = load_checkpoint(circles_ckpt)
    for key, value in changes.items():
        value = json.loads(json.dumps(value).replace('"EVIL"', json.dumps(evil)))
        put(ckpt["litexp"]["config"], key, value)
    with pytest.raises(CheckpointError) as err:
        rebuild(ckpt, path="evil.ckpt")
    assert f"refused to build {where}._target_=distutils.spawn.spawn: " in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "value", ["${oc.env:HOME}", "x${oc.decode:'1'}", "${run_dir:latest,/tmp,x}", "${seed}"]
)
def test_interpolations_are_refused(circles_ckpt, value) -> None:
    ckpt = load_checkpoint(circles_ckpt)
    put(ckpt["litexp"]["config"], "data.noise", value)
    with pytest.raises(CheckpointError, match=r"refused data\.noise=.*put there by hand"):
        rebuild(ckpt, path="evil.ckpt")


def test_interpolation_in_rebuild_overrides_is_refused(circles_ckpt) -> None:
    ckpt = load_checkpoint(circles_ckpt)
    ckpt["litexp"]["rebuild_overrides"] = {"model": {"dropout": "${oc.env:HOME}"}}
    with pytest.raises(CheckpointError, match=r"refused model\.dropout="):
        rebuild(ckpt, path="evil.ckpt")


def test_allowed_schedulers_and_user_classes_rebuild(circles_ckpt, monkeypatch) -> None:
    ckpt = load_checkpoint(circles_ckpt)
    scheduler = {"_target_": "torch.optim.lr_scheduler.StepLR", "_partial_": True, "step_size": 3}
    put(ckpt["litexp"]["config"], "model.scheduler", scheduler)
    put(ckpt["litexp"]["config"], "data._target_", f"{__name__}.UserCircles")
    with pytest.raises(CheckpointError, match=f"data._target_={__name__}.UserCircles"):
        rebuild(copy.deepcopy(ckpt), path="user.ckpt")
    monkeypatch.setenv(allowlist.ENV_VAR, "tests")
    _, datamodule, model = rebuild(copy.deepcopy(ckpt), path="user.ckpt")
    assert isinstance(datamodule, UserCircles) and not model.training
    monkeypatch.delenv(allowlist.ENV_VAR)
    monkeypatch.setattr(allowlist, "_RULES", list(allowlist._RULES))
    allowlist.allow_target(__name__, "lightning.pytorch.LightningDataModule")
    assert isinstance(rebuild(ckpt, path="user.ckpt")[1], UserCircles)


# Through the real scripts: each key and each target at least twice, and nested ones.
EVAL_CASES = [
    ("data", "distutils.spawn.spawn"),
    ("data", "os.system"),
    ("model", "subprocess.Popen"),
    ("model", "builtins.exec"),
    ("model.optimizer", "distutils.spawn.spawn"),
    ("model.optimizer", "subprocess.Popen"),
    ("model.scheduler", "os.system"),
    ("model.scheduler", "builtins.exec"),
    ("model.dropout", "distutils.spawn.spawn"),
    ("model.optimizer.weight_decay", "os.system"),
]
PREDICT_CASES = [
    ("data", "os.system"),
    ("model", "distutils.spawn.spawn"),
    ("model.optimizer", "builtins.exec"),
    ("model.scheduler", "subprocess.Popen"),
    ("model.channels[0]", "distutils.spawn.spawn"),
]


def assert_refused(done, key: str, target: str, marker: Path) -> None:
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("litexp: error:")]
    assert len(lines) == 1 and f"refused to build {key}._target_={target}: " in lines[0]
    assert "Traceback" not in done.stderr
    assert not marker.exists()


@pytest.mark.parametrize(("key", "target"), EVAL_CASES)
def test_eval_refuses_a_crafted_checkpoint(circles_ckpt, tmp_path, key, target) -> None:
    marker = tmp_path / "marker"
    evil = tampered(circles_ckpt, tmp_path / "evil.ckpt", key, payload(target, marker))
    done = run_cli("eval.py", f"ckpt_path={evil}", cwd=tmp_path)
    assert_refused(done, key, target, marker)
    assert f"checkpoint {evil}: " in done.stderr


@needs_shared_data("fashion_mnist")
@pytest.mark.parametrize(("key", "target"), PREDICT_CASES)
def test_predict_refuses_a_crafted_checkpoint(fashion_ckpt, tmp_path, key, target) -> None:
    from tests.test_folder_data import make_images

    marker = tmp_path / "marker"
    evil = tampered(fashion_ckpt, tmp_path / "evil.ckpt", key, payload(target, marker))
    make_images(tmp_path / "photos", 1)
    done = run_cli("predict.py", f"ckpt_path={evil}", f"input={tmp_path / 'photos'}", cwd=tmp_path)
    assert_refused(done, key, target, marker)


@pytest.mark.parametrize(
    "which", ["circles", pytest.param("fashion", marks=needs_shared_data("fashion_mnist"))]
)
def test_legit_checkpoints_still_evaluate(request, tmp_path, which) -> None:
    ckpt = request.getfixturevalue(f"{which}_ckpt")
    done = run_cli("eval.py", f"ckpt_path={ckpt}", "trainer.limit_test_batches=2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    (metrics,) = (tmp_path / "logs").rglob("metrics.json")
    assert "test/acc" in json.loads(metrics.read_text())["metrics"]


def test_resume_refuses_a_tampered_checkpoint(circles_ckpt, tmp_path) -> None:
    run = shutil.copytree(circles_ckpt.parent.parent, tmp_path / "run")
    marker = tmp_path / "marker"
    for ckpt in (run / "checkpoints").glob("*.ckpt"):
        tampered(ckpt, ckpt, "data", payload("distutils.spawn.spawn", marker))
    done = run_cli("train.py", "trainer=cpu", "trainer.max_epochs=2", f"resume={run}", cwd=tmp_path)
    assert_refused(done, "data", "distutils.spawn.spawn", marker)
    assert f"checkpoint {run / 'checkpoints'}/" in done.stderr


def test_resume_never_builds_the_runs_config_yaml(circles_ckpt, tmp_path) -> None:
    # config.yaml is a record for people: a payload there is never built, the run resumes.
    run = shutil.copytree(circles_ckpt.parent.parent, tmp_path / "run")
    marker = tmp_path / "marker"
    text = (run / "config.yaml").read_text()
    evil = f"  _target_: distutils.spawn.spawn\n  _args_: [[sh, -c, 'touch {marker}']]\n"
    assert "  _target_: litexp.data.Circles\n" in text
    (run / "config.yaml").write_text(text.replace("  _target_: litexp.data.Circles\n", evil))
    done = run_cli("train.py", "trainer=cpu", "trainer.max_epochs=2", f"resume={run}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not marker.exists()
