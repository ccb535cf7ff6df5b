"""The Hydra entry points of ``litexp train|eval|predict`` and of the clone's scripts.

One module per command, so Hydra names each job (and its ``<job>.log``) after it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

from litexp.cli import run_task
from litexp.packaging import conf_dir

CONF_DIR = str(conf_dir())  # an absolute folder: found wherever the command runs from
# The command while ``litexp <command>`` runs (set by litexp.main), else None.
active_command: str | None = None


def run_command(task: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """``run_task(task, cfg)`` with ``sys.argv`` as the user typed it.

    ``litexp.main`` hides the command word from Hydra's parser; while the task runs it is
    back, so Lightning's DDP launcher (``python <sys.argv>``), ``run.json`` and the
    printed resume command all start ``litexp train``.
    """
    argv = sys.argv
    if active_command is not None:
        sys.argv = [argv[0], active_command, *argv[1:]]
    try:
        return run_task(task, cfg)
    finally:
        sys.argv = argv
