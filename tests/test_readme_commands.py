"""Every command the README (and docs/*.md) shows, run through bash as a user types it.

The README is parsed at run time: its indented and fenced blocks, and inline code that
starts with a program (``python ...``, ``make ...``, ``tensorboard ...``), then each of
``docs/*.md`` the same way. Each command runs from the project root with only small
overrides appended (one epoch, a few batches, two Optuna trials), logs in a temporary
``LITEXP_LOG_DIR``, the README's ``../shared/data`` read from ``SHARED_DATA``;
placeholders (``<run>``, ``<best>.ckpt``, ``path/to/images``) become what an earlier
command of this session left. The files a user writes are fenced blocks whose info
string names them (```` ```python file=myproject/nets.py ````): they are written into
the session's working folder first, which is on ``PYTHONPATH``, and ``myconf`` names
its config folder. A command that cannot run here is in ``EXCUSED`` with the reason;
any other command is run, so a new README command is either run or explicitly excused.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import ROOT, SHARED_DATA, needs_shared_data, run_in_session

PROGRAMS = {
    "python",
    "litexp",
    "make",
    "tensorboard",
    "optuna-dashboard",
    "torchrun",
    "srun",
    "sbatch",
    "pytest",
    "pip",
}
EXCUSED = {
    "make test": "runs this whole suite, this test included",
    "make test-fast": "runs this suite (its fast part): a test running the suite",
    "pytest -m gpu": "runs this suite's GPU tests (needs a CUDA GPU)",
    "make bench": "every benchmark: tens of minutes of a busy CPU; benchmarks/ has its own checks",
    "python -m benchmarks.loop_overhead": "a benchmark: minutes of timing on an idle CPU",
    "pip install .": "installs litexp into the environment; tests/test_packaging.py installs the "
    "wheel into a fresh venv and runs the litexp command",
    "pip install 'litexp[mlflow]'": "installs a package (the dev extra already has mlflow; "
    "tests/test_mlflow.py runs logger=mlflow against a real mlflow server)",
    "pip install 'litexp[wandb]'": "installs a package (the dev extra already has wandb; "
    "tests/test_wandb.py runs logger=wandb offline and reads the run back)",
    "python train.py model=timm data=folder data.data_dir=path/to/images "
    "model.name=efficientnet_b0": "downloads efficientnet_b0's pretrained weights (no network "
    "in CI); the hymenoptera recipe command trains the same way from a local weights file",
    "python train.py -m hydra/launcher=slurm hydra.launcher.partition=gpu trainer=gpu "
    "model.lr=1e-3,1e-2": "needs a SLURM cluster",
    "srun python train.py trainer=ddp trainer.num_nodes=2 trainer.devices=4 "
    "hydra.run.dir=logs/train/runs/slurm_$SLURM_JOB_ID": "needs a SLURM cluster",
    "sbatch job.sh": "needs a SLURM cluster",
    "python train.py -m model.lr=1e-3,1e-2 data=circles,blobs resume=latest": "resumes the "
    "sweep a stop interrupted, with the same overrides (this test adds its own); "
    "tests/test_sweep_resume.py stops a sweep with SIGTERM and resumes it",
    "optuna-dashboard sqlite:///logs/train/optuna/circles_mlp/optuna.db": "a server that runs "
    "until stopped; tests/test_optuna_dashboard.py starts it on a free port and reads its API",
    "python train.py -m hparams_search=circles_optuna hydra.sweeper.n_trials=40": "a worker of "
    "a study on a PostgreSQL server; tests/test_postgres.py runs two on .ci/run's server",
    "torchrun --nnodes=2 --nproc-per-node=4 --node-rank=0 --master-addr=node0 "
    "--master-port=29500 train.py trainer=ddp trainer.num_nodes=2 trainer.devices=4 "
    "hydra.run.dir=/shared/logs/train/runs/exp1": "two machines with 4 GPUs each "
    "(tests/test_ddp_cpu.py runs torchrun on one machine)",
}
# Run only where there is a CUDA GPU (skipped, with this reason, elsewhere).
NEEDS_GPU = {
    "python train.py trainer=ddp",
    "python train.py -m trainer=ddp model.lr=1e-3,1e-2",
}
SHORT = [
    "trainer.limit_train_batches=16",
    "trainer.limit_val_batches=4",
    "trainer.limit_test_batches=4",
]  # any Trainer argument works without +
TOY_DATA = ("Circles", "Moons", "Blobs")
DATA_DIRS = {"fashion": "fashion_mnist", "mnist": "mnist"}  # data=<option>: its shared folder
# What the README names but only a user has; in this session:
IMAGES = SHARED_DATA / "pretrained" / "examples"


# A fenced block that is a file the user writes, not commands: ```python file=<path>
FILE_FENCE = re.compile(r"^\s*```\w*\s+file=(\S+)\s*$")
ENV_WORD = re.compile(r"^[A-Z_][A-Z0-9_]*=")  # VAR=value before the program


@dataclass(frozen=True)
class Command:
    text: str  # as in the README: comment dropped, continuations joined, spaces collapsed
    line: int
    output: tuple[str, ...] = ()  # what the README shows it printing (after ``$ command``)
    source: str = "README.md"


def program(words: list[str]) -> str:
    """The program a command line runs: its first word after any ``VAR=value``."""
    return next((w for w in words if not ENV_WORD.match(w)), "")


def user_files(text: str) -> dict[str, str]:
    """The files the README's ``file=`` blocks show: relative path -> content."""
    files: dict[str, str] = {}
    path: str | None = None
    for raw in text.splitlines():
        if path is None:
            match = FILE_FENCE.match(raw)
            if match:
                path, files[match.group(1)] = match.group(1), ""
        elif raw.lstrip().startswith("```"):
            path = None
        else:
            files[path] += raw + "\n"
    return files


