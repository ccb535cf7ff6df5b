"""Where litexp's config groups are, and how the running command was typed.

A leaf module (standard library only): the Hydra search-path plugin imports it in
every Hydra application of the environment, so it must be cheap and cycle-free.
"""

from __future__ import annotations

from pathlib import Path

CONSOLE_SCRIPT = "litexp"  # [project.scripts] in pyproject.toml
COMMANDS = ("train", "eval", "predict")
_PACKAGE = Path(__file__).resolve().parent


def conf_dir() -> Path:
    """litexp's config folder: ``litexp/conf`` in an installed wheel, else the clone's ``conf/``.

    The wheel gets a copy of the top-level ``conf/`` at build time (setup.py); a clone, or
    an editable install, reads ``conf/`` itself, so an edit there takes effect at once.
    """
    packaged = _PACKAGE / "conf"
    return packaged if packaged.is_dir() else _PACKAGE.parents[1] / "conf"


def console_command(argv: list[str]) -> str | None:
    """The command of ``litexp <command> ...`` (e.g. ``"train"``); None for a script."""
    if len(argv) > 1 and Path(argv[0]).stem == CONSOLE_SCRIPT and argv[1] in COMMANDS:
        return argv[1]
    return None


def script_argv(argv: list[str]) -> list[str]:
    """What starts this process again, without its overrides: ``[litexp, train]`` or ``[train.py]``."""
    return argv[:2] if console_command(argv) else argv[:1]


def as_typed(override: str) -> str:
    """An override as the user typed it: ``trainer.x=v``, which the command line turns
    into ``++trainer.x=v`` for Hydra (``litexp.cli.trainer_args_anywhere``)."""
    return override[2:] if override.startswith("++trainer.") else override
