"""Hydra's errors about the command line, as the one line litexp prints.

Hydra reports an unknown option or key in 6-10 lines (with its search path); the user
needs the key they typed and the nearest valid ones. No torch imports here: these
errors come before anything is built.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from hydra.errors import (
    ConfigCompositionException,
    HydraException,
    MissingConfigException,
    OverrideParseException,
)
from omegaconf import DictConfig
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from litexp.errors import USER_ERRORS, first_line

GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"


def close_matches(word: str, candidates: Iterable[str]) -> str:
    """``did you mean a or b?`` for the candidates nearest ``word``, else ``valid: ...``."""
    options = sorted({str(c) for c in candidates if not str(c).startswith("_")})
    close = difflib.get_close_matches(word, options, n=3, cutoff=0.6)
    if close:
        return f"did you mean {' or '.join(close)}?"
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"valid: {shown}"


def _missing_option(err: MissingConfigException) -> str:
    name = str(err.missing_cfg_file or "")
    if err.options and "/" in name:  # ``model/cnnn``: a group's option that does not exist
        group, option = name.rsplit("/", 1)
        close = difflib.get_close_matches(option, err.options, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(f'{group}={c}' for c in close)}? " if close else ""
        return (
            f"{group}={option} is not an option of {group}: {hint}"
            f"(options: {', '.join(err.options)})"
        )
    return first_line(err, default="")


def _unknown_key(err: ConfigCompositionException, cause: OmegaConfBaseException) -> str:
    key = str(cause.full_key or cause.key)
    parent, _, leaf = key.rpartition(".")
    node = cause.parent_node
    keys = list(node.keys()) if isinstance(node, DictConfig) else []
    where = f"a key of {parent}" if parent else "a top-level key"
    hint = close_matches(leaf, keys)
    if hint.startswith("did you mean"):
        names = hint.removeprefix("did you mean ").removesuffix("?").split(" or ")
        hint = "did you mean " + " or ".join(f"{parent}.{n}" if parent else n for n in names) + "?"
    return f"{key} is not {where}: {hint} (+{key}=<value> adds a new key)"


def _unparsable(err: OverrideParseException, args: list[str]) -> str:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for arg in args:
        if arg.startswith("-"):
            continue
        try:
            parser.parse_overrides([arg])
        except OverrideParseException as one:
            return (
                f"cannot read the override {arg!r}: {first_line(one, default='')} (see {GRAMMAR})"
            )
    return f"cannot read the command line: {first_line(err, default='')} (see {GRAMMAR})"


def hydra_error_line(err: BaseException, args: list[str]) -> str | None:
    """The one line for an error Hydra raised before the task ran (None: not Hydra's).

    ``args``: the command line after the script, to find an override Hydra cannot parse.
    """
    cause = err.__cause__
    if isinstance(err, USER_ERRORS):  # raised by litexp's Hydra plugins (the sweeper)
        return str(err)
    if isinstance(err, MissingConfigException):
        return _missing_option(err)
    if isinstance(err, OverrideParseException):
        return _unparsable(err, args)
    if isinstance(err, ConfigCompositionException) and isinstance(
        cause, (ConfigAttributeError, ConfigKeyError)
    ):
        return _unknown_key(err, cause)
    if isinstance(err, HydraException):
        why = first_line(cause, default="") if cause is not None else ""
        return first_line(err, default="") + (f": {why}" if why else "")
    if isinstance(err, OmegaConfBaseException):  # e.g. ${oc.env:X} without X, in Hydra's keys
        key = getattr(err, "full_key", None)
        line = first_line(err, default="")
        return f"{key}: {line}" if key else line
    if isinstance(err, OSError) and err.filename:  # Hydra creating the run directory
        return (
            f"cannot create the run directory {err.filename}: {err.strerror}; set "
            "hydra.run.dir (or paths.log_dir, LITEXP_LOG_DIR) to a writable directory"
        )
    return None
