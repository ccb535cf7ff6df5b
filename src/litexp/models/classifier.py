"""The classification system shared by every litexp model.

It owns the loss, metrics, optimiser and logging; subclasses only build ``self.net``.
Two classes: one logit, BCE-with-logits, sigmoid. More: one logit per class,
cross-entropy, softmax.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]
_PLAIN_VALUES = frozenset({str, int, float, bool, type(None)})
COMPILE_MODES = (
    False,
    True,
    "default",
    "reduce-overhead",
    "max-autotune",
    "max-autotune-no-cudagraphs",
)


def positive_ints(name: str, values: Sequence[int], hint: str) -> list[int]:
    """``values`` as a list, or a ValueError naming ``name`` unless all are positive ints."""
    values = list(values)
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"{name}={values!r} is invalid: {hint}")
    return values


def _check_optimizer(optimizer: OptimizerFactory, lr: float) -> None:
    """Fail now, not in ``configure_optimizers``: build the optimiser on a dummy tensor."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr={lr!r} is invalid: the learning rate must be a number > 0")
    try:
        optimizer([nn.Parameter(torch.zeros(1))], lr=lr)
    except (TypeError, ValueError) as err:
        raise ValueError(f"optimizer is invalid: {err}") from None


@dataclass
class LoopOptions:
    """Trainer options litexp's fused-steps loop applies itself (Lightning refuses them
    with manual optimisation); ``build_trainer`` moves them here from the Trainer."""

    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str | None = None
    accumulate_grad_batches: int = 1
    limit_train_batches: int | None = None  # batches of batch_size per epoch, if limited


