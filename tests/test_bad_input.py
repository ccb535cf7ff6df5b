"""Bad input through the command line: one clear line, a non-zero exit, before
training, and nothing left behind that looks like a good run.

Each case runs ``train.py`` / ``eval.py`` as ``__main__`` with its own argv, environment
and log directory, exactly as from a shell, but forked from one server process that
has imported torch and Lightning once (a fresh interpreter spends ~7 s of CPU on
those imports, and there are 30 cases). ``test_fork_server_matches_a_fresh_process``
checks that the two ways give the same result, through ``run_cli``.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import signal
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from litexp.config import to_plain
from litexp.spec import spec_of
from litexp.train import build_data_and_model
from tests.conftest import ROOT, SHARED_DATA, compose_config, needs_shared_data, run_cli

JOB_TIMEOUT_S = 90  # each case fails in seconds; one that trains is killed (SIGALRM)


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # "{name}" is replaced by the file of that name (see ``files``)
    words: tuple[str, ...]  # all must be in stderr
    script: str = "train.py"
    status: int = 2  # a user error exits 2 (a -m sweep's summary: 1)

    @property
    def base(self) -> tuple[str, ...]:
        return () if self.script == "predict.py" else ("trainer=cpu",)  # predict has no trainer

    @property
    def param(self) -> object:
        """The case for ``parametrize``; one naming ``{shared}/<set>`` needs that data set."""
        sets = sorted({m for a in self.args for m in re.findall(r"\{shared\}/(\w+)", a)})
        return pytest.param(self, id=self.id, marks=[needs_shared_data(*sets)] if sets else [])

    def argv(self, files: dict[str, str]) -> list[str]:
        """Flags (``-m``) first, then the CPU trainer, then the case's overrides."""
        args = [a.format(**files) for a in self.args]
        flags = [a for a in args if a.startswith("-")]
        return [*flags, *self.base, *(a for a in args if a not in flags)]


