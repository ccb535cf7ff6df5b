"""The ``litexp`` console command: ``litexp train|eval|predict [overrides]``."""

from __future__ import annotations

import difflib
import sys
from importlib import import_module, metadata

import litexp.commands
from litexp.cli import run_main
from litexp.packaging import COMMANDS, CONSOLE_SCRIPT

USAGE = f"""\
usage: {CONSOLE_SCRIPT} <command> [group=option ...] [key=value ...] [Hydra flags]

commands:
  train     train a model:     {CONSOLE_SCRIPT} train model=cnn data=fashion
  eval      test a checkpoint: {CONSOLE_SCRIPT} eval ckpt_path=<file.ckpt>
  predict   classify images:   {CONSOLE_SCRIPT} predict ckpt_path=<file.ckpt> input=<image or folder>

'{CONSOLE_SCRIPT} <command> --help' lists a command's options; '-cd <folder>' adds your own
config folder (e.g. <folder>/model/mine.yaml for model=mine) to litexp's groups.
"""


def main(argv: list[str] | None = None) -> None:
    """Run the command ``argv[1]`` with the rest of ``argv`` as its Hydra command line."""
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2:
        print(USAGE, end="", file=sys.stderr)
        sys.exit(2)
    command = argv[1]
    if command in ("-h", "--help", "help"):
        print(USAGE, end="")
        return
    if command in ("-V", "--version"):
        print(f"{CONSOLE_SCRIPT} {metadata.version('litexp')}")
        return
    if command not in COMMANDS:
        close = difflib.get_close_matches(command, COMMANDS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        print(
            f"{CONSOLE_SCRIPT}: error: unknown command '{command}': {hint}"
            f"use one of {', '.join(COMMANDS)} ('{CONSOLE_SCRIPT} --help' shows them)",
            file=sys.stderr,
        )
        sys.exit(2)
    # Hydra parses sys.argv itself and would take the command word for an override.
    sys.argv = [argv[0], *argv[2:]]
    litexp.commands.active_command = command
    run_main(import_module(f"litexp.commands.{command}").main, trainer=command != "predict")
