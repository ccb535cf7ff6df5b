"""Entry-point plumbing shared by train.py, eval.py and predict.py."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from litexp.config import register_resolvers
from litexp.errors import USER_ERRORS, Interrupted, TrainingError
from litexp.hydra_errors import hydra_error_line

register_resolvers()
log = logging.getLogger(__name__)

# Noise that says nothing to a litexp user: in-memory batches need no workers, and
# Lightning's own use of a deprecated torch pytree API is not theirs to fix; a frozen
# pretrained backbone stays in eval mode on purpose (TimmTransfer).
for _message in (
    ".*does not have many workers.*",
    ".*LeafSpec.*",
    ".*smaller than the logging interval.*",
    ".*module\\(s\\) in eval mode at the start of training.*",
    ".*Checkpoint directory .* exists and is not empty.*",  # a resumed run's, on purpose
):
    warnings.filterwarnings("ignore", message=_message)


# Hydra's command-line flags that take a value (``--cfg job``), or may (``--info``): the
# value travels with its flag. Hydra's overrides never start with "-".
FLAG_VALUE = frozenset(
    (
        "-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name",
        "-cd", "--config-dir", "--experimental-rerun",
    )
)  # fmt: skip
INFO_FLAG = frozenset(("-i", "--info"))
INFO_CHOICES = frozenset(("all", "config", "defaults", "defaults-tree", "plugins", "searchpath"))


def flags_first(argv: list[str]) -> list[str]:
    """``argv`` with Hydra's flags (and their values) moved before the overrides.

    argparse stops reading Hydra's overrides at the first flag, so plain Hydra rejects
    ``train.py model=cnn -m model.lr=1e-3,1e-2`` ("unrecognized arguments"). On a
    litexp command line the flags may go anywhere; each group keeps its order.
    """
    script, *rest = argv
    flags: list[str] = []
    overrides: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        i += 1
        if not arg.startswith("-"):
            overrides.append(arg)
            continue
        flags.append(arg)
        value_follows = i < len(rest) and (
            arg in FLAG_VALUE or (arg in INFO_FLAG and rest[i] in INFO_CHOICES)
        )
        if value_follows:
            flags.append(rest[i])
            i += 1
    return [script, *flags, *overrides]


def trainer_args_anywhere(argv: list[str]) -> list[str]:
    """``argv`` with ``trainer.<key>=v`` turned into ``++trainer.<key>=v`` (add or override).

    The trainer config lists only the arguments litexp sets, yet any Lightning Trainer
    argument may be given without ``+``; a key that is no Trainer argument is refused
    with the closest ones when the Trainer is checked (``litexp.config.check_arguments``).
    """
    return ["++" + a if a.startswith("trainer.") and "=" in a else a for a in argv]


def quote_unicode_values(argv: list[str]) -> list[str]:
    """``argv`` with ``key=<value with non-ASCII characters>`` quoted for Hydra.

    Hydra's override lexer accepts only ASCII in unquoted values, so
    ``data.data_dir=./données`` or ``input=photos/café/b3.jpg`` stopped at its
    ``LexerNoViableAltException`` unless typed ``'key="./données"'``. An override that
    Hydra cannot read as typed, and reads quoted as the same text, is passed quoted;
    every other argument is left exactly as typed.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = None
    out = []
    for arg in argv:
        key, eq, value = arg.partition("=")
        if arg.startswith("-") or not eq or value.isascii() or "'" in value:
            out.append(arg)
            continue
        parser = parser or OverridesParser.create()
        try:
            parser.parse_override(arg)
            out.append(arg)  # Hydra reads it as typed (e.g. already quoted)
            continue
        except HydraException:
            pass
        # Each comma-separated part on its own: a sweep over such paths stays a sweep.
        parts = value.split(",")
        quoted = key + "=" + ",".join(p if p.isascii() else f"'{p}'" for p in parts)
        try:
            read = parser.parse_override(quoted)
            same = len(parts) > 1 or read.value() == value
        except HydraException:
            same = False
        out.append(quoted if same else arg)
    return out


# Set by run_task: an exception escaping Hydra's main before it was set came from Hydra
# itself (composing the config, creating the run directory), never from the task.
_task_started = False


