"""From a composed config to the objects a run needs: data, model, trainer.

``train``, ``evaluate``, ``predict`` and ``checkpoint`` all build through here, so a
model is made the same way for training as for a checkpoint's rebuild. The data is
built first: its :class:`~litexp.spec.DataSpec` tells the model what to expect, and
the builder passes a model only the spec fields its constructor names.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import get_class
from lightning.pytorch.callbacks import LearningRateMonitor
from omegaconf import DictConfig

from litexp.callbacks.atomic_checkpoint import AtomicCheckpointIO
from litexp.callbacks.graceful_stop import GracefulStop
from litexp.callbacks.history import EpochHistory
from litexp.callbacks.nan_guard import NanGuard
from litexp.callbacks.rng_state import RngState
from litexp.callbacks.run_metadata import RunMetadata
from litexp.config import build, parameters_of
from litexp.errors import ConfigError
from litexp.logger_runs import RecordLoggerRuns, continued_mlflow_run, mlflow_tracking_uris
from litexp.run_dir import CHECKPOINT_DIR
from litexp.run_names import label_of
from litexp.spec import SPEC_FIELDS, DataSpec, spec_of


def build_data(data_cfg: DictConfig) -> L.LightningDataModule:
    """The datamodule; it must expose a ``spec`` (checked here, before any model)."""
    datamodule = build(data_cfg, "data")
    spec_of(datamodule)
    return datamodule


def build_model(model_cfg: DictConfig, spec: DataSpec) -> L.LightningModule:
    """The model, given the spec fields (num_classes, input_shape, ...) it names."""
    target = model_cfg.get("_target_")
    try:
        wanted = parameters_of(get_class(target))[0]  # following **kwargs to the bases
    except Exception:  # a mistyped _target_: build() says which, in one line
        wanted = {}
    needs_shape = (
        "input_shape" in wanted and wanted["input_shape"].default is inspect.Parameter.empty
    )
    if spec.input_shape is None and needs_shape:
        raise ConfigError(
            f"model: {target} needs inputs of one fixed size, but the data leaves the "
            "image size to the model: set data.image_size, or use model=timm"
        )
    values = {name: getattr(spec, name) for name in SPEC_FIELDS}
    given = {
        name: (list(value) if isinstance(value, tuple) else value)
        for name, value in values.items()
        if name in wanted and value is not None
    }
    return build(model_cfg, "model", **given)


def build_data_and_model(
    data_cfg: DictConfig, model_cfg: DictConfig
) -> tuple[L.LightningDataModule, L.LightningModule]:
    """The datamodule first: it tells the model its classes and input shape."""
    datamodule = build_data(data_cfg)
    model = build_model(model_cfg, spec_of(datamodule))
    # Image folders are prepared as the model's weights expect (size, crop, mean, std).
    # With data.image_size the data states it itself, and any model builds for it.
    if hasattr(datamodule, "set_preprocessing"):
        if getattr(model, "preprocessing", None):
            datamodule.set_preprocessing(model.preprocessing)
        elif getattr(datamodule, "preprocessing", None) is None:  # now, not once fit began
            raise ConfigError(
                f"data: {type(datamodule).__name__} needs a model that states how its images "
                f"are prepared, and {type(model).__name__} does not: set data.image_size "
                "(e.g. 64), or use model=timm"
            )
    return datamodule, model


def run_callbacks(config: dict[str, Any], out: Path, spec: DataSpec) -> list[L.Callback]:
    """The callbacks every litexp run has, whatever the config: run metadata in each
    checkpoint (``config``: the run's resolved config, ``to_plain(cfg)``), RNG state for
    exact resumes, the NaN guard, the graceful stop and the epoch history (for the fit
    diagnosis in metrics.json)."""
    return [
        RunMetadata(config, spec.to_dict()),
        RngState(),
        NanGuard(),
        GracefulStop(out / CHECKPOINT_DIR),
        EpochHistory(),
        RecordLoggerRuns(out, mlflow_tracking_uris(config)),
    ]


def run_name_kwargs(cfg: DictConfig, node: DictConfig, *, resuming: bool) -> dict[str, Any]:
    """A logger left unnamed (``name: null`` / ``run_name: null``) is named after the run:
    ``<task>/<the job's overrides>`` (``litexp.run_names``). A resumed run keeps the
    TensorBoard folder its events are already in, and its MLflow run (``logger_runs``)."""
    target = str(node.get("_target_", ""))
    if "name" in node and node.name is None and target.endswith("TensorBoardLogger"):
        save_dir = Path(str(node.save_dir))
        old = sorted(save_dir.rglob("events.out.tfevents.*")) if resuming else []
        if old:
            rel = old[0].parent.relative_to(save_dir)
            return {"name": str(rel.parent), "version": rel.name}
        name, version = label_of(cfg.get("task_name", "train"))
        return {"name": name, "version": version}
    if target.endswith("MLFlowLogger") and importlib.util.find_spec("mlflow") is None:
        raise ConfigError("logger=mlflow needs MLflow: pip install 'litexp[mlflow]'")
    uri = str(node.get("tracking_uri") or "")
    if resuming and target.endswith("MLFlowLogger") and node.get("run_id") is None:
        run_id = continued_mlflow_run(Path(str(cfg.paths.output_dir)), uri)
        if run_id is not None:  # the MLflow run this run's first process started
            return {"run_id": run_id}
    if "run_name" not in node or node.run_name is not None:
        return {}
    name, version = label_of(cfg.get("task_name", "train"))
    kwargs: dict[str, Any] = {"run_name": f"{name}/{version}" if version else name}
    if uri.startswith("sqlite:///"):  # a local MLflow store: its folder, files beside it
        store = Path(uri[len("sqlite:///") :]).parent
        store.mkdir(parents=True, exist_ok=True)  # SQLite creates no folders
        if "artifact_location" in node and node.artifact_location is None:
            kwargs["artifact_location"] = str(store / "artifacts")
    return kwargs


def build_trainer(
    cfg: DictConfig, extra_callbacks: list[L.Callback], *, purge_step: int | None = None
) -> L.Trainer:
    """The Trainer with the configured loggers and callbacks, plus ``extra_callbacks``.

    ``purge_step``: when resuming, TensorBoard hides the events a stopped process wrote
    at or after this step, so the resumed curves have no duplicated steps. A new run
    starts its events at step 0 the same way: TensorBoard takes a run's first session
    start for its beginning, so only from the second on does one hide anything.
    """

    def logger_kwargs(node: DictConfig) -> dict[str, Any]:
        is_tb = str(node.get("_target_", "")).endswith("TensorBoardLogger")
        kwargs = {"purge_step": purge_step or 0} if is_tb else {}
        return {**kwargs, **run_name_kwargs(cfg, node, resuming=purge_step is not None)}

    loggers = [
        build(node, "logger", **logger_kwargs(node))
        for node in (cfg.get("logger") or {}).values()
        if node
    ]
    callbacks = [
        build(node, f"callbacks.{name}")
        for name, node in (cfg.get("callbacks") or {}).items()
        if node
    ]
    if not loggers:  # LearningRateMonitor refuses to run without a logger
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    # Atomic saves and weights_only loads, unless the config brings its own plugins.
    plugins = {} if cfg.trainer.get("plugins") else {"plugins": [AtomicCheckpointIO()]}
    return build(
        cfg.trainer,
        "trainer",
        callbacks=callbacks + extra_callbacks,
        logger=loggers or False,
        **plugins,
    )
