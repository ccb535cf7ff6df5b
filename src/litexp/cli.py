"""Entry-point plumbing shared by train.py, eval.py and predict.py."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from litexp.config import register_resolvers
from litexp.errors import USER_ERRORS, Interrupted, TrainingError

register_resolvers()

# Noise that says nothing to a litexp user: in-memory batches need no workers, and
# Lightning's own use of a deprecated torch pytree API is not theirs to fix.
for _message in (
    ".*does not have many workers.*",
    ".*LeafSpec.*",
    ".*smaller than the logging interval.*",
):
    warnings.filterwarnings("ignore", message=_message)


def run_task(task: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run ``task(cfg)``; a user error becomes one line on stderr and exit status 2.

    A failed training (NaN loss) is one line and exit status 1; a stop on SIGTERM/SIGINT
    (the task has printed the resume command) exits with 128 + the signal's number.
    """
    try:
        return task(cfg)
    except Interrupted as stop:
        sys.exit(128 + stop.signum)
    except MissingMandatoryValue as err:  # a ``???`` key the command did not give
        print(f"litexp: error: {err.full_key} is required: add {err.full_key}=<value>", file=sys.stderr)
        sys.exit(2)
    except (*USER_ERRORS, TrainingError) as err:
        print(f"litexp: error: {err}", file=sys.stderr)
        sys.exit(1 if isinstance(err, TrainingError) else 2)
