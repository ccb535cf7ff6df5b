"""What TensorBoard and the terminal show without a click: run names, HPARAMS columns,
the lr curve, the text summary, the confusion matrix; no writer thread left behind."""

from __future__ import annotations

import io
import threading
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from litexp.callbacks.report_fonts import class_labels
from litexp.callbacks.test_report import DPI, confusion_figure, confusion_inches
from litexp.run_names import run_label, swept_keys
from litexp.train import train
from tests.conftest import run_cli
from tests.test_tensorboard import _get, experiment, serve, session_groups

FAST = ("trainer.max_epochs=1", "+trainer.limit_train_batches=2", "data=blobs")


def _scalars(base: str, run: str, tag: str) -> list[list[float]]:
    query = urllib.parse.urlencode({"run": run, "tag": tag})
    return _get(f"{base}/data/plugin/scalars/scalars?{query}")


@pytest.mark.slow
def test_sweep_runs_are_named_by_their_overrides_and_share_one_hparams_set(
    tmp_path: Path,
) -> None:
    proc = run_cli(
        "train.py", "-m", *FAST, "model.lr=0.01,0.05", "data.batch_size=32,64", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = next((tmp_path / "logs" / "train" / "multiruns").iterdir())
    # The sweep ends with the one command that opens all of its runs.
    assert f"tensorboard --logdir {sweep}" in proc.stdout + proc.stderr

    with serve(sweep) as base:
        runs = _get(f"{base}/data/runs")
        assert "sweep_plots" in runs, runs  # the sweep's own plots, beside its 4 jobs
        runs = [r for r in runs if r != "sweep_plots"]
        assert len(runs) == 4, runs
        assert not any(r.endswith("tensorboard") for r in runs), runs
        for lr in ("0.01", "0.05"):
            for bs in ("32", "64"):
                named = [r for r in runs if f"batch_size={bs}" in r and f"lr={lr}" in r]
                assert len(named) == 1, (lr, bs, runs)
        tags = _get(f"{base}/data/plugin/scalars/tags")[runs[0]]
        assert "epoch" not in tags

        found = experiment(base)
        columns = [h["name"] for h in found["hparamInfos"]]
        # The swept keys first (ticked), then the other overrides' keys and the fixed
        # set by name; none of the config's constants.
        assert columns[:2] == ["batch_size", "lr"], columns
        assert [h["name"] for h in found["hparamInfos"] if h.get("differs")] == columns[:2]
        assert {"model", "epochs", "seed", "trainer.limit_train_batches"} <= set(columns)
        assert not [c for c in columns if "eval_batch_size" in c or "_partial_" in c], columns
        metrics = [m["name"]["tag"] for m in found["metricInfos"]]
        assert metrics[:2] == ["val/acc", "test/acc"], metrics

        rows = session_groups(base)
        assert len(rows) == 4
        seen = {(r["hparams"]["lr"], r["hparams"]["batch_size"]) for r in rows}
        assert seen == {(0.01, 32), (0.01, 64), (0.05, 32), (0.05, 64)}
        assert all(set(r["hparams"]) == set(columns) for r in rows), "one column set"


@pytest.mark.slow
def test_onecycle_lr_per_step_text_summary_and_confusion_matrix(make_cfg, tmp_path: Path) -> None:
    summary = train(
        make_cfg(
            "data=blobs",
            "data.num_classes=3",
            "trainer.max_epochs=2",
            "trainer.log_every_n_steps=1",
            "model.scheduler={_target_:torch.optim.lr_scheduler.OneCycleLR,"
            "_partial_:true,max_lr:0.05}",
        )
    )
    with serve(tmp_path) as base:
        (run,) = _get(f"{base}/data/runs")
        train_steps = len(_scalars(base, run, "train/loss_step"))
        assert train_steps > 10, "the loss is a curve, not one point per epoch"
        lr = _scalars(base, run, "lr")
        steps = [int(p[1]) for p in lr]
        assert steps == list(range(train_steps)), "one lr point per step"
        values = [p[2] for p in lr]
        peak = int(np.argmax(values))
        assert 0 < peak < len(values) - 1, "OneCycle's rise and fall are both visible"
        assert max(values) == pytest.approx(0.05, rel=0.05)

        texts = _get(f"{base}/data/plugin/text/tags")[run]
        assert "summary/text_summary" in texts
        query = urllib.parse.urlencode({"run": run, "tag": "summary/text_summary"})
        (entry,) = _get(f"{base}/data/plugin/text/text?{query}")
        page = entry["text"]
        assert summary["run_dir"] in page
        assert "test/acc" in page and "best checkpoint (epoch" in page
        assert "<th>class</th>" in page, "per-class accuracy"

        query = urllib.parse.urlencode({"run": run, "tag": "test/confusion_matrix"})
        (image,) = _get(f"{base}/data/plugin/images/images?{query}")
        url = f"{base}/data/plugin/images/individualImage?{image['query']}"
        with urllib.request.urlopen(url) as resp:
            pixels = Image.open(io.BytesIO(resp.read()))
        side = round(confusion_inches(3) * DPI)
        assert pixels.size == (side, side)


def test_confusion_matrix_is_sized_for_its_classes() -> None:
    small = confusion_figure(np.eye(3, dtype=int) * 5, ["a", "b", "c"])
    large = confusion_figure(np.eye(12, dtype=int) * 5, [f"class {i}" for i in range(12)])
    assert small.shape[:2] == (round(confusion_inches(3) * DPI),) * 2
    assert large.shape[0] > small.shape[0] * 1.5


def test_non_latin_class_names_never_draw_empty_boxes() -> None:
    cyrillic = ["кот", "собака", "птица"]
    assert class_labels(cyrillic)[0] == cyrillic, "a font with the glyphs draws the names"
    cjk = ["猫", "犬", "鳥"]
    labels, _, legend = class_labels(cjk)
    installed_font_has_them = labels == cjk
    if not installed_font_has_them:
        assert labels == ["0", "1", "2"] and "0: '\\u732b'" in legend
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        confusion_figure(np.array([[3, 1, 0], [0, 4, 0], [1, 0, 2]]), cjk)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing


@pytest.mark.slow
def test_train_calls_leave_no_writer_thread(make_cfg, tmp_path: Path) -> None:
    train(make_cfg(*FAST, f"paths.output_dir={tmp_path / 'first'}"))
    before = threading.active_count()
    for i in range(3):
        train(make_cfg(*FAST, f"paths.output_dir={tmp_path / str(i)}"))
    assert threading.active_count() <= before, [t.name for t in threading.enumerate()]


@pytest.mark.slow
def test_terminal_counts_epochs_from_one_and_prints_no_noise(tmp_path: Path) -> None:
    proc = run_cli(
        "train.py",
        "data=blobs",
        "trainer.max_epochs=2",
        "+trainer.limit_train_batches=2",
        "model.lr=0.0175150530178",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = proc.stdout + proc.stderr
    assert "Epoch 2/2" in said and "Epoch 0/" not in said, "epochs counted from 1"
    assert "GPU available" not in said and "TPU available" not in said
    summary = said[said.index("Name") : said.index("Trainable params")]
    assert "net" in summary and "Accuracy" not in summary and "MeanMetric" not in summary
    assert "FLOPs" not in said
    run_dir = next((tmp_path / "logs").rglob("metrics.json")).parent
    assert (run_dir / "train" / "data=blobs,lr=0.01752,limit_train_batches=2,max_epochs=2").is_dir()


def test_run_label_names_what_a_run_is_not_where_it_is() -> None:
    name, version = run_label(
        "circles_mlp",
        [
            "model.lr=0.0175150530178",
            "data=moons",
            "paths.log_dir=/x/y",
            "logger.mlflow.tracking_uri=http://u:secret@host",
            "hydra.sweeper.trial=3",
            "model.hidden_sizes=[64,64]",
        ],
        trial=3,
    )
    assert (name, version) == ("circles_mlp", "trial_3,data=moons,hidden_sizes=[64,64],lr=0.01752")
    # Swept: several values outside brackets, or a sweep function; a list is one value.
    assert swept_keys(["model.lr=0.01,0.1", "model.hidden_sizes=[1,2]", "seed=range(3)"]) == {
        "model.lr",
        "seed",
    }
