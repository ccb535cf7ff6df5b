"""The classification system shared by every litexp model.

It owns the loss, metrics, optimiser and logging; subclasses only build ``self.net``,
and ``model=classifier`` wraps any ``nn.Module`` a user brings (``net=``).
Two classes: one logit, BCE-with-logits, sigmoid. More: one logit per class,
cross-entropy, softmax.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from litexp.checks import positive_int
from litexp.models.own_net import NetFactory, make_net

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]
Batch = tuple[torch.Tensor, torch.Tensor]
# The checkpoint entry with the training metrics' states (on_save_checkpoint).
TRAIN_METRICS_KEY = "litexp_train_metrics"
TRAIN_METRICS = ("train_acc", "train_loss")
COMPILE_MODES = (
    False,
    True,
    "default",
    "reduce-overhead",
    "max-autotune",
    "max-autotune-no-cudagraphs",
)


def _check_optimizer(optimizer: OptimizerFactory, lr: float) -> None:
    """Fail now, not in ``configure_optimizers``: build the optimiser on a dummy tensor."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr={lr!r} is invalid: the learning rate must be a number > 0")
    try:
        optimizer([nn.Parameter(torch.zeros(1))], lr=lr)
    except (TypeError, ValueError) as err:
        raise ValueError(f"optimizer is invalid: {err}") from None


