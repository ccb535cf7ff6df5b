"""Checkpoint files on disk: is a file intact, which one is the newest, which are stale.

Deliberately free of Lightning imports: ``checkpoint.load_checkpoint`` (eval, predict)
uses it too.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

LAST_NAME = "last.ckpt"


def damaged_entry(path: Path) -> str | None:
    """The first archive entry of a torch checkpoint whose bytes fail their CRC-32, else None.

    torch's zip reader does not check the CRCs its writer stores, so a flipped byte in a
    tensor loads as a wrong weight. Python's ``zipfile`` reads every entry and compares
    (about 3 ms for a 6 MB checkpoint, 12 ms to ``torch.load`` it).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as err:
        return f"the archive itself ({err})"


def newest_checkpoint(trainer: Any) -> str:
    """The checkpoint the trainer's ModelCheckpoints wrote last for resuming ("" if none):
    ``last_model_path`` of one with ``save_last``, else the file of one without a monitor
    (``callbacks.last_checkpoint``: it rewrites ``last.ckpt`` every epoch)."""
    for callback in trainer.checkpoint_callbacks:
        path = getattr(callback, "last_model_path", "") or (
            callback.best_model_path if getattr(callback, "monitor", "") is None else ""
        )
        if path:
            return str(path)
    return ""


def tracked_paths(ckpt: dict[str, Any], folder: Path) -> set[Path] | None:
    """Every file the ModelCheckpoint states inside ``ckpt`` know (best, top k, last);
    None unless each of them saved into ``folder`` (a moved run: its paths are stale)."""
    tracked: set[Path] = set()
    states = [
        state
        for key, state in (ckpt.get("callbacks") or {}).items()
        if str(key).startswith("ModelCheckpoint") and isinstance(state, dict)
    ]
    if not states or any(
        Path(str(s.get("dirpath"))).absolute() != folder.absolute() for s in states
    ):
        return None
    for state in states:
        names = [
            state.get(k) for k in ("best_model_path", "kth_best_model_path", "last_model_path")
        ]
        names += list(state.get("best_k_models") or {})
        tracked |= {Path(n).absolute() for n in names if isinstance(n, str) and n}
    return tracked


def remove_untracked(folder: Path, ckpt: dict[str, Any], resume_from: Path) -> list[Path]:
    """Delete the ``.ckpt`` files of ``folder`` that the run being resumed no longer tracks.

    A kill between writing a new best checkpoint and deleting the one it replaces (or
    before ``last.ckpt`` recorded the new one) leaves a file no ModelCheckpoint will ever
    delete: more files than ``save_top_k``. Kept: ``last.ckpt``, ``resume_from`` and every
    file the checkpoint's ModelCheckpoint states name; nothing is removed unless those
    states saved into ``folder``. Returns the files removed.
    """
    tracked = tracked_paths(ckpt, folder)
    if tracked is None:  # nothing to go by: keep everything
        return []
    keep = tracked | {Path(resume_from).absolute(), (folder / LAST_NAME).absolute()}
    removed = []
    for path in folder.glob("*.ckpt"):
        if path.absolute() not in keep:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
