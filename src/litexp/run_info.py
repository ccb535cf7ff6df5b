"""``run.json``: what it takes to reproduce a run (command, code, versions, hardware)."""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from litexp.packaging import CONSOLE_SCRIPT, as_typed, console_command
from litexp.run_files import write_json_atomic

RUN_INFO_FILE = "run.json"
PACKAGES = ("litexp", "torch", "lightning", "timm", "hydra-core", "omegaconf", "torchmetrics")
# A clone litexp runs from (``python train.py``, an editable install); in a wheel's
# install this is no checkout, and litexp's version says which code ran.
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def command_line(argv: list[str] | None = None) -> str:
    """The command as typed: ``python train.py model=cnn ...`` or ``litexp train model=cnn ...``."""
    argv = [as_typed(a) for a in (sys.argv if argv is None else argv)]
    if console_command(argv):
        return shlex.join([CONSOLE_SCRIPT, *argv[1:]])
    return shlex.join(["python", *argv])


def git_state(root: Path | None = None) -> dict[str, Any]:
    """The commit of ``root`` (default: the working directory, the user's project) and
    whether its tree had uncommitted changes; both None outside a git repository."""
    root = Path.cwd() if root is None else root

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def source_git_state() -> dict[str, Any] | None:
    """The git state of the clone litexp runs from, if any and not the working directory."""
    cwd = Path.cwd().resolve()
    if not (SOURCE_ROOT / ".git").exists() or SOURCE_ROOT in (cwd, *cwd.parents):
        return None
    return git_state(SOURCE_ROOT)


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    import torch

    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if torch.cuda.is_available()
        else []
    )
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpus": gpus,
        "platform": platform.platform(),
        "hostname": platform.node(),
    }


def session() -> dict[str, Any]:
    """This process: when, what command, which code, which versions, which machine."""
    return {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
        "cwd": os.getcwd(),
        "git": git_state(),  # the user's project, where the command ran
        # litexp's own checkout, when it runs from one that is not the working directory
        "litexp_git": source_git_state(),
        "versions": versions(),
        "hardware": hardware(),
    }


def write_run_info(run_dir: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Write ``<run_dir>/run.json``; a resumed run keeps the first session and adds its own."""
    path = run_dir / RUN_INFO_FILE
    info: dict[str, Any] = {"config": config, **session()}
    if path.is_file():
        try:
            first = json.loads(path.read_text())
        except ValueError:
            first = None
        if isinstance(first, dict):
            resumes = first.pop("resumes", [])
            info = {
                **first,
                "resumes": [*resumes, {k: v for k, v in info.items() if k != "config"}],
            }
    write_json_atomic(path, info)
    return info
