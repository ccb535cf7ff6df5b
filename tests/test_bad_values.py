"""More bad input (issue 12): every config group, data files and the command line.

Each case must give exactly one ``litexp: error:`` line naming the key, exit status 2,
before training (no checkpoint, no completed ``metrics.json``). They run through the
fork server of ``tests/test_bad_input.py``: ``train.py``/``eval.py``/``predict.py`` as
``__main__`` with their own argv, two at a time. ``test_bad_input.py`` has the others;
``test_count`` counts both lists.
"""

from __future__ import annotations

import pytest

from tests.test_bad_input import CASES as FIRST_CASES
from tests.test_bad_input import Case, _make_files, check_rejected, run_forked

T, E, P = "train.py", "eval.py", "predict.py"
# predict.py with the pretrained timm head (the shared, offline weights): no checkpoint
TIMM = (
    "model=timm",
    "model.name=mobilenetv2_100",
    "model.weights={shared}/pretrained/timm_mobilenetv2_100_coral.safetensors",
)
# fmt: off
CASES = [
    # The command line: unknown options and keys, with the nearest valid ones.
    Case("option-typo", ("model=cnnn",), ("model=cnnn is not an option of model", "did you mean model=cnn?")),
    Case("logger-typo", ("logger=tensorbord",), ("did you mean logger=tensorboard?",)),
    Case("experiment-unknown", ("experiment=nope",), ("experiment=nope is not an option", "circles_mlp")),
    Case("debug-unknown", ("debug=nope",), ("debug=nope is not an option", "fast")),
    Case("hparams-search-unknown", ("hparams_search=nope",), ("hparams_search=nope is not an option", "circles_optuna")),
    Case("launcher-unknown", ("hydra/launcher=nope",), ("hydra/launcher=nope is not an option", "parallel")),
    Case("config-name-unknown", ("-cn", "nope"), ("nope",)),
    Case("model-key-typo", ("model.lrr=0.1",), ("model.lrr is not a key of model", "did you mean model.lr?")),
    Case("nested-key-typo", ("model.optimizer.weight_decayy=1",), ("did you mean model.optimizer.weight_decay?",)),
    Case("data-key-typo", ("data.batchsize=3",), ("data.batchsize is not a key of data", "did you mean data.batch_size",)),
    Case("callback-key-typo", ("callbacks.model_checkpoint.monitr=val/acc",), ("did you mean callbacks.model_checkpoint.monitor?",)),
    Case("trainer-key-typo", ("trainer.max_epoch=3",), ("trainer.max_epoch is not an argument", "did you mean trainer.max_epochs")),
    Case("added-model-key", ("+model.lrr=0.1",), ("model.lrr is not an argument", "did you mean model.lr?")),
    Case("added-data-key", ("+data.nois=0.1",), ("data.nois is not an argument", "did you mean data.noise?")),
    Case("append-existing", ("+model.lr=0.1",), ("model.lr",)),
    Case("delete-missing", ("~model.nope",), ("model.nope",)),
    Case("unclosed-list", ("model.hidden_sizes=[8,",), ("cannot read the override 'model.hidden_sizes=[8,'",)),
    Case("no-equals", ("model.lr",), ("cannot read the override 'model.lr'",)),
    Case("value-with-space", ("model.activation=re lu",), ("model.activation='re lu' is unknown",)),
    Case("eval-key-typo", ("ckpt_path={other_model}", "trainer.max_epoch=3"), ("trainer.max_epoch is not an argument",), script=E),
    Case("eval-no-model-group", ("ckpt_path={other_model}", "model=cnn"), ("model",), script=E),
    Case("predict-no-trainer", ("input={shared}/pretrained/examples", "ckpt_path={other_model}", "trainer.max_epochs=3"), ("trainer is not a top-level key",), script=P),
    Case("predict-key-typo", ("input={shared}/pretrained/examples", "top_kk=3"), ("did you mean top_k?",), script=P),
    # Model values.
    Case("dropout-text", ("model.dropout=abc",), ("model.dropout='abc' is invalid",)),
    Case("dropout-negative", ("model.dropout=-0.1",), ("model.dropout=-0.1 is invalid",)),
    Case("lr-text", ("model.lr=abc",), ("model.lr='abc' is invalid",)),
    Case("lr-null", ("model.lr=null",), ("model.lr=None is invalid",)),
    Case("hidden-sizes-text", ("model.hidden_sizes=abc",), ("model.hidden_sizes='abc' is invalid", "a list of int")),
    Case("hidden-sizes-negative", ("model.hidden_sizes=[8,-1]",), ("model.hidden_sizes=[8, -1] is invalid",)),
    Case("hidden-sizes-float", ("model.hidden_sizes=[8.5]",), ("model.hidden_sizes=[8.5] is invalid",)),
    Case("activation-number", ("model.activation=123",), ("model.activation=123 is invalid", "str")),
    Case("optimizer-not-optimizer", ("model.optimizer._target_=torch.nn.Linear",), ("model.optimizer.weight_decay is not an argument of torch.nn.Linear",)),
    Case("weight-decay-negative", ("model.optimizer.weight_decay=-1",), ("weight_decay",)),
    Case("weight-decay-text", ("model.optimizer.weight_decay=abc",), ("weight_decay",)),
    Case("scheduler-missing-arg", ("model.scheduler={{_target_:torch.optim.lr_scheduler.StepLR,_partial_:true}}",), ("model.scheduler", "step_size")),
    Case("scheduler-unknown", ("model.scheduler={{_target_:torch.optim.lr_scheduler.Nope,_partial_:true}}",), ("model.scheduler", "torch.optim.lr_scheduler.Nope")),
    Case("scheduler-bad-arg", ("model.scheduler={{_target_:torch.optim.lr_scheduler.StepLR,_partial_:true,step_sise:3}}",), ("model.scheduler.step_sise is not an argument", "did you mean model.scheduler.step_size?")),
    Case("compile-unknown", ("model.compile=banana",), ("model.compile='banana' is invalid",)),
    Case("eval-batch-size-zero", ("data.eval_batch_size=0",), ("data.eval_batch_size=0 is invalid",)),
    Case("eval-batch-size-text", ("data.eval_batch_size=abc",), ("data.eval_batch_size='abc' is invalid",)),
    # Data values.
    Case("data-seed-negative", ("data.seed=-7",), ("data.seed=-7 is invalid",)),
    Case("batch-size-text", ("data.batch_size=abc",), ("data.batch_size='abc' is invalid",)),
    Case("batch-size-negative", ("data.batch_size=-1",), ("data.batch_size=-1 is invalid",)),
    Case("batch-size-null", ("data.batch_size=null",), ("data.batch_size=None is invalid",)),
    Case("n-samples-text", ("data.n_samples=abc",), ("data.n_samples='abc' is invalid",)),
    Case("n-samples-negative", ("data.n_samples=-100",), ("n_samples=-100",)),
    Case("noise-negative", ("data.noise=-1",), ("data.noise=-1 is invalid",)),
    Case("noise-text", ("data=moons", "data.noise=abc"), ("data.noise='abc' is invalid",)),
    Case("factor-text", ("data.factor=abc",), ("data.factor='abc' is invalid",)),
    Case("val-fraction-negative", ("data.val_fraction=-0.1",), ("data.val_fraction=-0.1 is invalid",)),
    Case("test-fraction-one", ("data.test_fraction=1.0",), ("data.test_fraction=1.0 is invalid",)),
    Case("blobs-classes-text", ("data=blobs", "data.num_classes=abc"), ("data.num_classes='abc' is invalid",)),
    Case("fashion-dir-is-file", ("model=cnn", "data=fashion", "data.data_dir={a_file}", "data.download=false"), ("Fashion-MNIST not found", "data.data_dir=")),
    Case("mnist-not-found", ("model=cnn", "data=mnist", "data.data_dir={tmp}/no_mnist", "data.download=false"), ("MNIST not found", "data.data_dir=")),
    Case("folder-empty", ("model=timm", "data=folder", "data.data_dir={empty_dir}"), ("class folder",)),
    # Trainer values.
    Case("max-epochs-null", ("trainer.max_epochs=null",), ("trainer.max_epochs=None is invalid",)),
    Case("max-epochs-negative", ("trainer.max_epochs=-3",), ("trainer.max_epochs=-3 is invalid",)),
    Case("max-epochs-text", ("trainer.max_epochs=abc",), ("trainer.max_epochs='abc' is invalid",)),
    Case("max-epochs-float", ("trainer.max_epochs=1.5",), ("trainer.max_epochs=1.5 is invalid",)),
    Case("min-epochs-negative", ("trainer.min_epochs=-3",), ("trainer.min_epochs=-3 is invalid",)),
    Case("min-above-max", ("trainer.min_epochs=5", "trainer.max_epochs=2"), ("trainer.min_epochs=5 is invalid",)),
    Case("max-steps-negative", ("trainer.max_steps=-5",), ("max_steps", "-5")),
    Case("clip-negative", ("trainer.gradient_clip_val=-1",), ("trainer.gradient_clip_val=-1 is invalid",)),
    Case("clip-text", ("trainer.gradient_clip_val=abc",), ("trainer.gradient_clip_val='abc' is invalid",)),
    Case("clip-algorithm-unknown", ("trainer.gradient_clip_algorithm=banana",), ("trainer.gradient_clip_algorithm='banana' is invalid", "norm or value")),
    Case("devices-too-many", ("trainer.devices=3",), ("trainer.devices=3 is invalid", "cores")),
    Case("devices-zero", ("trainer.devices=0",), ("devices=0",)),
    Case("devices-text", ("trainer.devices=abc",), ("devices",)),
    Case("accelerator-unknown", ("trainer.accelerator=banana",), ("accelerator='banana'",)),
    Case("val-interval-zero", ("trainer.val_check_interval=0",), ("trainer.val_check_interval=0 is invalid",)),
    Case("val-interval-zero-plus", ("+trainer.val_check_interval=0",), ("trainer.val_check_interval=0 is invalid",)),
    Case("val-interval-negative", ("trainer.val_check_interval=-1",), ("trainer.val_check_interval=-1 is invalid",)),
    Case("val-interval-text", ("trainer.val_check_interval=abc",), ("val_check_interval", "abc")),
    Case("limit-train-negative", ("trainer.limit_train_batches=-1",), ("trainer.limit_train_batches=-1 is invalid",)),
    Case("limit-val-above-one", ("trainer.limit_val_batches=1.5",), ("trainer.limit_val_batches=1.5 is invalid",)),
    Case("limit-test-text", ("trainer.limit_test_batches=abc",), ("trainer.limit_test_batches='abc' is invalid",)),
    Case("check-val-zero", ("trainer.check_val_every_n_epoch=0",), ("trainer.check_val_every_n_epoch=0 is invalid",)),
    Case("log-steps-zero", ("trainer.log_every_n_steps=0",), ("trainer.log_every_n_steps=0 is invalid",)),
    Case("accumulate-zero", ("trainer.accumulate_grad_batches=0",), ("trainer.accumulate_grad_batches=0 is invalid",)),
    Case("sanity-steps-negative", ("trainer.num_sanity_val_steps=-5",), ("trainer.num_sanity_val_steps=-5 is invalid",)),
    Case("num-nodes-zero", ("trainer.num_nodes=0",), ("num_nodes", "0")),
    Case("max-time-text", ("trainer.max_time=banana",), ("duration='banana'",)),
    Case("strategy-unknown", ("trainer.strategy=banana",), ("trainer",)),
    Case("deterministic-text", ("trainer.deterministic=banana",), ("trainer.deterministic='banana' is invalid",)),
    # Callbacks and loggers.
    Case("monitor-unknown", ("callbacks.model_checkpoint.monitor=val/nope",), ("callbacks.model_checkpoint.monitor='val/nope' is invalid", "val/acc")),
    Case("checkpoint-mode-unknown", ("callbacks.model_checkpoint.mode=banana",), ("callbacks.model_checkpoint",)),
    Case("save-top-k-negative", ("callbacks.model_checkpoint.save_top_k=-5",), ("callbacks.model_checkpoint",)),
    Case("save-top-k-text", ("callbacks.model_checkpoint.save_top_k=abc",), ("callbacks.model_checkpoint",)),
    Case("progress-every-zero", ("callbacks.progress_bar.every_n_batches=0",), ("callbacks.progress_bar",)),
    Case("test-report-negative", ("callbacks.test_report.max_images=-1",), ("callbacks.test_report",)),
    Case("lr-monitor-interval", ("callbacks.lr_monitor.logging_interval=banana",), ("callbacks.lr_monitor",)),
    Case("callback-target-unknown", ("callbacks.model_checkpoint._target_=nope.Nope",), ("callbacks.model_checkpoint", "nope.Nope")),
    Case("summary-depth-text", ("callbacks.model_summary.max_depth=abc",), ("callbacks.model_summary",)),
    Case("logger-target-unknown", ("logger.tensorboard._target_=nope.Nope",), ("logger", "nope.Nope")),
    # Where runs go, seeds, objectives, resuming.
    Case("run-dir-is-file", ("hydra.run.dir={a_file}",), ("cannot create the run directory", "hydra.run.dir")),
    Case("run-dir-under-file", ("hydra.run.dir={a_file}/run",), ("cannot create the run directory", "hydra.run.dir")),
    Case("eval-run-dir-is-file", ("ckpt_path={other_model}", "hydra.run.dir={a_file}"), ("cannot create the run directory",), script=E),
    Case("log-dir-env-missing", ("paths.log_dir=${{oc.env:LITEXP_NO_SUCH_VAR}}",), ("LITEXP_NO_SUCH_VAR",)),
    Case("seed-text", ("seed=abc",), ("seed='abc' is invalid",)),
    Case("seed-float", ("seed=1.5",), ("seed=1.5 is invalid",)),
    Case("seed-null", ("seed=null",), ("seed=None is invalid",)),
    Case("seed-too-big", ("seed=4294967296",), ("seed=4294967296 is invalid",)),
    Case("objective-unknown", ("objective.metric=val/nope",), ("objective.metric='val/nope' is invalid", "val/acc")),
    Case("direction-unknown", ("objective.direction=banana",), ("direction='banana' is invalid", "maximize")),
    Case("resume-a-file", ("resume={a_file}",), ("resume=", "not a litexp run directory")),
    Case("init-from-missing", ("init_from={tmp}/nope.ckpt",), ("nope.ckpt does not exist", "give init_from=")),
    Case("init-from-not-a-checkpoint", ("init_from={a_file}",), ("{a_file}",)),
    Case("init-from-a-directory", ("init_from={empty_dir}",), ("{empty_dir}",)),
    # eval.py and predict.py values.
    Case("eval-ckpt-missing", ("ckpt_path={tmp}/nope.ckpt",), ("nope.ckpt",), script=E),
    Case("eval-ckpt-not-a-checkpoint", ("ckpt_path={a_file}",), ("{a_file}",), script=E),
    Case("eval-devices-text", ("ckpt_path={other_model}", "trainer.devices=abc"), ("devices",), script=E),
    Case("predict-no-input", (*TIMM, ), ("input is required",), script=P),
    Case("predict-input-missing", (*TIMM, "input={tmp}/no_images"), ("no_images",), script=P),
    Case("predict-ckpt-missing", ("ckpt_path={tmp}/nope.ckpt", "input={shared}/pretrained/examples"), ("nope.ckpt",), script=P),
    Case("predict-top-k-zero", (*TIMM, "input={shared}/pretrained/examples", "top_k=0"), ("top_k=0",), script=P),
    Case("predict-batch-size-zero", (*TIMM, "input={shared}/pretrained/examples", "batch_size=0"), ("batch_size=0",), script=P),
    Case("predict-device-unknown", (*TIMM, "input={shared}/pretrained/examples", "device=banana"), ("device='banana'",), script=P),
]
# fmt: on


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _make_files(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def results(inputs, tmp_path_factory):
    return run_forked(CASES, inputs, tmp_path_factory.mktemp("values"))


def test_count() -> None:
    """Issue 12's target: at least 110 distinct bad inputs, in the two lists."""
    ids = [c.id for c in FIRST_CASES + CASES]
    assert len(set(ids)) == len(ids) >= 114


@pytest.mark.parametrize("case", [c.param for c in CASES])
def test_bad_value_is_one_line(case: Case, results, inputs) -> None:
    check_rejected(case, results, inputs)
