"""What a stored config may build: a checkpoint is data, never code.

eval.py, predict.py and ``resume=`` read a config that anyone could have written into a
checkpoint. Before anything in it is instantiated, ``check_stored_config`` requires that
every ``_target_`` under ``data`` and ``model``, at any depth (arguments, lists,
``_args_``, whatever ``_recursive_`` says), names a class a checkpoint may build:

- litexp's models (``LightningModule``), nets (``nn.Module``) and datamodules
  (``LightningDataModule``): ``litexp.models``, ``litexp.nets``, ``litexp.data``;
- ``torch.optim`` optimizers and ``torch.optim.lr_scheduler`` schedulers;
- a user's own classes, allowed by module prefix: ``allow_target("mypkg.models")`` in
  Python, or ``LITEXP_ALLOWED_TARGETS=mypkg.models,otherpkg`` in the environment.

A path is checked as text first (dotted names, module prefix compared component by
component), so nothing outside an allowed package is ever imported; only then is it
looked up, and it must be a class defined there with the right base class.

No value may be an interpolation (``${...}``) either: stored configs are resolved when
written, so one was put there by hand, and a resolver reads the environment or more.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from litexp.errors import CheckpointError

ENV_VAR = "LITEXP_ALLOWED_TARGETS"
BUILT_NODES = ("data", "model")  # the parts of a stored config that are ever built
DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
WHAT_IS_ALLOWED = (
    "a checkpoint may only name litexp's models, nets and datamodules, torch.optim "
    f"optimizers and schedulers (allow your own with {ENV_VAR}=<module prefix>)"
)

# (module prefix, import paths of the allowed base classes; empty: any class)
_RULES: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("litexp", "models"), ("lightning.pytorch.LightningModule",)),
    (("litexp", "nets"), ("torch.nn.Module",)),
    (("litexp", "data"), ("lightning.pytorch.LightningDataModule",)),
    (("torch", "optim"), ("torch.optim.Optimizer",)),
    (
        ("torch", "optim", "lr_scheduler"),
        ("torch.optim.lr_scheduler.LRScheduler", "torch.optim.lr_scheduler.ReduceLROnPlateau"),
    ),
]


def allow_target(prefix: str, *bases: str) -> None:
    """Let stored configs build classes defined under module ``prefix`` (e.g. ``mypkg.models``).

    ``bases``: import paths of base classes the class must derive from; none: any class.
    """
    if not DOTTED.match(prefix):
        raise ValueError(f"allow_target({prefix!r}): give a dotted module path, e.g. mypkg.models")
    _RULES.append((tuple(prefix.split(".")), bases))


def _rules() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    from_env = [p.strip() for p in os.environ.get(ENV_VAR, "").split(",") if p.strip()]
    return _RULES + [(tuple(p.split(".")), ()) for p in from_env if DOTTED.match(p)]


def _under(parts: list[str] | tuple[str, ...], prefix: tuple[str, ...]) -> bool:
    return tuple(parts[: len(prefix)]) == prefix


def _lookup(path: str) -> Any:
    """The object at ``path``, importing its longest module prefix; None if there is none."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
        return obj
    return None


def _allowed(target: Any) -> bool:
    if not isinstance(target, str) or not DOTTED.match(target):
        return False  # spaces, "..", "/", a non-string: never a name to look up
    parts = target.split(".")
    if any(part.startswith("__") for part in parts):  # __builtins__, __globals__, ...
        return False
    rules = [(prefix, bases) for prefix, bases in _rules() if _under(parts, prefix)]
    if not rules:  # checked as text: nothing outside an allowed package gets imported
        return False
    obj = _lookup(target)
    if not isinstance(obj, type):  # e.g. litexp.models.mlp.os.system: a function
        return False
    module = obj.__module__.split(".")
    for prefix, bases in rules:
        classes = tuple(c for c in map(_lookup, bases) if isinstance(c, type))
        if _under(module, prefix) and (not bases or (classes and issubclass(obj, classes))):
            return True
    return False


def _key(where: str, key: Any) -> str:
    if isinstance(key, str) and re.fullmatch(r"\w+", key):
        return f"{where}.{key}" if where else key
    return f"{where}[{key!r}]"


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) and DOTTED.match(value) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _walk(node: Any, where: str, source: str) -> None:
    if isinstance(node, Mapping):
        if "_target_" in node and not _allowed(node["_target_"]):
            raise CheckpointError(
                f"{source}: refused to build {_key(where, '_target_')}="
                f"{_shown(node['_target_'])}: {WHAT_IS_ALLOWED}"
            )
        for key, value in node.items():
            _walk(value, _key(where, key), source)
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _walk(item, f"{where}[{i}]", source)


def _no_interpolations(node: Any, where: str, source: str) -> None:
    if isinstance(node, str) and "${" in node:
        raise CheckpointError(
            f"{source}: refused {where}={_shown(node)}: a stored config is resolved when "
            "written, so an interpolation in it was put there by hand; use a checkpoint "
            "written by litexp train.py"
        )
    if isinstance(node, Mapping):
        for key, value in node.items():
            _no_interpolations(value, _key(where, key), source)
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _no_interpolations(item, f"{where}[{i}]", source)


def check_stored_config(config: Mapping | DictConfig, source: str) -> None:
    """Raise a CheckpointError (one line) unless ``config`` builds only allowed classes.

    Args:
        config: a stored run config (plain dict, or a DictConfig: read unresolved).
        source: where it came from, for the message, e.g. ``"checkpoint run/last.ckpt"``.
    """
    if isinstance(config, (DictConfig, ListConfig)):
        config = OmegaConf.to_container(config, resolve=False)  # type: ignore[assignment]
    if not isinstance(config, Mapping):
        raise CheckpointError(f"{source}: its stored config is not a mapping")
    _no_interpolations(config, "", source)
    for name in BUILT_NODES:
        node = config.get(name)
        if not isinstance(node, Mapping) or "_target_" not in node:
            raise CheckpointError(
                f"{source}: its stored config has no {name}._target_; use a checkpoint "
                "written by litexp train.py"
            )
        _walk(node, name, source)