class Classifier(L.LightningModule):
    """Binary or multi-class classification around a net that maps inputs to logits.

    Args:
        num_classes: from the datamodule; 2 gives a single logit.
        lr: learning rate, passed to ``optimizer``.
        optimizer: a partial ``torch.optim`` class (Hydra ``_partial_: true``).
        scheduler: optional partial LR scheduler; one that takes ``total_steps``
            (e.g. OneCycleLR) gets the run's total steps and steps every batch.
        class_names: names for reports and predictions (from the datamodule).
        compile: ``torch.compile`` the net: False, True, or a mode ("reduce-overhead",
            "max-autotune"). Compiled in place, so checkpoints keep their plain keys.
        fused_steps: optimizer steps per Lightning training batch. With K > 1 the train
            loader hands out K batches at once and ``training_step`` takes K optimizer
            steps through them, one batch each, in order: the same batches, updates,
            gradient clipping, accumulation and per-step LR schedule as K = 1, so the same
            weights, but Lightning's per-batch loop (about 1 ms on a CPU, more than a small
            MLP's whole step) runs once per K steps. ``global_step``, the loggers' steps,
            the progress bar and ``build_trainer``'s ``limit_train_batches`` and
            ``val_check_interval`` still count batches of ``batch_size``; what runs per
            Lightning batch (``on_train_batch_end`` callbacks, a graceful stop) runs
            once per group.
    """

    net: nn.Module

    def __init__(
        self,
        *,
        num_classes: int,
        lr: float = 1e-3,
        optimizer: OptimizerFactory = torch.optim.Adam,
        scheduler: SchedulerFactory | None = None,
        class_names: list[str] | None = None,
        compile: bool | str = False,
        fused_steps: int = 1,
    ) -> None:
        super().__init__()
        if compile not in COMPILE_MODES:
            raise ValueError(
                f"compile={compile!r} is invalid: use false, true or one of "
                f"{', '.join(m for m in COMPILE_MODES if isinstance(m, str))}"
            )
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes={num_classes!r} is invalid: must be an integer >= 2")
        _check_optimizer(optimizer, lr)
        if isinstance(fused_steps, bool) or not isinstance(fused_steps, int) or fused_steps < 1:
            raise ValueError(
                f"fused_steps={fused_steps!r} is invalid: must be an integer >= 1 (1: one "
                "optimizer step per Lightning batch)"
            )
        self.num_classes = num_classes
        self.binary = num_classes == 2
        self.num_outputs = 1 if self.binary else num_classes
        self.lr = lr
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.compile_mode = compile
        self.fused_steps = fused_steps
        # K > 1: litexp's loop steps the optimiser (Lightning's manual optimisation).
        self.automatic_optimization = fused_steps == 1
        self.loop_options = LoopOptions()
        self._micro_batch_size: int | None = None  # one step's batch, from the datamodule
        self.class_names = (
            list(class_names) if class_names else [str(i) for i in range(num_classes)]
        )
        task = (
            {"task": "binary", "validate_args": False}
            if self.binary
            else {"task": "multiclass", "num_classes": num_classes, "validate_args": False}
        )
        # One metric object per stage, so their states never mix.
        self.train_acc = torchmetrics.Accuracy(**task)
        self.val_acc = torchmetrics.Accuracy(**task)
        self.test_acc = torchmetrics.Accuracy(**task)
        # Epoch-mean losses, weighted by batch size ("disable": no NaN check, no host sync).
        self.train_loss = torchmetrics.MeanMetric(nan_strategy="disable")
        self.val_loss = torchmetrics.MeanMetric(nan_strategy="disable")
        self.test_loss = torchmetrics.MeanMetric(nan_strategy="disable")

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets plain attributes such as ``_current_fx_name`` about 50 times a
        # training step; nn.Module.__setattr__ checks each against parameters, buffers
        # and submodules (~9 us, ~0.4 ms a step on a CPU). A name already in __dict__
        # is none of those, so a plain value can be stored directly.
        if type(value) in _PLAIN_VALUES and name in self.__dict__:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: (B, 1) for binary, (B, num_classes) otherwise."""
        return self.net(x)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.binary:
            return F.binary_cross_entropy_with_logits(logits.squeeze(-1), target.float())
        return F.cross_entropy(logits, target)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, num_classes) class probabilities, binary included ([1 - p, p])."""
        if self.binary:
            p = torch.sigmoid(logits.squeeze(-1).float())
            return torch.stack([1 - p, p], dim=-1)
        return torch.softmax(logits.float(), dim=-1)

    def _step(
        self, batch: tuple[torch.Tensor, torch.Tensor], stage: str
    ) -> dict[str, torch.Tensor]:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        self._update_metrics(stage, logits.detach(), y, loss.detach(), y.shape[0])
        return {"loss": loss, "logits": logits.detach(), "target": y}

    def _update_metrics(
        self,
        stage: str,
        logits: torch.Tensor,
        y: torch.Tensor,
        loss: torch.Tensor,
        weight: int | torch.Tensor,
    ) -> None:
        # Per step only update() the stage's metrics, on the device: no host sync. Their
        # epoch values are logged once, in on_{stage}_epoch_end: a self.log() per step
        # costs Lightning about 1 ms on a CPU, more than a small MLP's whole step.
        getattr(self, f"{stage}_acc").update(logits.squeeze(-1) if self.binary else logits, y)
        getattr(self, f"{stage}_loss").update(loss, weight=weight)

    def _log_epoch(self, stage: str) -> None:
        # Lightning computes each metric (synced across DDP ranks), logs it and resets it.
        for name in ("loss", "acc"):
            self.log(f"{stage}/{name}", getattr(self, f"{stage}_{name}"), prog_bar=True)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict:
        if self.automatic_optimization:
            return self._step(batch, "train")
        return self._fused_steps(batch, batch_idx)

    def _fused_steps(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict | None:
        """Up to ``fused_steps`` optimizer steps, one per ``batch_size`` slice of ``batch``.

        What Lightning's automatic loop does per batch, in its order: the loss divided by
        ``accumulate_grad_batches``, a step every that many batches and at the epoch's
        last, clipping in ``on_before_optimizer_step``, a "step" scheduler after each step.
        """
        optimizer = self.optimizers()
        scheduler = self._scheduler("step")
        accumulate = self.loop_options.accumulate_grad_batches
        x, y = batch
        size = self._micro_batch_size or y.shape[0]
        first = batch_idx * self.fused_steps  # the index in the epoch of the group's first
        chunks = list(zip(x.split(size), y.split(size), strict=True))
        if self.loop_options.limit_train_batches is not None:
            chunks = chunks[: max(self.loop_options.limit_train_batches - first, 0)]
        max_steps = self.trainer.max_steps
        last_of_epoch = batch_idx + 1 >= self.trainer.num_training_batches
        logits, losses = [], []
        for j, (x_j, y_j) in enumerate(chunks):
            if max_steps != -1 and self.trainer.global_step >= max_steps:
                chunks = chunks[:j]  # stop at max_steps, not at the group's end
                break
            out = self(x_j)
            loss = self.loss(out, y_j)
            self.manual_backward(loss / accumulate if accumulate > 1 else loss)
            logits.append(out.detach())
            losses.append(loss.detach())
            if (first + j + 1) % accumulate == 0 or (last_of_epoch and j == len(chunks) - 1):
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                if scheduler is not None:
                    scheduler.step()
        # Loggers count steps in Lightning's "batches that stepped": make that the optimizer
        # steps, as without fusing (Lightning adds this group's one after the hook).
        epoch_loop = self.trainer.fit_loop.epoch_loop
        epoch_loop._batches_that_stepped = self.trainer.global_step - 1
        if not losses:
            return None
        # The metrics once per group (a torchmetrics update costs ~0.1 ms on a CPU).
        loss, sizes = torch.stack(losses), [t.shape[0] for _, t in chunks]
        weight = torch.tensor(sizes, dtype=loss.dtype).to(loss.device, non_blocking=True)
        self._update_metrics("train", torch.cat(logits), y[: sum(sizes)], loss, weight)
        # "losses": each step's, for the NaN guard to name the step that went wrong.
        return {"loss": loss.mean(), "losses": loss}

    def _scheduler(self, interval: str) -> Any:
        configs = self.trainer.lr_scheduler_configs
        return configs[0].scheduler if configs and configs[0].interval == interval else None

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Lightning clips after this hook in automatic optimisation; fused steps clip here.
        options = self.loop_options
        if not self.automatic_optimization and options.gradient_clip_val:
            self.clip_gradients(
                optimizer,
                gradient_clip_val=options.gradient_clip_val,
                gradient_clip_algorithm=options.gradient_clip_algorithm,
            )

    def setup(self, stage: str) -> None:
        # Fused steps: ask the datamodule for groups of fused_steps batches.
        if stage != "fit" or self.automatic_optimization:
            return
        datamodule = self.trainer.datamodule
        if not hasattr(datamodule, "fused_steps"):
            raise ValueError(
                f"fused_steps={self.fused_steps} needs a litexp datamodule (one with "
                "fused_steps and batch_size): set fused_steps=1 for other data"
            )
        datamodule.fused_steps = self.fused_steps
        self._micro_batch_size = datamodule.batch_size

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict:
        return self._step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict:
        return self._step(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.probabilities(self(x))

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")
        if not self.automatic_optimization:  # Lightning steps these only when automatic
            scheduler = self._scheduler("epoch")
            if scheduler is not None:
                scheduler.step()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def configure_model(self) -> None:
        # In place (nn.Module.compile): state_dict keys stay free of "_orig_mod.".
        if self.compile_mode and not getattr(self, "_net_compiled", False):
            mode = None if self.compile_mode is True else self.compile_mode
            self.net.compile(mode=mode)
            self._net_compiled = True

    def configure_optimizers(self) -> Any:
        params: Iterable[nn.Parameter] = [p for p in self.parameters() if p.requires_grad]
        optimizer = self.optimizer(params, lr=self.lr)
        if self.scheduler is None:
            return optimizer
        kwargs, interval = {}, "epoch"
        if "total_steps" in inspect.signature(self.scheduler).parameters:
            kwargs["total_steps"] = self._total_steps()
            interval = "step"
        scheduler = self.scheduler(optimizer, **kwargs)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": interval},
        }

    def _total_steps(self) -> int:
        """Optimizer steps in the whole fit, as Lightning's ``estimated_stepping_batches``."""
        trainer = self.trainer
        estimate = int(trainer.estimated_stepping_batches)  # also sets up the train loader
        if self.automatic_optimization or trainer.max_epochs == -1:
            return estimate
        # Fused: Lightning counted groups and no accumulation; count batches and steps.
        steps = math.ceil(
            self.train_batches_per_epoch() / self.loop_options.accumulate_grad_batches
        )
        steps *= max(trainer.max_epochs or 1, 1)
        return min(steps, trainer.max_steps) if trainer.max_steps != -1 else steps

    def train_batches_per_epoch(self) -> int:
        """Training batches of ``batch_size`` an epoch: Lightning's count unless fused."""
        trainer = self.trainer
        groups = trainer.num_training_batches
        if self.automatic_optimization or groups == float("inf"):
            return groups
        loader = trainer.train_dataloader
        batches = groups * self.fused_steps
        if groups >= len(loader) and self._micro_batch_size:  # whole epochs: the last may be short
            batches = math.ceil(len(loader.sampler) / self._micro_batch_size)
        if self.loop_options.limit_train_batches is not None:
            batches = min(batches, self.loop_options.limit_train_batches)
        return batches
