"""A sweep job's directory: its number and its swept values, readable, unique, length-capped.

``hydra.sweep.subdir: ${job_dir:${hydra.job.num},${hydra.overrides.task},${hydra.sweep.dir}}``
gives ``3_model.lr=0.01,seed=2``: the number keeps names unique (and in launch order), the
swept values (the sweep's overrides with ``a,b`` choices, read from the ``multirun.yaml``
Hydra writes before the first job) say which job it is. The same grid gives the same
names, so a resumed sweep (``resume=<sweep dir>``) finds each job's directory again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

MAX_NAME = 80  # characters of a job directory name; longer ones end with a hash
SWEEP_FILE = "multirun.yaml"
_SWEPT: dict[str, frozenset[str] | None] = {}  # per sweep directory


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def swept_keys(sweep_dir: str | Path) -> frozenset[str] | None:
    """The keys a sweep varies (``model.lr=a,b``, ``hydra.sweeper.params``); None when its
    ``multirun.yaml`` cannot be read."""
    if str(sweep_dir) in _SWEPT:
        return _SWEPT[str(sweep_dir)]
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:  # plain YAML: a file is data
        saved = yaml.safe_load((Path(sweep_dir) / SWEEP_FILE).read_text())
        task = [str(o) for o in saved["hydra"]["overrides"]["task"]]
        params = (saved["hydra"].get("sweeper") or {}).get("params") or {}
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None  # not cached: the file may appear later
    arguments = [f"{k}={v}" for k, v in params.items()] + task
    parsed = OverridesParser.create().parse_overrides(arguments)
    keys = frozenset(o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override())
    _SWEPT[str(sweep_dir)] = keys
    return keys


def job_dir_name(
    num: int | str, overrides: Iterable[str], sweep_dir: str = "", max_len: int = MAX_NAME
) -> str:
    """``<num>_<swept key=value,...>``, path separators and shell-awkward characters replaced.

    Cut to ``max_len`` characters, a name ends with 8 hex digits of the full text's hash,
    so two long names that share their start still differ.
    """
    swept = swept_keys(sweep_dir) if sweep_dir else None
    items = [str(o).lstrip("+~") for o in overrides if _key(str(o)) != "resume"]
    if swept is not None:
        items = [o for o in items if _key(o) in swept]
    full = ",".join(items)
    text = re.sub(r"[^\w.=,+@%:-]", "_", full).strip("_")
    name = f"{num}_{text}" if text else str(num)
    if len(name) <= max_len:
        return name
    digest = hashlib.sha1(full.encode()).hexdigest()[:8]
    return f"{name[: max_len - 9]}~{digest}"