class Classifier(L.LightningModule):
    """Binary or multi-class classification around a net that maps inputs to logits.

    Args:
        num_classes: from the datamodule; 2 gives a single logit.
        net: the net, for ``model=classifier``: an ``nn.Module``, or a class / partial
            called with the data's sizes (see ``litexp.models.own_net``). Subclasses
            build ``self.net`` themselves and leave it None.
        input_shape: one sample's shape, from the datamodule (sizes ``net``).
        lr: learning rate, passed to ``optimizer``.
        optimizer: a partial ``torch.optim`` class (Hydra ``_partial_: true``).
        scheduler: optional partial LR scheduler; one that takes ``total_steps``
            (e.g. OneCycleLR) gets the run's total steps and steps every batch.
        class_names: names for reports and predictions (from the datamodule).
        compile: ``torch.compile`` the net: False, True, or a mode ("reduce-overhead",
            "max-autotune"). Compiled in place, so checkpoints keep their plain keys.
    """

    net: nn.Module

    def __init__(
        self,
        *,
        num_classes: int,
        net: nn.Module | NetFactory | None = None,
        input_shape: Sequence[int] | None = None,
        lr: float = 1e-3,
        optimizer: OptimizerFactory = torch.optim.Adam,
        scheduler: SchedulerFactory | None = None,
        class_names: list[str] | None = None,
        compile: bool | str = False,
    ) -> None:
        super().__init__()
        if compile not in COMPILE_MODES:
            raise ValueError(
                f"compile={compile!r} is invalid: use false, true or one of "
                f"{', '.join(m for m in COMPILE_MODES if isinstance(m, str))}"
            )
        positive_int("num_classes", num_classes, minimum=2)
        _check_optimizer(optimizer, lr)
        self.num_classes = num_classes
        self.binary = num_classes == 2
        self.num_outputs = 1 if self.binary else num_classes
        self.lr = lr
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.compile_mode = compile
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
        # Epoch-mean losses, weighted by batch size ("disable": no NaN check, no host sync;
        # it also drops update()'s weight= in torchmetrics <= 1.9, issue #3434, so _step
        # passes the batch's loss once per sample).
        self.train_loss = torchmetrics.MeanMetric(nan_strategy="disable")
        self.val_loss = torchmetrics.MeanMetric(nan_strategy="disable")
        self.test_loss = torchmetrics.MeanMetric(nan_strategy="disable")
        if net is not None:
            self.net = make_net(net, input_shape, self.num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: (B, 1) for binary, (B, num_classes) otherwise."""
        return self.net(x)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The mean loss of a batch: BCE-with-logits for binary, cross-entropy otherwise."""
        if self.binary:
            return F.binary_cross_entropy_with_logits(logits.squeeze(-1), target.float())
        return F.cross_entropy(logits, target)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, num_classes) class probabilities, binary included ([1 - p, p])."""
        if self.binary:
            p = torch.sigmoid(logits.squeeze(-1).float())
            return torch.stack([1 - p, p], dim=-1)
        return torch.softmax(logits.float(), dim=-1)

    def _step(self, batch: Batch, stage: str) -> dict[str, torch.Tensor]:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        # Per step only update() the stage's metrics, on the device: no host sync. They
        # are logged once an epoch (_log_epoch): a self.log() per step costs Lightning
        # about 1 ms on a CPU, more than a small MLP's whole step.
        getattr(self, f"{stage}_acc").update(logits.squeeze(-1) if self.binary else logits, y)
        getattr(self, f"{stage}_loss").update(loss.detach().expand(y.shape[0]))
        # logits and target: for the callbacks (TestReport's confusion matrix).
        return {"loss": loss, "logits": logits.detach(), "target": y}

    def _log_epoch(self, stage: str) -> None:
        # Lightning computes each metric (synced across DDP ranks), logs it and resets it.
        for name in ("loss", "acc"):
            self.log(f"{stage}/{name}", getattr(self, f"{stage}_{name}"), prog_bar=True)

    def training_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor]:
        out = self._step(batch, "train")
        # The loss per step too (tag train/loss_step), on the steps Lightning writes logs
        # (every trainer.log_every_n_steps): a curve even for a run of few epochs. Logged
        # only then, so the other steps pay nothing; the value stays a tensor until written.
        every = self.trainer.log_every_n_steps
        if every and (self.global_step + 1) % every == 0:
            self.log("train/loss_step", out["loss"].detach(), on_step=True, on_epoch=False)
        return out

    def on_train_epoch_start(self) -> None:
        # Each epoch's means start empty, also after resuming from a checkpoint saved at
        # an epoch's end (it holds that epoch's states). An epoch resumed in its middle
        # gets no epoch start from Lightning: the states on_load_checkpoint restored stay.
        for name in TRAIN_METRICS:
            getattr(self, name).reset()

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def validation_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor]:
        return self._step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def test_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor]:
        return self._step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """(B, num_classes) class probabilities."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.probabilities(self(x))

    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = self.optimizer(params, lr=self.lr)
        if self.scheduler is None:
            return optimizer
        if "total_steps" in inspect.signature(self.scheduler).parameters:
            # A per-step schedule over the whole fit (OneCycleLR).
            total = int(self.trainer.estimated_stepping_batches)
            scheduler = self.scheduler(optimizer, total_steps=total)
            interval = "step"
        else:
            scheduler, interval = self.scheduler(optimizer), "epoch"
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": interval},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The running epoch's training means so far (a few sums and counts): a run resumed
        # in the middle of an epoch then reports that epoch's train/loss and train/acc over
        # all of its batches, not only those after the resume. Kept beside the weights,
        # not in the state_dict, which stays weights only (eval, predict, init_from=).
        # With DDP every rank saves (Lightning's rule), so the sums are those of all ranks.
        saved = {}
        for name in TRAIN_METRICS:
            metric = getattr(self, name)
            with metric.sync_context():  # summed over the ranks, then back to this rank's
                saved[name] = {k: v.detach().clone() for k, v in metric.metric_state.items()}
        checkpoint[TRAIN_METRICS_KEY] = saved

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Resuming (Lightning calls this before the weights load). The sums of all ranks
        # go to rank zero only: each batch is counted once when the ranks' states are
        # summed again. A checkpoint written before these were kept has none: the epoch
        # then averages its batches after the resume.
        if self.global_rank != 0:
            return
        for name, states in checkpoint.get(TRAIN_METRICS_KEY, {}).items():
            metric = getattr(self, name)
            metric.load_state_dict({k: v.to(metric.device) for k, v in states.items()})

    def configure_model(self) -> None:
        # In place (nn.Module.compile): state_dict keys stay free of "_orig_mod.".
        if self.compile_mode and not getattr(self, "_net_compiled", False):
            mode = None if self.compile_mode is True else self.compile_mode
            self.net.compile(mode=mode)
            self._net_compiled = True
