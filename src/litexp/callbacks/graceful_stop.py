"""SIGTERM / SIGINT: finish the current batch, save ``last.ckpt``, stop cleanly."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from litexp.errors import Interrupted


class StopRequested(Interrupted):
    """Training stopped on a signal after saving ``checkpoint``."""

    def __init__(self, signum: int, checkpoint: str) -> None:
        self.checkpoint = checkpoint
        name = signal.Signals(signum).name
        super().__init__(f"stopped on {name}; saved {checkpoint}", signum)


class GracefulStop(L.Callback):
    """Turns SIGTERM (a cluster's pre-emption, ``kill``) and SIGINT (Ctrl-C) into a clean stop.

    The handlers only set a flag; at the end of the running training batch the callback
    writes ``last.ckpt`` (through the trainer, so it is atomic and complete) and raises
    ``StopRequested``, which ``litexp.train`` reports with the command that resumes the
    run. A second Ctrl-C aborts at once. With several processes, Lightning's own SIGTERM
    handler (it forwards the signal to DDP workers) still runs before ours; in one
    process it is replaced, as it would stop mid-validation without a checkpoint.

    Args:
        fallback_dir: where to write ``last.ckpt`` when no ModelCheckpoint is configured.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, fallback_dir: str | Path) -> None:
        self.fallback_dir = Path(fallback_dir)
        self.received: int | None = None
        self._previous: dict[int, Any] = {}
        self._chain = False

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning registers its SIGTERM handler just before this hook: wrap it.
        if threading.current_thread() is not threading.main_thread():
            return
        self.received = None
        self._chain = trainer.world_size > 1
        for signum in self.SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: the user wants out now
        previous = self._previous.get(signum)
        if self._chain and signum == signal.SIGTERM and callable(previous):
            previous(signum, frame)
        self.received = signum

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.received is None:
            return
        path = self.last_checkpoint_path(trainer)
        trainer.save_checkpoint(path, weights_only=False)  # the full state, to resume
        raise StopRequested(self.received, str(path))

    def last_checkpoint_path(self, trainer: L.Trainer) -> Path:
        ckpt = trainer.checkpoint_callback
        if isinstance(ckpt, ModelCheckpoint) and ckpt.dirpath:
            name = ckpt.CHECKPOINT_NAME_LAST or "last"
            return Path(ckpt.dirpath) / f"{name}{ckpt.FILE_EXTENSION}"
        return self.fallback_dir / "last.ckpt"

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._restore()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self._restore()

    def _restore(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}
