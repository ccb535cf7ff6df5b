"""litexp as a user installs it: a wheel from a clean clone, in a fresh venv, run as
``litexp <command>`` from a directory of the user's, with their own config folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from litexp.resume import resume_command
from litexp.run_info import command_line
from tests.conftest import ROOT, only_run_dir, read_metrics, run_cli

# A user's model: litexp's mlp group with another width, in their own folder.
MINE = "defaults:\n  - mlp\nhidden_sizes: [8]\n"


def sh(*cmd: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``cmd`` as a user's shell would: no PYTHONPATH, no LITEXP_* directories."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("LITEXP_")}
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``pip install <wheel>`` into a fresh venv; the wheel built from a clone of HEAD."""
    tmp = tmp_path_factory.mktemp("packaging")
    clone, wheels, venv = tmp / "clone", tmp / "wheels", tmp / "venv"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    # No build isolation: it would fetch setuptools from an index; this one is enough.
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = sh(
        *pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, clone, cwd=tmp
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("litexp-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # The dependencies (torch alone is gigabytes) come from this project's venv: a .pth
    # line appends its site-packages to the new venv's sys.path, after the venv's own,
    # so litexp itself is the wheel's. A directory named in a .pth is not scanned for
    # .pth files, so the project's editable install of litexp stays out.
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "project-deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    done = sh(
        *pip, "--python", venv / "bin" / "python", "install", "-q", "--no-deps", wheel, cwd=tmp
    )
    assert done.returncode == 0, done.stderr
    work = tmp / "project"  # the user's own directory, outside the clone
    (work / "myconf" / "model").mkdir(parents=True)
    (work / "myconf" / "model" / "mine.yaml").write_text(MINE)
    return {"bin": venv / "bin", "wheel": wheel, "work": work, "clone": clone}


@pytest.mark.slow
def test_the_wheel_holds_the_configs_and_the_command_lists_its_subcommands(installed) -> None:
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    clone = installed["clone"]
    conf = sorted(p.relative_to(clone).as_posix() for p in (clone / "conf").rglob("*.yaml"))
    assert sorted(n.removeprefix("litexp/") for n in names if n.startswith("litexp/conf/")) == conf
    assert "hydra_plugins/litexp_searchpath/litexp_searchpath.py" in names
    assert "hydra_plugins/litexp_optuna_sweeper/_impl.py" in names

    work, litexp = installed["work"], installed["bin"] / "litexp"
    where = sh(installed["bin"] / "python", "-c", "import litexp; print(litexp.__file__)", cwd=work)
    assert where.stdout.startswith(str(installed["bin"].parent)), where.stdout  # not the clone's
    usage = sh(litexp, "--help", cwd=work)
    assert usage.returncode == 0
    for command in ("train", "eval", "predict"):
        assert f"\n  {command} " in usage.stdout
    bare = sh(litexp, cwd=work)
    assert bare.returncode == 2 and "litexp train" in bare.stderr
    typo = sh(litexp, "trian", cwd=work)
    assert typo.returncode == 2
    assert typo.stderr.startswith("litexp: error: unknown command 'trian': did you mean 'train'?")
    hydra_help = sh(litexp, "train", "--help", cwd=work)
    assert hydra_help.returncode == 0 and "model: classifier, cnn, mlp, timm" in hydra_help.stdout


@pytest.mark.slow
def test_installed_litexp_trains_and_evaluates_from_the_users_directory(installed) -> None:
    work, litexp = installed["work"], installed["bin"] / "litexp"
    trained = sh(litexp, "train", "trainer.max_epochs=2", cwd=work)
    assert trained.returncode == 0, trained.stderr
    run = only_run_dir(work / "logs" / "train")  # ./logs of where the command ran
    summary = read_metrics(run)
    assert summary["status"] == "completed"
    assert summary["metrics"]["test/acc"] > 0.9  # mlp on circles, the default experiment
    assert (run / "train.log").is_file()
    info = json.loads((run / "run.json").read_text())
    assert info["command"].startswith("litexp train ")  # not python <venv>/bin/litexp
    assert info["command"].endswith("trainer.max_epochs=2")
    assert info["git"] == {"commit": None, "dirty": None}  # the user's directory: no repo
    assert info["versions"]["litexp"] == installed["wheel"].name.split("-")[1]  # 0.1.0

    evaluated = sh(litexp, "eval", f"ckpt_path={summary['best_checkpoint']}", cwd=work)
    assert evaluated.returncode == 0, evaluated.stderr
    result = read_metrics(only_run_dir(work / "logs" / "eval"))
    assert result["metrics"]["test/acc"] == pytest.approx(summary["metrics"]["test/acc"])


def model_config(run: Path) -> dict:
    return yaml.safe_load((run / ".hydra" / "config.yaml").read_text())["model"]


@pytest.mark.slow
def test_a_users_config_folder_joins_litexps_groups(installed, tmp_path) -> None:
    work, litexp = installed["work"], installed["bin"] / "litexp"
    # -cd: myconf has no train.yaml; train.yaml and the mlp it extends are litexp's.
    logs = work / "logs-mine"
    trained = sh(litexp, "train", "-cd", "myconf", "model=mine", "trainer.max_epochs=1",
                 f"paths.log_dir={logs}", cwd=work)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    model = model_config(only_run_dir(logs))
    assert model["hidden_sizes"] == [8] and model["_target_"] == "litexp.models.MLP"
    # The same folder through hydra.searchpath, and as the primary folder (-cp), where
    # litexp's search-path plugin supplies train.yaml.
    for how in (["hydra.searchpath=[file://./myconf]"], ["-cp", str(work / "myconf")]):
        job = sh(litexp, "train", *how, "model=mine", "--cfg", "job", cwd=work)
        assert job.returncode == 0, job.stderr
        assert yaml.safe_load(job.stdout)["model"]["hidden_sizes"] == [8], how
    # A clone's python train.py takes the same folder.
    clone_run = run_cli("train.py", "-cd", str(work / "myconf"), "model=mine",
                        "trainer.max_epochs=1", cwd=tmp_path)  # fmt: skip
    assert clone_run.returncode == 0, clone_run.stderr
    assert model_config(only_run_dir(tmp_path / "logs"))["hidden_sizes"] == [8]


def test_the_printed_commands_are_the_ones_typed(monkeypatch) -> None:
    """run.json and the resume hint repeat ``litexp train`` or ``python train.py``."""
    monkeypatch.setattr(sys, "argv", ["/venv/bin/litexp", "train", "data=moons"])
    assert command_line() == "litexp train data=moons"
    hint = resume_command(Path("logs/r"), ["data=moons", "hydra.run.dir=x"])
    assert hint == "litexp train data=moons resume=logs/r"
    monkeypatch.setattr(sys, "argv", ["train.py", "data=moons"])
    assert command_line() == "python train.py data=moons"
    assert (
        resume_command(Path("logs/r"), ["data=moons"]) == "python train.py data=moons resume=logs/r"
    )