# fmt: off
CASES = [
    # Unknown options and keys (Hydra's strict mode), before anything is imported.
    Case("unknown-model", ("model=transformer",), ("model=transformer is not an option of model", "cnn, mlp, timm")),
    Case("unknown-data", ("data=imagenet",), ("data=imagenet is not an option of data", "circles", "moons")),
    Case("unknown-trainer", ("trainer=tpu",), ("trainer=tpu is not an option of trainer", "cpu")),
    Case("unknown-model-key", ("model.hiden_sizes=[8]",), ("model.hiden_sizes is not a key of model", "did you mean model.hidden_sizes?")),
    Case("unknown-top-key", ("learning_rate=0.1",), ("learning_rate is not a top-level key",)),
    # Where the run goes: checked before Hydra creates the run directory.
    Case("resume-missing", ("resume={tmp}/no_such_run",), ("resume=", "no_such_run does not exist", "resume=latest")),
    Case("resume-latest-none", ("resume=latest",), ("resume=latest found no run with a checkpoint",)),
    Case("resume-not-a-run", ("resume={empty_dir}",), ("is not a litexp run directory",)),
    Case("log-dir-under-a-file", ("paths.log_dir={a_file}/logs",), ("cannot be created", "is a file, not a directory", "paths.log_dir")),
    # Model values (issue 2's list and more).
    Case("hidden-sizes-empty", ("model.hidden_sizes=[]",), ("model.hidden_sizes=[] is invalid", "non-empty list of positive integers")),
    Case("hidden-sizes-zero", ("model.hidden_sizes=[64,0]",), ("model.hidden_sizes=[64, 0] is invalid",)),
    Case("dropout-above-one", ("model.dropout=1.5",), ("model.dropout=1.5 is invalid", "[0, 1)")),
    Case("lr-zero", ("model.lr=0",), ("model.lr=0 is invalid", "> 0")),
    Case("lr-negative", ("model.lr=-0.01",), ("model.lr=-0.01 is invalid",)),
    Case("activation-unknown", ("model.activation=swish",), ("activation='swish' is unknown", "relu", "gelu")),
    Case("optimizer-unknown", ("model.optimizer._target_=torch.optim.Adamm",), ("torch.optim.Adamm", "importable")),
    # Data values.
    Case("batch-size-zero", ("data.batch_size=0",), ("data.batch_size=0 is invalid", ">= 1")),
    Case("num-classes-one", ("data=blobs", "data.num_classes=1"), ("data.num_classes=1 is invalid", ">= 2")),
    Case("n-samples-too-small", ("data.n_samples=5",), ("n_samples=5 is too small for the splits", "n_samples >=")),
    Case("fraction-above-one", ("data.val_fraction=1.5",), ("data.val_fraction=1.5 is invalid", "fraction")),
    # Trainer and run values.
    Case("max-epochs-zero", ("trainer.max_epochs=0",), ("trainer.max_epochs=0 is invalid", ">= 1")),
    Case("precision-unknown", ("trainer.precision=banana",), ("trainer.precision='banana' is invalid", "bf16-mixed")),
    Case("seed-negative", ("seed=-1",), ("seed=-1 is invalid",)),
    # Image models and data (real, read-only data under {shared}).
    Case("cnn-channels-empty", ("model=cnn", "data=fashion", "data.data_dir={shared}/fashion_mnist", "model.channels=[]"), ("model.channels=[] is invalid", "one positive integer per block")),
    Case("cnn-too-deep-for-28px", ("model=cnn", "data=fashion", "data.data_dir={shared}/fashion_mnist", "model.channels=[8,8,8,8,8,8]"), ("6 blocks halve a 28x28 image to nothing", "at most 4 blocks")),
    Case("fashion-not-found", ("model=cnn", "data=fashion", "data.data_dir={tmp}/no_fashion", "data.download=false"), ("Fashion-MNIST not found", "no_fashion", "data.data_dir=")),
    Case("timm-name-typo", ("model=timm", "data=folder", "data.data_dir={shared}/hymenoptera_data", "model.name=mobilenetv2_10"), ("model.name='mobilenetv2_10' is not a timm model", "did you mean", "mobilenetv2_100")),
    Case("folder-not-found", ("model=timm", "data=folder", "data.data_dir={tmp}/no_images"), ("no_images is not a folder", "data.data_dir=")),
    Case("folder-not-given", ("model=timm", "data=folder"), ("data.data_dir is required",)),
    Case("mlp-on-image-folder", ("model=mlp", "data=folder", "data.data_dir={shared}/hymenoptera_data"), ("needs inputs of one fixed size", "use model=timm")),
    Case("own-net-on-image-folder", ("model=classifier", "model.net._target_=torch.nn.LazyLinear", "data=folder", "data.data_dir={shared}/hymenoptera_data"), ("FolderData needs a model that states how its images are prepared", "use model=timm")),
    Case("cnn-on-points", ("model=cnn", "data=circles"), ("FashionCNN needs images", "use model=mlp")),
    # Checkpoints.
    Case("init-from-truncated", ("init_from={truncated}",), ("{truncated}", "truncated")),
    Case("init-from-other-model", ("init_from={other_model}",), ("init_from={other_model} does not fit this model", "net.layers.1.weight has shape (8, 2) in the checkpoint, (64, 2) here", "4 classes")),
    Case("resume-other-config", ("resume={other_run}",), ("that run was trained with", "model.hidden_sizes=[8]")),
    Case("resume-in-a-sweep", ("-m", "resume={other_run}", "seed=1,2"), ("{other_run} is not a sweep directory", "resume=latest")),
    Case("ckpt-path-on-train", ("ckpt_path={other_model}",), ("ckpt_path={other_model} is for eval.py and predict.py", "resume=<its run directory>", "init_from={other_model}")),
    Case("eval-truncated", ("ckpt_path={truncated}",), ("{truncated}", "truncated"), script="eval.py"),
    Case("eval-code-in-checkpoint", ("ckpt_path={evil}",), ("{evil} was refused", "could run code"), script="eval.py"),
    Case("predict-truncated", ("ckpt_path={truncated}", "input={shared}/pretrained/examples"), ("{truncated}", "truncated"), script="predict.py"),
    Case("eval-no-checkpoint-given", (), ("ckpt_path is required",), script="eval.py"),
]
# fmt: on


