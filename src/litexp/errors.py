"""Errors that mean "your input is wrong", shown to the user as one line."""


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