def strip_comment(line: str) -> str:
    return re.sub(r"\s+#(\s.*)?$", "", line).strip()


def readme_commands(text: str, source: str = "README.md") -> list[Command]:
    """A markdown file's commands, in order, each once."""
    found: list[Command] = []
    lines = text.splitlines()
    fenced, in_block, pending, in_file = False, False, None, False
    logical: list[tuple[int, str]] = []  # (line number, text) with continuations joined
    for number, raw in enumerate(lines, 1):
        if raw.lstrip().startswith("```"):
            in_file = not fenced and bool(FILE_FENCE.match(raw))
            fenced = not fenced
            continue
        if in_file:  # a file's content, never commands
            logical.append((number, ""))
            continue
        in_block = fenced or (
            raw.startswith("    ") and (in_block or not lines[number - 2].strip())
        )
        if not in_block:
            logical.append((number, ""))
            continue
        if pending is not None:
            pending = (pending[0], pending[1] + " " + raw.strip())
        else:
            pending = (number, raw.strip())
        if pending[1].endswith("\\"):
            pending = (pending[0], pending[1][:-1].strip())
            continue
        logical.append(pending)
        pending = None
    shown: list[str] | None = None  # the output lines of the last ``$ command``
    for number, entry in logical:
        is_prompt = entry.startswith("$ ")
        body = " ".join(strip_comment(entry[2:] if is_prompt else entry).split())
        if program(body.split(" ")) in PROGRAMS:
            shown = [] if is_prompt else None
            found.append(Command(body, number, shown, source))  # type: ignore[arg-type]
        elif shown is not None and entry:
            shown.append(entry)
        else:
            shown = None
    found = [Command(c.text, c.line, tuple(c.output or ()), source) for c in found]
    # Inline code, outside fenced blocks (blanked out, keeping the line count).
    inline = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    for match in re.finditer(r"`([^`]+)`", inline):
        words = match.group(1).split()
        if len(words) > 1 and words[0] in PROGRAMS:
            line = inline.count("\n", 0, match.start()) + 1  # same lines as text
            found.append(Command(" ".join(words), line, (), source))
    unique: dict[str, Command] = {}
    for command in sorted(found, key=lambda c: c.line):
        unique.setdefault(command.text, command)
    return list(unique.values())


README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))
_ALL = readme_commands(README) + [
    c for doc in DOCS for c in readme_commands(doc.read_text(), f"docs/{doc.name}")
]
_UNIQUE: dict[str, Command] = {}
for _command in _ALL:  # each once, where it first appears
    _UNIQUE.setdefault(_command.text, _command)
COMMANDS = list(_UNIQUE.values())
FILES = user_files(README)


def test_excused_commands_are_still_in_the_readme():
    texts = {c.text for c in COMMANDS}
    assert not (set(EXCUSED) | NEEDS_GPU) - texts, "excused, but no longer in the README"


def test_readme_shows_files_for_its_workflow():
    assert {"myproject/nets.py", "myproject/data.py"} <= set(FILES), sorted(FILES)
    assert any(path.startswith("myconf/") for path in FILES), sorted(FILES)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    """One log directory for the whole file: later commands use earlier commands' runs.

    ``work/`` holds the files the README has the user write (on ``PYTHONPATH``).
    """
    home = tmp_path_factory.mktemp("readme")
    for rel, content in FILES.items():
        (home / "work" / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / "work" / rel).write_text(content)
    return home