class _WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _make_files(root: Path) -> dict[str, str]:
    """The files the cases point at: damaged, malicious and foreign checkpoints."""
    cfg = compose_config(
        "train",
        ["data=blobs", "model.hidden_sizes=[8]", f"paths.output_dir={root / 'other_run'}"],
    )
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    meta = {"format": 1, "config": to_plain(cfg), "data": spec_of(datamodule).to_dict()}
    other = root / "other_run" / "checkpoints" / "last.ckpt"
    other.parent.mkdir(parents=True)
    torch.save({"litexp": meta, "state_dict": model.state_dict(), "global_step": 5}, other)
    truncated = root / "truncated.ckpt"
    truncated.write_bytes(other.read_bytes()[:2000])
    evil = root / "evil.ckpt"
    torch.save({"litexp": meta, "state_dict": {}, "x": _WritesMarker(root / "marker")}, evil)
    (root / "empty_dir").mkdir()
    (root / "a_file").write_text("not a directory")
    return {
        "shared": str(SHARED_DATA),
        "tmp": str(root),
        "other_model": str(other),
        "other_run": str(other.parent.parent),
        "truncated": str(truncated),
        "evil": str(evil),
        "empty_dir": str(root / "empty_dir"),
        "a_file": str(root / "a_file"),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _make_files(tmp_path_factory.mktemp("inputs"))


def serve() -> None:
    """Fork server: read jobs (JSON) on stdin, run each as a fork, print exit codes."""
    import litexp.cli
    import litexp.evaluate
    import litexp.train  # noqa: F401 (the imports that take seconds, done once)

    jobs = json.loads(sys.stdin.read())
    codes: dict[str, int] = {}
    running: dict[int, str] = {}
    for job in jobs:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_as_main(job)
        running[pid] = job["id"]
        while len(running) >= 2 or (job is jobs[-1] and running):
            pid, status = os.wait()
            codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
    print(json.dumps(codes))


def _run_as_main(job: dict) -> None:
    """In the forked child: ``python <script> <args>`` with the job's env; never returns."""
    code = 1
    try:
        os.chdir(ROOT)
        signal.alarm(JOB_TIMEOUT_S)  # a case that trains instead of failing ends here
        os.environ.update(job["env"])
        for fd, name in ((1, "stdout"), (2, "stderr")):
            os.dup2(os.open(job[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        script = str(ROOT / job["script"])
        sys.argv = [script, *job["args"]]
        try:
            runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as stop:  # as the interpreter would turn it into a status
            if isinstance(stop.code, int) or stop.code is None:
                code = stop.code or 0
            else:
                print(stop.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_forked(cases: list[Case], files: dict[str, str], root: Path) -> dict[str, tuple]:
    """(CompletedProcess, its log root) per case, run through the fork server."""
    jobs = []
    for case in cases:
        cwd = root / case.id
        cwd.mkdir()
        jobs.append(
            {
                "id": case.id,
                "script": case.script,
                "args": case.argv(files),
                "env": {"LITEXP_LOG_DIR": str(cwd / "logs"), "LITEXP_DATA_DIR": str(cwd / "data")},
                "stdout": str(cwd / "stdout.txt"),
                "stderr": str(cwd / "stderr.txt"),
            }
        )
    server = subprocess.run(
        [sys.executable, "-c", "from tests.test_bad_input import serve; serve()"],
        input=json.dumps(jobs),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert server.returncode == 0, server.stderr[-3000:]
    codes = json.loads(server.stdout.strip().splitlines()[-1])
    out = {}
    for job in jobs:
        proc = subprocess.CompletedProcess(
            job["args"],
            codes[job["id"]],
            Path(job["stdout"]).read_text(),
            Path(job["stderr"]).read_text(),
        )
        out[job["id"]] = (proc, Path(job["stdout"]).parent)
    return out


@pytest.fixture(scope="module")
def results(files, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    return run_forked(CASES, files, tmp_path_factory.mktemp("cases"))


def test_at_least_25_distinct_cases() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 25


@pytest.mark.parametrize("case", [c.param for c in CASES])
def test_bad_input_is_rejected(case: Case, results, files) -> None:
    check_rejected(case, results, files)


def check_rejected(case: Case, results: dict[str, tuple], files: dict[str, str]) -> None:
    """One ``litexp: error:`` line with the case's words, its status, nothing trained."""
    proc, cwd = results[case.id]
    assert proc.returncode == case.status, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for words in case.words:
        assert words.format(**files) in proc.stderr, proc.stderr[-2000:]
    if case.status == 2:  # ours: exactly one line
        errors = [line for line in proc.stderr.splitlines() if line.startswith("litexp: error:")]
        assert len(errors) == 1, proc.stderr[-2000:]
    # Nothing that looks like a good run: no checkpoint, no completed metrics.json.
    assert not list(cwd.rglob("*.ckpt"))
    for path in cwd.rglob("metrics.json"):
        summary = json.loads(path.read_text())
        assert summary["status"] == "failed" and summary["error"], summary
    assert not (Path(files["tmp"]) / "marker").exists()  # no code ran from a checkpoint
    # A refused resume leaves the run's own files alone.
    assert not (Path(files["other_run"]) / "metrics.json").exists()


@pytest.mark.parametrize("case_id", ["unknown-model", "lr-zero"])
def test_fork_server_matches_a_fresh_process(case_id: str, results, files, tmp_path) -> None:
    case = next(c for c in CASES if c.id == case_id)
    fresh = run_cli(case.script, *case.argv(files), cwd=tmp_path)
    forked, _ = results[case_id]
    assert fresh.returncode == forked.returncode
    last = [line for line in fresh.stderr.splitlines() if line.strip()][-1]
    assert last in forked.stderr
