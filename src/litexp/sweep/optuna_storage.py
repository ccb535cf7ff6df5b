"""Where an Optuna study lives: one string that the sweeper and every trial agree on.

``hydra.sweeper.storage``:
- ``null`` (default): ``$LITEXP_OPTUNA_STORAGE`` if set (a URL with a password goes
  there, never into the config), else an SQLite file ``optuna.db`` in the sweep directory;
- anything with ``://``: an SQLAlchemy URL without a password (``postgresql://host/db``);
- anything else: an Optuna journal file (relative paths are inside the sweep directory),
  safe for several processes on one file system (e.g. an NFS home on a cluster).
"""

from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from litexp.errors import ConfigError

SQLITE_FILE = "optuna.db"
# The storage URL when it holds a password (or should not be recorded): read from here.
STORAGE_ENV = "LITEXP_OPTUNA_STORAGE"
ENV_PREFIX = "env:"  # a storage setting naming the environment variable that holds it
# Seconds an SQLite writer waits for another process's lock before giving up.
SQLITE_TIMEOUT_S = 60


def without_password(url: str) -> str:
    """``url`` with its password (if any) shown as ``***``: safe to print or record."""
    return re.sub(r"^(\w[\w+.-]*://[^:/@]*:)[^/]*@", r"\1***@", url)


def has_password(url: str) -> bool:
    return without_password(url) != url


def storage_url(setting: str | None, sweep_dir: str | Path) -> str:
    """The storage setting as one absolute string (a URL, or a journal file path).

    Never a secret: with ``$LITEXP_OPTUNA_STORAGE`` set (and no setting) it is
    ``env:LITEXP_OPTUNA_STORAGE``, which ``open_storage`` reads, so the URL and its
    password reach no config, run file or checkpoint. A password in the setting itself
    would be recorded in all of them: refused.
    """
    sweep_dir = Path(sweep_dir).absolute()
    if setting is None or str(setting).strip() in ("", "null", "None"):
        if os.environ.get(STORAGE_ENV):
            return f"{ENV_PREFIX}{STORAGE_ENV}"
        return f"sqlite:///{sweep_dir / SQLITE_FILE}"
    setting = str(setting)
    if setting.startswith(ENV_PREFIX):
        return setting
    if has_password(setting):
        raise ConfigError(
            f"hydra.sweeper.storage={without_password(setting)} holds a password, which "
            f"would be written into every trial's files: export {STORAGE_ENV}=<the URL> "
            "instead and leave hydra.sweeper.storage unset"
        )
    if "://" in setting:
        return setting
    path = Path(setting).expanduser()
    return str(path if path.is_absolute() else sweep_dir / path)


# The extra that installs the PostgreSQL driver SQLAlchemy 2.x uses (psycopg 3).
POSTGRES_EXTRA = "pip install 'litexp[postgres]'"


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def with_driver(url: str) -> str:
    """A PostgreSQL URL with the driver that is installed: ``postgresql://`` names no
    driver, and SQLAlchemy then wants psycopg2 ("Failed to import DB access module");
    litexp's ``postgres`` extra installs psycopg 3, named ``postgresql+psycopg://``."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        return url
    driver = scheme.partition("+")[2]
    if not driver:
        if _importable("psycopg"):
            return f"postgresql+psycopg://{rest}"
        if _importable("psycopg2"):
            return url
    elif _importable({"psycopg": "psycopg", "psycopg2": "psycopg2"}.get(driver, driver)):
        return url
    raise ConfigError(
        f"the Optuna storage {without_password(url)} needs a PostgreSQL driver, and none is "
        f"installed: {POSTGRES_EXTRA} (psycopg 3)"
    )


def open_storage(url: str) -> BaseStorage:
    """The Optuna storage behind ``url`` (from ``storage_url``); SQLite/journal dirs are created."""
    if url.startswith(ENV_PREFIX):  # the URL lives only in the environment
        name = url.removeprefix(ENV_PREFIX)
        url = os.environ.get(name, "")
        if not url:
            raise ConfigError(f"the Optuna storage is read from ${name}, which is not set")
    if "://" not in url:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(url))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return RDBStorage(url, engine_kwargs={"connect_args": {"timeout": SQLITE_TIMEOUT_S}})
    return _rdb_storage(with_driver(url))


def _rdb_storage(url: str, attempts: int = 5) -> RDBStorage:
    """``RDBStorage(url)``; on a new database, workers started at the same instant all
    create Optuna's tables, and all but one lose that race (a unique-key violation): they
    wait a moment and open the tables the winner made."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(attempts):
        try:
            return RDBStorage(url)
        except (IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def median_pruner(
    enabled: bool = True, n_startup_trials: int = 5, n_warmup_steps: int = 0
) -> optuna.pruners.BasePruner:
    """The sweeper's pruner (the storage does not keep it: each job builds the same one)."""
    if not enabled:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps
    )


def load_trial(
    url: str, study_name: str, number: int, pruner: optuna.pruners.BasePruner
) -> optuna.trial.Trial:
    """Trial ``number`` of a study, from another process (a job reporting to its trial)."""
    storage = open_storage(url)
    study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner)
    study_id = storage.get_study_id_from_name(study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    return optuna.trial.Trial(study, trial_id)