def newest(pattern: str, keep=lambda path: True) -> str:
    found = [p for p in glob.glob(pattern) if keep(Path(p))]
    if not found:
        pytest.fail(f"no earlier README command left {pattern}: run this whole file")
    return max(found, key=os.path.getmtime)


def run_config(path: Path) -> dict:
    """config.yaml of the run a checkpoint (or run directory) belongs to."""
    run = next(p for p in (path, *path.parents) if (p / "config.yaml").is_file())
    return yaml.safe_load((run / "config.yaml").read_text())


def is_image_run(path: Path) -> bool:
    """A run of litexp's own image data (what predict.py's examples classify)."""
    target = run_config(path)["data"]["_target_"]
    return target.startswith("litexp.") and not target.endswith(TOY_DATA)


def same_run(words: list[str], data: bool = True) -> Callable[[Path], bool]:
    """Keeps the runs of the model and data a ``resume=<run>`` command names (``data``
    False: of the model alone, for ``init_from=``, which moves a model to other data)."""

    def target(group: str, default: str) -> str:
        option = next((w.split("=", 1)[1] for w in words if w.startswith(f"{group}=")), default)
        return yaml.safe_load((ROOT / "conf" / group / f"{option}.yaml").read_text())["_target_"]

    def keep(run: Path) -> bool:
        if run.suffix == ".ckpt":  # init_from=<run>/checkpoints/<best>.ckpt: its run
            run = run.parent.parent
        if not (run / "config.yaml").is_file():  # a run that stopped at a config error
            return False
        config = run_config(run)
        got = (config["model"]["_target_"], config["data"]["_target_"])
        return got == wanted if data else got[0] == wanted[0]

    wanted = (target("model", "mlp"), target("data", "circles"))
    return keep


def fill(token: str, logs: Path, words: tuple[str, ...] = ()) -> str:
    """The README's paths and placeholders made real for this session."""
    token = token.replace("../shared/data", str(SHARED_DATA))
    key, eq, value = token.rpartition("=") if "=" in token else ("", "", token)
    if value == "logs" or value.startswith("logs/"):
        value = str(logs) + value[len("logs") :]
    if value == "<best>.ckpt":  # a checkpoint of image data, for predict.py
        value = newest(f"{logs}/*/runs/*/checkpoints/epoch*.ckpt", is_image_run)
    elif "<" in value:
        pattern = value.replace("<run>", "*").replace("<sweep>", "*").replace("<best>", "epoch*")
        keep = (
            (lambda p: True)
            if key not in ("resume", "init_from")
            else same_run(list(words), data=key == "resume")
        )
        value = newest(pattern, keep)
    elif value in ("path/to/images", "<image or folder>"):
        value = str(IMAGES)
    elif value == "myconf":  # the user's config folder, written from the README's files
        value = str(logs.parent / "work" / "myconf")
    elif value == "...":
        value = "1e-3,1e-2"
    if re.search(r"<\w+>|path/to/|\.\.\.", value):
        pytest.fail(f"unknown placeholder {value!r}: teach fill() about it, or excuse the command")
    return key + eq + value


def kind_of(words: list[str]) -> str:
    """train | eval | predict | help (train's) | tensorboard | other."""
    words = words[words.index(program(words)) :]  # after any VAR=value
    task = "other"
    if words[0] == "tensorboard":
        task = "tensorboard"
    elif words[:2] == ["make", "train"]:
        task = "train"
    elif words[0] == "python" and len(words) > 1 and words[1].endswith(".py"):
        task = Path(words[1]).stem
    elif words[0] == "litexp" and len(words) > 1 and words[1] in ("train", "eval", "predict"):
        task = words[1]
    if "--help" in words:
        return "help" if task == "train" else "other"
    return task


def recipe_file(words: list[str], recipe: str) -> Path:
    """``experiment=<recipe>``'s file: in the ``-cd`` folder the command names, else litexp's."""
    folders = [
        Path(b) for a, b in zip(words[:-1], words[1:], strict=True) if a in ("-cd", "--config-dir")
    ]
    for folder in [*folders, ROOT / "conf"]:
        if (folder / "experiment" / f"{recipe}.yaml").is_file():
            return folder / "experiment" / f"{recipe}.yaml"
    raise AssertionError(f"experiment={recipe}: no such recipe in {[*folders, ROOT / 'conf']}")


