"""SIGTERM / SIGINT: finish the current batch, save ``last.ckpt``, stop cleanly."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import lightning as L
import torch
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
    run. A second Ctrl-C aborts at once.

    Nothing the stopped run showed is lost: the stop is raised once Lightning has logged
    the batch (at the next batch's start), and a signal during an epoch's last batch lets
    the epoch end first (``trainer.should_stop``: its validation, epoch metrics and
    checkpoints), saving where ModelCheckpoint saves an epoch (validation end, else the
    epoch's end). A resumed run then starts exactly where the stopped one's TensorBoard
    points end.

    With several processes (DDP) the signal may reach one rank only (``kill`` of rank
    zero) or all of them at slightly different batches (Ctrl-C, SLURM). Every
    ``sync_every`` training batches the ranks all-reduce their flags, so all of them
    stop after the same batch. Lightning's own SIGTERM handler is replaced, not chained:
    it runs a ``broadcast`` inside the signal handler, which deadlocks when the signal
    lands while another rank waits in the backward pass's gradient all-reduce (found with
    ``kill`` on a ``trainer=ddp_cpu`` run: both ranks waited forever).

    Args:
        fallback_dir: where to write ``last.ckpt`` when no ModelCheckpoint is configured.
        sync_every: on GPUs, the ranks check after every ``sync_every``-th batch of an
            epoch (each check waits for the GPU); on the CPU after every batch.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, fallback_dir: str | Path, sync_every: int = 16) -> None:
        self.fallback_dir = Path(fallback_dir)
        self.sync_every = sync_every
        self.received: int | None = None
        self._previous: dict[int, Any] = {}
        self._saved: str | None = None  # last.ckpt written: stop at the next batch's start
        self._epoch_end = False  # stop once the epoch ended (the signal came in its last batch)
        self._signum = 0  # the signal stopped on (the same on every rank)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning registers its SIGTERM handler just before this hook: replace it
        # (until teardown restores it).
        if threading.current_thread() is not threading.main_thread():
            return
        self.received, self._saved, self._epoch_end = None, None, False
        for signum in self.SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: the user wants out now
        self.received = signum

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        signum = self._agreed_signal(trainer, batch_idx)
        if not signum or self._saved or self._epoch_end:
            return
        if batch_idx + 1 >= trainer.num_training_batches:
            # Saved now, the resumed run would skip this epoch's validation and lose its
            # epoch metrics: let the epoch end (as early stopping does), save after it.
            trainer.should_stop = True
            self._signum, self._epoch_end = signum, True
            return
        # Saved here, where Lightning resumes a run mid-epoch exactly; the stop comes once
        # Lightning has logged this batch.
        self._signum, self._saved = signum, self._save(trainer)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._saved:  # (min_epochs can keep training going past should_stop)
            raise StopRequested(self._signum, self._saved)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._epoch_end and not self._saved and not trainer.sanity_checking:
            self._saved = self._save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._epoch_end and not self._saved:  # no validation in this epoch
            self._saved = self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._saved:  # the epoch ended (its metrics logged), or max_steps was reached
            raise StopRequested(self._signum, self._saved)

    def _save(self, trainer: L.Trainer) -> str:
        path = self.last_checkpoint_path(trainer)
        ckpt = trainer.checkpoint_callback
        if isinstance(ckpt, ModelCheckpoint) and ckpt.dirpath and ckpt.save_last:
            # Its own: the resumed run's ModelCheckpoint (restored from this file) then
            # overwrites last.ckpt, where it would write last-v1.ckpt beside a stale one.
            ckpt.last_model_path = str(path)
        trainer.save_checkpoint(path, weights_only=False)  # the full state, to resume
        return str(path)

    def _agreed_signal(self, trainer: L.Trainer, batch_idx: int) -> int:
        """The signal to stop on after this batch, the same on every rank; 0 for none."""
        if trainer.world_size == 1:
            return self.received or 0
        device = trainer.strategy.root_device
        if device.type != "cpu" and (batch_idx + 1) % self.sync_every:
            return 0
        flag = torch.tensor([self.received or 0], device=device)
        flag = trainer.strategy.reduce(flag, reduce_op="max")  # SIGTERM (15) beats SIGINT (2)
        return int(flag.item())

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
        # Only while ours is installed: after fit Lightning has already put back the
        # handlers it found, and re-installing its own (our "previous") would keep it, and
        # through it the Trainer and the model, alive after the run: one per sweep job.
        for signum, handler in self._previous.items():
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}
