"""Checkpoint writing that a kill cannot truncate, and reading that runs no pickled code."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from litexp.errors import DiskFullError

# errno values of "no room": the disk, a quota, a file size limit (ulimit -f).
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# torch's zip writer reports a failed write as a RuntimeError without the errno
# ("unexpected pos"): with less than this free on the disk, that is a full disk.
NEARLY_FULL_BYTES = 16 * 2**20


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes ``<name>.<pid>.tmp`` next to the target, fsyncs it, then renames it over.

    A rename within one directory is atomic, so ``last.ckpt`` is always either the old
    complete file or the new complete file. (Lightning's own save goes through a
    temporary file in the system temp dir, which is a copy, not a rename, when that is
    another file system.) The temporary name does not end in ``.ckpt``, so nothing
    mistakes a leftover for a checkpoint. Loading uses ``weights_only=True``.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path):  # remote storage: Lightning's fsspec transaction
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except (OSError, RuntimeError) as err:
            full = disk_full_error(err, tmp, path)
            if full is None:
                raise
            raise full from None
        finally:
            tmp.unlink(missing_ok=True)  # the previous checkpoint at ``path`` stays intact
        # Make the rename itself durable (a power loss right after must not undo it).
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def load_checkpoint(self, path: _PATH, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # Resume (trainer.fit(ckpt_path=...)) and test(ckpt_path=...) come through here:
        # safe loading whatever the caller asked for.
        kwargs.pop("weights_only", None)
        if len(args) > 1:
            args = args[:1]
        return super().load_checkpoint(path, *args, weights_only=True, **kwargs)


def disk_full_error(err: BaseException, tmp: Path, path: Path) -> DiskFullError | None:
    """The user-facing error for a save that failed for lack of room, else None.

    Measured while the partial temporary file still exists: deleting it frees space.
    """
    try:
        free = shutil.disk_usage(tmp.parent).free
    except OSError:
        return None
    errno_full = isinstance(err, OSError) and err.errno in NO_ROOM
    if not (errno_full or free < NEARLY_FULL_BYTES):
        return None
    written = tmp.stat().st_size if tmp.exists() else 0
    why = os.strerror(err.errno) if isinstance(err, OSError) and err.errno else "disk full"
    return DiskFullError(
        f"cannot write checkpoint {path} ({why}): {free / 2**20:.1f} MiB free on that disk "
        f"after writing {written / 2**20:.1f} MiB of it; free some space (or set paths.log_dir "
        "elsewhere) and resume: the previous checkpoints are kept"
    )