def extras(words: list[str], logs: Path) -> list[str]:
    """The small overrides that keep a training command short."""
    epochs = 1
    if any(w.startswith("resume=") for w in words):  # one epoch more than any run so far
        asked = [
            run_config(Path(p))["trainer"]["max_epochs"]
            for p in glob.glob(f"{logs}/*/runs/*/config.yaml")
        ]
        epochs = 1 + max(asked, default=0)
    out = [f"trainer.max_epochs={epochs}", *SHORT]
    for option, folder in DATA_DIRS.items():  # the shared copy, not a download
        if f"data={option}" in words and not any(w.startswith("data.data_dir=") for w in words):
            out.append(f"data.data_dir={SHARED_DATA / folder}")
    recipe = next((w.split("=", 1)[1] for w in words if w.startswith("experiment=")), None)
    if recipe and not any(w.startswith("data.data_dir=") for w in words):
        # A recipe names the shared copy relative to the clone (../shared/data/...):
        # read from SHARED_DATA, as the README's own ../shared/data paths are.
        conf = yaml.safe_load(recipe_file(words, recipe).read_text())
        data_dir = str((conf.get("data") or {}).get("data_dir", ""))
        if data_dir.startswith("../shared/data"):
            out.append(f"data.data_dir={data_dir.replace('../shared/data', str(SHARED_DATA))}")
    search = next((w.split("=", 1)[1] for w in words if w.startswith("hparams_search=")), None)
    if search:  # two trials more than the study (which persists between commands) has
        conf = yaml.safe_load((ROOT / "conf" / "hparams_search" / f"{search}.yaml").read_text())
        done = glob.glob(f"{logs}/*/optuna/{conf['hydra']['sweeper']['study_name']}/*/metrics.json")
        out.append(f"hydra.sweeper.n_trials={len(done) + 2}")
    return out


