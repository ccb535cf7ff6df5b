"""Downloads that give up when the network stops answering, instead of hanging.

A network that accepts connections but never answers (a dead proxy, a firewall that
drops replies) hangs torchvision's ``urlopen`` (no timeout at all) and stalls
huggingface_hub for many minutes (five retries with a 60 s timeout each). Rather than
tune each library's own timeouts, the download runs in a thread while the caller
watches the folders it writes into: when none of them has grown for
``LITEXP_DOWNLOAD_TIMEOUT`` seconds (60 by default), it gives up. A slow download that
keeps arriving is never cut off.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from litexp.errors import ConfigError

TIMEOUT_ENV = "LITEXP_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
T = TypeVar("T")


class DownloadStalled(TimeoutError):
    """No byte of a download arrived for the timeout."""


def download_timeout() -> float:
    """Seconds without progress before a download is given up (``LITEXP_DOWNLOAD_TIMEOUT``)."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"{TIMEOUT_ENV}={raw} is invalid: give a number of seconds > 0")
    return value


def _bytes_under(folders: Iterable[Path]) -> int:
    total = 0
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                with contextlib.suppress(OSError):  # renamed or removed while we looked
                    total += os.stat(os.path.join(root, name)).st_size
    return total


def run_download(fn: Callable[[], T], watch: Iterable[str | Path]) -> T:
    """``fn()``, given up with DownloadStalled when the ``watch`` folders stop growing.

    ``fn`` runs in a daemon thread: a hung socket cannot be interrupted, so on giving
    up it is left behind, and ends with the process. ``fn``'s own exception is re-raised.
    """
    timeout = download_timeout()
    paths = {Path(p).absolute() for p in watch}
    folders = [p for p in paths if not any(q in p.parents for q in paths)]  # walk each once
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as err:  # handed to the caller's thread
            outcome["error"] = err

    thread = threading.Thread(target=target, name="litexp-download", daemon=True)
    thread.start()
    size, changed = _bytes_under(folders), time.monotonic()
    while thread.is_alive():
        thread.join(min(1.0, timeout / 10))
        now = _bytes_under(folders)
        if now != size:
            size, changed = now, time.monotonic()
        elif thread.is_alive() and time.monotonic() - changed >= timeout:
            raise DownloadStalled(
                f"no data arrived for {timeout:g} s: the network does not answer "
                f"({TIMEOUT_ENV} sets the wait)"
            )
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
