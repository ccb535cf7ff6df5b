"""The bridge from Hydra config to plain Python objects.

This is the only module (with the entry points) that knows about Hydra/OmegaConf:
models, nets and datamodules take plain typed arguments.
"""

from __future__ import annotations

import collections.abc
import contextlib
import difflib
import inspect
import os
import re
import secrets
import types
import typing
from datetime import datetime
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf

from litexp.errors import USER_ERRORS, ConfigError, first_line


def _run_id() -> str:
    # Time for humans, pid + random for uniqueness when two runs start in the same second.
    # 32 random bits: two runs in the same second (and process) collide once in 4 billion.
    return f"{datetime.now():%Y-%m-%d_%H-%M-%S}_{os.getpid()}{secrets.token_hex(4)}"


def register_resolvers() -> None:
    """Register ``${run_id:}`` (cached per config, so a run resolves it once) and
    ``${run_dir:...}`` (the new run's directory, or the one ``resume=`` names)."""
    if not OmegaConf.has_resolver("run_id"):
        OmegaConf.register_new_resolver("run_id", _run_id, use_cache=True)
    if not OmegaConf.has_resolver("run_dir"):
        from litexp.run_dir import resolve_run_dir

        # No use_cache: OmegaConf refuses it for a resolver taking _root_; it caches itself.
        OmegaConf.register_new_resolver("run_dir", resolve_run_dir)
    if not OmegaConf.has_resolver("sweep_dir"):  # hydra.sweep.dir, or the one resume= names
        from litexp.sweep.resume import resolve_sweep_dir

        OmegaConf.register_new_resolver("sweep_dir", resolve_sweep_dir)
    if not OmegaConf.has_resolver("job_dir"):  # a sweep job's directory, named by its overrides
        from litexp.sweep.naming import job_dir_name

        OmegaConf.register_new_resolver("job_dir", job_dir_name)


def in_group(group: str, message: str) -> str:
    """A constructor's complaint as the user's key: ``dropout=1.5 is invalid`` under
    ``model`` reads ``model.dropout=1.5 is invalid``; any other text ``model: <text>``.

    The one place a group is put in front of a key (our constructors start their
    messages with ``key=value`` and know nothing of config groups).
    """
    return f"{group}.{message}" if re.match(r"^\w+=", message) else f"{group}: {message}"


def build(node: DictConfig, group: str, **kwargs: Any) -> Any:
    """Instantiate one config group, turning a constructor's complaint into a ConfigError.

    The message names the group and the key (``model.dropout=1.5 is invalid: ...``).
    """
    check_arguments(node, group)
    try:
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as err:
        cause = err.__cause__ or err
        if isinstance(cause, USER_ERRORS):
            raise cause from None
        target = node.get("_target_", "?")
        if isinstance(cause, (ValueError, TypeError)):
            raise ConfigError(f"{in_group(group, first_line(cause))} (in {target})") from None
        # Other exceptions (e.g. Lightning's MisconfigurationException) say what is wrong
        # in their own first line; Hydra's wrapper only names the target.
        reason = first_line(cause)
        if isinstance(cause, ImportError):  # a mistyped _target_: say which, and where
            located = str(err).split(",")[0]
            reason = f"{located}: {str(cause).strip().splitlines()[-1]}"
        raise ConfigError(f"{group}: cannot build {target}: {reason}") from err


def _matches(value: Any, hint: Any) -> bool:
    """Whether a config value (plain Python) can be passed where ``hint`` is annotated.

    Only what a YAML value can be is checked (numbers, text, booleans, lists, None);
    any other annotation accepts the value, so a constructor's own checks still apply.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or isinstance(hint, (str, typing.TypeVar)):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        item = args[0] if len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis) else None
        return item is None or all(_matches(v, item) for v in value)
    return True


def _describe(hint: Any) -> str:
    """``int or None``, ``one of 'norm', 'value'``: a type hint as a user reads it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is type(None):
        return "None"
    if origin in (list, tuple, collections.abc.Sequence) and args:
        return f"a list of {_describe(args[0])}"
    return getattr(hint, "__name__", str(hint).replace("typing.", ""))


def parameters_of(target: Any) -> tuple[dict[str, inspect.Parameter], dict[str, Any], bool]:
    """The keyword arguments a class (its ``__init__`` and, through ``**kwargs``, its bases')
    or function takes, their type hints (where they resolve), and whether that is all
    (False: ``**kwargs`` all the way up, so any other key may be right too)."""
    functions = (
        [c.__init__ for c in target.__mro__ if "__init__" in vars(c)]
        if (isinstance(target, type))
        else [target]
    )
    parameters: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    for function in functions:
        found = inspect.signature(function).parameters
        for name, parameter in found.items():
            parameters.setdefault(name, parameter)
        with contextlib.suppress(Exception):  # an unresolvable annotation: no type check
            hints = {**typing.get_type_hints(function), **hints}
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in found.values()):
            break
    else:
        return parameters, hints, False
    return {k: p for k, p in parameters.items() if p.kind is not p.VAR_KEYWORD}, hints, True


def check_arguments(node: DictConfig, group: str) -> None:
    """Raise ConfigError for a key of ``node`` (and of the nodes inside it) that its
    ``_target_`` has no argument for, or whose value is not of the annotated type.

    Names the closest arguments (``trainer.max_epoch``: did you mean trainer.max_epochs?).
    """
    target = node.get("_target_")
    if not target:
        return
    try:
        parameters, hints, closed = parameters_of(get_object(str(target)))
    except (ImportError, AttributeError, ValueError, TypeError) as err:
        if "." in group:  # a nested node; build names a top-level one's import error
            reason = str(err).strip().splitlines()[-1]
            raise ConfigError(f"{group}._target_={target} cannot be imported: {reason}") from None
        return
    for key in node:
        key = str(key)
        if key.startswith("_"):
            continue
        value = node[key]
        if isinstance(value, DictConfig):
            check_arguments(value, f"{group}.{key}")
            continue
        if key not in parameters and closed:
            close = difflib.get_close_matches(key, list(parameters), n=3, cutoff=0.6)
            hint = (
                "did you mean " + " or ".join(f"{group}.{c}" for c in close) + "?"
                if close
                else f"its arguments: {', '.join(p for p in parameters if p != 'self')}"
            )
            raise ConfigError(f"{group}.{key} is not an argument of {target}: {hint}")
        plain = OmegaConf.to_object(value) if OmegaConf.is_config(value) else value
        if key in hints and not _matches(plain, hints[key]):
            raise ConfigError(
                f"{group}.{key}={plain!r} is invalid: {target} takes {_describe(hints[key])}"
            )


def to_plain(cfg: DictConfig) -> dict:
    """The resolved config as plain dicts/lists: safe to store in a checkpoint or JSON."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)  # type: ignore[return-value]