def expected_jobs(words: list[str]) -> int:
    """Jobs of a ``-m`` sweep: the product of the comma lists (2 for an Optuna search)."""
    if any(w.startswith("hparams_search=") for w in words):
        return 2
    values = [w.split("=", 1)[1] for w in words if "=" in w and not re.search(r"[\[({]", w)]
    jobs = math.prod(len(v.split(",")) for v in values)
    recipe = next((w.split("=", 1)[1] for w in words if w.startswith("experiment=")), None)
    if recipe:  # a comparison recipe sweeps its own hydra.sweeper.params too
        conf = yaml.safe_load(recipe_file(words, recipe).read_text())
        params = ((conf.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
        typed = {w.split("=", 1)[0].lstrip("+~") for w in words if "=" in w}
        jobs *= math.prod(_choices(str(v)) for k, v in params.items() if k not in typed)
    return jobs


def _choices(value: str) -> int:
    """The values of a sweep's ``a,b,c`` (commas inside brackets belong to one value)."""
    depth, count = 0, 1
    for char in value:
        depth += char in "[({"
        depth -= char in "])}"
        count += char == "," and depth == 0
    return count


def metrics_files(logs: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in logs.rglob("metrics.json")}


def run_bash(command: str, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    """``bash -c command`` from the project root; on a timeout its whole session is killed."""
    return run_in_session(["bash", "-c", command], env, timeout)


def check_tensorboard(command: str, env: dict) -> None:
    """Start the server, check that it answers and lists runs, stop it."""
    proc = subprocess.Popen(
        ["bash", "-c", command + " --port 0"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    watchdog = threading.Timer(120, os.killpg, (proc.pid, signal.SIGKILL))
    watchdog.start()
    try:
        url, seen = None, []
        while url is None and (line := proc.stderr.readline()):
            seen.append(line)
            url = next(iter(re.findall(r"http://\S+/", line)), None)
        assert url, f"tensorboard printed no address: {''.join(seen)}"
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200
        deadline, runs = time.monotonic() + 60, []
        while not runs and time.monotonic() < deadline:
            time.sleep(1)
            with urllib.request.urlopen(url + "data/runs", timeout=10) as answer:
                runs = json.loads(answer.read())
        assert runs, "tensorboard lists no runs"
    finally:
        watchdog.cancel()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# A command naming one of these reads the shared data (or a checkpoint trained on it).
SHARED_WORDS = ["fashion", "mnist", "shared/data", "timm", "folder", "hymenoptera", "predict"]
SHARED_WORDS += ["<best>"]


def command_param(command: Command) -> object:
    """The command for ``parametrize``: one of image data needs the shared data sets."""
    shared = any(word in command.text for word in SHARED_WORDS)
    marks = [needs_shared_data()] if shared else []
    where = "" if command.source == "README.md" else command.source.removeprefix("docs/") + ":"
    return pytest.param(command, id=f"{where}L{command.line}:{command.text[:60]}", marks=marks)


def check_run(run: Path, summary: dict) -> None:
    """What README's "What a run leaves behind" promises."""
    assert summary["status"] == "completed", summary
    assert "test/acc" in summary["metrics"], summary
    assert Path(summary["best_checkpoint"]).is_file(), summary
    for name in ("run.json", "config.yaml", ".hydra", "checkpoints/last.ckpt"):
        assert (run / name).exists(), f"{run} has no {name}"
    assert list(run.rglob("events.out.tfevents.*")), f"{run}: no TensorBoard events"


@pytest.mark.slow
@pytest.mark.parametrize("command", [command_param(c) for c in COMMANDS])
def test_readme_command(command: Command, session: Path) -> None:
    if command.text in EXCUSED:
        pytest.skip(f"excused: {EXCUSED[command.text]}")
    if command.text in NEEDS_GPU and not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    logs = session / "logs"
    env = {
        **os.environ,
        "LITEXP_LOG_DIR": str(logs),
        "LITEXP_DATA_DIR": str(session / "data"),
        "HF_HUB_OFFLINE": "1",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(session / "work"), os.environ.get("PYTHONPATH")])
        ),
    }
    bin_dir = session / "bin"
    if not shutil.which("litexp") and not bin_dir.exists():  # what `pip install` would write
        bin_dir.mkdir()
        (bin_dir / "litexp").write_text(
            f"#!{sys.executable}\nimport sys\nfrom litexp.main import main\nsys.exit(main())\n"
        )
        (bin_dir / "litexp").chmod(0o755)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    text = command.text.replace("<image or folder>", "path/to/images")  # one word for shlex
    typed = tuple(shlex.split(text))
    words = [fill(w, logs, typed) for w in typed]
    kind = kind_of(words)
    if kind == "tensorboard":
        check_tensorboard(shlex.join(words), env)
        return
    if kind == "train" and not command.output:
        more = extras(words, logs)
        if words[0] == "make":  # make passes ARGS on to train.py
            args = next((w for w in words if w.startswith("ARGS=")), "ARGS=")
            value = " ".join(filter(None, [args[len("ARGS=") :], *more]))
            words = [w for w in words if w != args] + [f"ARGS={value}"]
        else:
            words += more
    before = metrics_files(logs) if logs.exists() else {}
    predictions = set(logs.glob("predict/runs/*/predictions.csv"))
    done = run_bash(shlex.join(words), env)
    said = done.stdout + done.stderr
    if command.output:  # the README shows what it prints
        for line in command.output:
            assert line in said, f"{command.text}: README shows {line!r}; got:\n{said[-3000:]}"
        assert done.returncode == (2 if command.output[0].startswith("litexp: error:") else 0)
        return
    assert done.returncode == 0, f"{shlex.join(words)}\nexit {done.returncode}:\n{said[-4000:]}"
    changed = (
        [p for p, t in metrics_files(logs).items() if before.get(p) != t] if logs.exists() else []
    )
    summaries = {p.parent: json.loads(p.read_text()) for p in changed}
    if kind == "other" and words[0] == "litexp":  # litexp --help
        assert all(task in done.stdout for task in ("train", "eval", "predict")), done.stdout
    if kind == "help":
        for group in (ROOT / "conf").iterdir():
            options = sorted(p.stem for p in group.glob("*.yaml"))
            if group.is_dir() and group.name != "hydra" and options:
                assert f"{group.name}: {', '.join(options)}" in done.stdout, group.name
    elif kind == "train":
        sweep = "-m" in words or "--multirun" in words
        assert len(summaries) == (expected_jobs(words) if sweep else 1), sorted(summaries)
        for run, summary in summaries.items():
            check_run(run, summary)
        if sweep:
            (where,) = {run.parent for run in summaries}
            assert (where / "summary.csv").is_file() and (where / "summary.md").is_file()
        if "resume=latest" in words:
            (run,) = summaries
            assert f"resume=latest: continuing {run}" in done.stderr
    elif kind == "eval":
        ((run, summary),) = summaries.items()
        assert summary["status"] == "completed" and "test/acc" in summary["metrics"], summary
    elif kind == "predict":
        (csv,) = set(logs.glob("predict/runs/*/predictions.csv")) - predictions
        assert len(csv.read_text().splitlines()) > 1, csv.read_text()
