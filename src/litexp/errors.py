"""Errors that mean "your input is wrong", shown to the user as one line."""


class ConfigError(ValueError):
    """A config value (or the combination of values) cannot work; says which and why."""


class DataError(ValueError):
    """A data set is missing, unreadable or malformed; says where and how to fix it."""


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, unsafe or does not fit the model."""


USER_ERRORS = (ConfigError, DataError, CheckpointError)
