"""Errors that mean "your input is wrong", shown to the user as one line."""

from __future__ import annotations


def first_line(err: object, limit: int | None = None, *, default: str | None = None) -> str:
    """The first non-blank line of an error (or any text), cut to ``limit`` characters.

    Without one: ``default``, or for an exception its type's name (a report then never
    ends in ": ").
    """
    lines = [line.strip() for line in str(err if err is not None else "").splitlines()]
    text = next((line for line in lines if line), "")
    if not text:
        text = default if default is not None else ""
        if default is None and isinstance(err, BaseException):
            text = type(err).__name__
    return text[:limit] if limit else text


class ConfigError(ValueError):
    """A config value (or the combination of values) cannot work; says which and why."""


class DataError(ValueError):
    """A data set is missing, unreadable or malformed; says where and how to fix it."""


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, unsafe or does not fit the model."""


USER_ERRORS = (ConfigError, DataError, CheckpointError)


class TrainingError(RuntimeError):
    """Training itself failed (e.g. the loss became NaN); the run is marked failed."""


class DiskFullError(TrainingError):
    """A checkpoint could not be written for lack of space; names the path and free bytes."""


class Interrupted(Exception):
    """Stopped on a signal after saving a checkpoint.

    Attributes:
        signum: the signal; the process exits with status 128 + signum.
        resume_command: the command that continues the run.
    """

    def __init__(self, message: str, signum: int, resume_command: str = "") -> None:
        super().__init__(message)
        self.signum = signum
        self.resume_command = resume_command
