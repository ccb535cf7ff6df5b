"""The bridge from Hydra config to plain Python objects.

This is the only module (with the entry points) that knows about Hydra/OmegaConf:
models, nets and datamodules take plain typed arguments.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from litexp.errors import USER_ERRORS, ConfigError


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


def build(node: DictConfig, group: str, **kwargs: Any) -> Any:
    """Instantiate one config group, turning a constructor's complaint into a ConfigError.

    The message names the group and the key (``model.dropout=1.5 is invalid: ...``).
    """
    try:
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as err:
        cause = err.__cause__ or err
        if isinstance(cause, USER_ERRORS):
            raise cause from None
        target = node.get("_target_", "?")
        if isinstance(cause, (ValueError, TypeError)):
            msg = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
            # Our constructors start their messages with "key=value": prefix the group.
            where = f"{group}." if re.match(r"^\w+=", msg) else f"{group}: "
            raise ConfigError(f"{where}{msg} (in {target})") from None
        # Other exceptions (e.g. Lightning's MisconfigurationException) say what is wrong
        # in their own first line; Hydra's wrapper only names the target.
        reason = (str(cause).strip() or type(cause).__name__).splitlines()[0]
        if isinstance(cause, ImportError):  # a mistyped _target_: say which, and where
            located = str(err).split(",")[0]
            reason = f"{located}: {str(cause).strip().splitlines()[-1]}"
        raise ConfigError(f"{group}: cannot build {target}: {reason}") from err


def to_plain(cfg: DictConfig) -> dict:
    """The resolved config as plain dicts/lists: safe to store in a checkpoint or JSON."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)  # type: ignore[return-value]