def run_main(main: Callable[[], Any], *, trainer: bool = True) -> None:
    """Run a ``@hydra.main`` function with litexp's command line.

    Hydra's flags may go anywhere (``flags_first``), any Trainer argument works without
    ``+`` (``trainer``: the config has a trainer group), and Hydra's own errors (an
    unknown option or key, an override it cannot parse, a run directory it cannot
    create) become one ``litexp: error:`` line with exit status 2. ``HYDRA_FULL_ERROR=1``
    keeps Hydra's full report.
    """
    argv = quote_unicode_values(flags_first(sys.argv))
    sys.argv = trainer_args_anywhere(argv) if trainer else argv
    if os.environ.get("HYDRA_FULL_ERROR"):
        main()
        return
    # Hydra then raises its errors instead of printing them: they are reported here.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except Exception as err:
        if _task_started:
            raise
        line = hydra_error_line(err, sys.argv[1:])
        if line is None:
            raise
        print(f"litexp: error: {line}", file=sys.stderr)
        sys.exit(2)
    finally:
        os.environ.pop("HYDRA_FULL_ERROR", None)


def _log_once_through_hydra() -> None:
    """Lightning's records reach the console once, through Hydra's handlers (and train.log).

    ``import lightning`` adds its own console handler to the ``lightning`` logger, which
    also propagates to the root logger Hydra set up: every line was printed twice.
    """
    logger = logging.getLogger("lightning")
    for handler in list(logger.handlers):
        if type(handler) is logging.StreamHandler:
            logger.removeHandler(handler)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_not_lightning_noise)
    logging.getLogger("lightning.pytorch.accelerators.cuda").addFilter(_not_lightning_noise)


# Lightning's INFO lines a litexp user does not act on: the hardware it did not find (the
# run's hardware is in run.json), the checkpoint it restores (litexp says which), adverts.
_NOISE = (
    "available:",
    "LOCAL_RANK:",
    "Restoring states from",
    "Loaded model weights from",
    "litlogger",
    "💡",
)


def _not_lightning_noise(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return record.levelno > logging.INFO or not any(n in message for n in _NOISE)


def run_task(task: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run ``task(cfg)``; a user error becomes one line on stderr and exit status 2.

    In a ``-m`` multirun a failing job does not end the sweep: its failure is recorded
    (``metrics.json`` with ``status: failed``) and returned, the next job runs, and the
    sweep summary shows the failure and sets the exit status.

    A failed training (NaN loss) is one line and exit status 1; a stop on SIGTERM/SIGINT
    (the task has printed the resume command) exits with 128 + the signal's number,
    ending a sweep too.
    """
    # Imported here, not at the top: a mistyped option then fails in Hydra before
    # torch is loaded, in a second rather than ten.
    from litexp.distributed import ddp_job_scope, is_sweep_rank, report_sweep_rank_failure
    from litexp.hardware import skip_nvml_check_without_gpu
    from litexp.sweep.jobs import in_multirun, record_failure

    skip_nvml_check_without_gpu()  # a process-wide setting: once, before any task runs
    global _task_started
    _task_started = True
    _log_once_through_hydra()

    try:
        with ddp_job_scope():
            return task(cfg)
    except Interrupted as stop:
        sys.exit(128 + stop.signum)
    except MissingMandatoryValue as err:  # a ``???`` key the command did not give
        print(
            f"litexp: error: {err.full_key} is required: add {err.full_key}=<value>",
            file=sys.stderr,
        )
        sys.exit(2)
    except Exception as err:
        user_error = isinstance(err, USER_ERRORS)
        if user_error or isinstance(err, TrainingError):
            print(f"litexp: error: {err}", file=sys.stderr)
        if in_multirun():
            if not user_error:
                log.exception("job failed; the sweep goes on")
            return record_failure(cfg, err)
        if is_sweep_rank():  # rank zero records the failure; exit 1 would kill the sweep
            if not (user_error or isinstance(err, TrainingError)):  # not said above
                report_sweep_rank_failure(err)
            sys.exit(0)
        if user_error:
            sys.exit(2)
        if isinstance(err, TrainingError):
            sys.exit(1)
        raise
