"""Optuna pieces in-process: search-space syntax, storage settings, the Lightning pruner."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_plugins.litexp_optuna_sweeper._search_space import parse_search_space
from litexp.sweep.optuna_storage import open_storage, storage_url
from litexp.train import train


def test_search_space_syntax_and_command_line_precedence() -> None:
    params = {
        "model.lr": "tag(log, interval(1e-4, 1e-1))",
        "model.hidden_sizes": "choice([32], [64, 64])",
        "model.activation": "choice(relu, tanh)",
        "data.batch_size": "range(16, 80, 16)",
        "trainer.max_epochs": "3",
    }
    fixed, space = parse_search_space(params, ["model.dropout=interval(0.0, 0.5)", "seed=7"])
    assert fixed == ["trainer.max_epochs=3", "seed=7"]
    assert space["model.lr"].distribution == FloatDistribution(1e-4, 1e-1, log=True)
    assert space["data.batch_size"].distribution == IntDistribution(16, 64, step=16)
    assert space["model.activation"].distribution == CategoricalDistribution(["relu", "tanh"])
    # Lists are categorical by their override text, and written back as overrides.
    assert space["model.hidden_sizes"].override("[64,64]") == "model.hidden_sizes=[64,64]"
    assert space["model.lr"].override(0.01) == "model.lr=0.01"
    # The command line replaces a key of the search space.
    _, space = parse_search_space(params, ["model.lr=choice(0.1, 0.2)"])
    assert space["model.lr"].distribution == CategoricalDistribution([0.1, 0.2])


def test_glob_sweep_is_refused_with_the_valid_forms() -> None:
    with pytest.raises(ValueError, match=r"use choice\(\.\.\.\), interval"):
        parse_search_space({"model": "glob(*)"}, [])


def test_storage_settings(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LITEXP_OPTUNA_STORAGE", raising=False)
    assert storage_url(None, tmp_path) == f"sqlite:///{tmp_path / 'optuna.db'}"
    assert storage_url("postgresql://u@db/optuna", tmp_path) == "postgresql://u@db/optuna"
    journal = storage_url("study.journal", tmp_path)
    assert journal == str(tmp_path / "study.journal")
    # Two handles on one journal file see one study.
    optuna.create_study(study_name="s", storage=open_storage(journal)).ask()
    other = optuna.load_study(study_name="s", storage=open_storage(journal))
    assert len(other.trials) == 1


@pytest.mark.slow
def test_median_pruner_stops_a_bad_trial_after_its_first_epoch(make_cfg, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    study = optuna.create_study(study_name="s", storage=url, direction="maximize", pruner=pruner)
    good = study.ask()
    for epoch in range(4):
        good.report(0.99, epoch)
    study.tell(good, 0.99)
    bad = study.ask()
    cfg = make_cfg(
        "data=circles",
        "data.n_samples=200",
        "trainer.max_epochs=4",
        "model.lr=1e-5",  # learns nothing in 4 epochs: below the median at epoch 0
        "+callbacks.optuna_pruning._target_=litexp.sweep.pruning.OptunaPruning",
        "+callbacks.optuna_pruning.monitor=val/acc",
        "+callbacks.optuna_pruning.study_name=s",
        f"+callbacks.optuna_pruning.storage='{url}'",
        f"+callbacks.optuna_pruning.trial={bad.number}",
        "+callbacks.optuna_pruning.pruner={n_startup_trials: 1, n_warmup_steps: 0}",
    )
    summary = train(cfg)

    trial = study.get_trials()[bad.number]
    assert trial.user_attrs["pruned_at_epoch"] == 0
    assert list(trial.intermediate_values) == [0]  # stopped: no epochs 1..3
    # Stopped like early stopping: the run still tested its best checkpoint, and says it
    # was pruned (in metrics.json, counted from 1, and in TensorBoard's HPARAMS).
    assert summary["status"] == "pruned" and "test/acc" in summary["metrics"]
    on_disk = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert (on_disk["status"], on_disk["pruned_at_epoch"]) == ("pruned", 1)
    assert hparams_status(tmp_path / "run") == "pruned"


def hparams_status(run_dir: Path) -> str:
    """The ``status`` column of the run's HPARAMS entry, read back from its event file."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    for events in sorted(run_dir.rglob("events.out.tfevents.*")):
        for event in EventFileLoader(str(events)).Load():
            for value in event.summary.value:
                if value.tag == metadata.SESSION_START_INFO_TAG:
                    data = plugin_data_pb2.HParamsPluginData.FromString(
                        value.metadata.plugin_data.content
                    )
                    return data.session_start_info.hparams["status"].string_value
    raise AssertionError(f"no HPARAMS entry in {run_dir}")
