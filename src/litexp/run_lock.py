"""One training process per run directory: a lock that dies with its process.

``fcntl.flock`` on a file held open while the run trains: the kernel releases it when
the process ends, however it ends (SIGKILL included), so a stale lock file never blocks
a resume. The file holds the owner's pid and host, for the refusal message.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from litexp.errors import ConfigError

LOCK_FILE = ".train.lock"


class RunLock:
    """The exclusive right to train into ``run_dir``; ``release`` it when the run ends.

    Raises:
        ConfigError: another live process holds it; the message names its pid and host.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._file: IO[str] | None = open(self.path, "a+")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            owner = self._file.read().strip() or "an unknown process"
            self._file.close()
            self._file = None
            raise ConfigError(
                f"run directory {Path(run_dir)} is being trained by {owner}: one process per "
                "run; wait for it to end (or stop it), then resume"
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
        self._file.flush()

    def release(self) -> None:
        """Give the directory up (closing the file drops the lock); safe to call twice."""
        if self._file is not None:
            self._file.close()
            self._file = None
