"""Fit diagnosis from a run's per-epoch history: underfitting, overfitting, or a good fit.

The history is :class:`~litexp.callbacks.history.EpochHistory`'s list of epochs, each
``{"epoch": n, "train/loss", "train/acc", "val/loss", "val/acc"}``. The rules, in order
(the thresholds are the module constants):

1. ``underfitting``: the last epoch's train accuracy is within ``NEAR_CHANCE`` (0.10) of
   chance (1 / num_classes): the model does not even fit its training data.
2. ``overfitting from epoch N``: the val loss reached its minimum at epoch M < the last
   epoch, ended more than ``RISE`` (10%) and more than ``MIN_RISE`` (0.01) above that
   minimum and above the last train loss, and the train loss kept falling after M (so
   a converged run whose val loss wobbles from 0.007 to 0.011 is not overfitting). N = M + 1, the first epoch past the minimum (an early stop with
   patience p ends at M + p). The gap reported is the last val loss minus the last
   train loss.
3. ``underfitting`` (still learning): with at least ``MIN_EPOCHS`` epochs, the last
   ``WINDOW`` (3) epochs (all but the first in a run of 3) brought more than ``STEEP`` (25%) of the train loss's whole fall since
   epoch 1, and the val loss fell too: more epochs would still help. (A share of the
   whole fall, not of the loss: a converged run's loss going from 0.03 to 0.02 is a big
   relative drop but a small share.)
4. ``good fit``: none of these, with at least ``MIN_EPOCHS`` (3) epochs of history.
5. ``undecided``: fewer epochs than that, or no validation loss to judge by.

Every verdict comes with the figures it was decided on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NEAR_CHANCE = 0.10  # train acc <= chance + this: underfitting
RISE = 0.10  # last val loss > (1 + this) * its minimum: rising
MIN_RISE = 0.01  # ... and by more than this much: not a wobble of a converged run
WINDOW = 3  # epochs looked back over for "still falling steeply"
STEEP = 0.25  # share of the train loss's whole fall in the last WINDOW epochs: steep
MIN_EPOCHS = 3  # fewer epochs: too few to call a fit good

History = Sequence[dict[str, Any]]


def _series(history: History, key: str) -> list[float] | None:
    values = [row.get(key) for row in history]
    return None if any(v is None for v in values) else [float(v) for v in values]  # type: ignore[arg-type]


def diagnose(history: History, num_classes: int) -> dict[str, Any]:
    """The verdict on a run's fit, with the figures it rests on.

    Returns ``{"verdict": "underfitting" | "overfitting" | "good fit" | "undecided",
    "from_epoch": N (overfitting only), "text": one line for tables, "figures": {...}}``.
    """
    chance = 1.0 / num_classes
    train_loss, val_loss = _series(history, "train/loss"), _series(history, "val/loss")
    train_acc = _series(history, "train/acc")
    figures: dict[str, Any] = {"epochs": len(history), "chance": round(chance, 4)}
    if not history or train_loss is None or train_acc is None:
        return _verdict("undecided", figures, "undecided (no train history)")
    figures.update(train_loss=_r(train_loss[-1]), train_acc=_r(train_acc[-1]))
    if val_loss is not None:
        figures.update(val_loss=_r(val_loss[-1]), gap=_r(val_loss[-1] - train_loss[-1]))

    if train_acc[-1] <= chance + NEAR_CHANCE:
        return _verdict(
            "underfitting",
            figures,
            f"underfitting (train acc {train_acc[-1]:.3f}, chance {chance:.3f})",
        )
    if val_loss is None:
        return _verdict("undecided", figures, "undecided (no validation loss)")

    best = min(range(len(val_loss)), key=val_loss.__getitem__)  # 0-based epoch of the minimum
    figures.update(best_val_loss=_r(val_loss[best]), best_epoch=int(history[best]["epoch"]))
    rise = val_loss[-1] - val_loss[best]
    rising = val_loss[-1] > (1 + RISE) * val_loss[best] and rise > MIN_RISE
    rising = rising and val_loss[-1] > train_loss[-1]  # the textbook gap: train below val
    if best < len(val_loss) - 1 and rising and train_loss[-1] < train_loss[best]:
        start = int(history[best]["epoch"]) + 1
        return _verdict(
            "overfitting",
            figures,
            f"overfitting from epoch {start} (val loss {val_loss[best]:.3f} -> "
            f"{val_loss[-1]:.3f}, train loss {train_loss[-1]:.3f}, gap {figures['gap']:.3f})",
            from_epoch=start,
        )
    if len(history) >= MIN_EPOCHS:  # 2 epochs: one drop, always "all of the fall"
        k = min(WINDOW, len(history) - 1)  # a shorter run: over all its epochs
        whole = train_loss[0] - train_loss[-1]
        share = (train_loss[-1 - k] - train_loss[-1]) / whole if whole > 0 else 0.0
        figures["late_share_of_fall"] = _r(share)
        if share > STEEP and val_loss[-1] < val_loss[-1 - k]:
            return _verdict(
                "underfitting",
                figures,
                f"underfitting (train loss still falling: {share:.0%} of its fall came in "
                f"the last {k} epochs)",
            )
    if len(history) < MIN_EPOCHS:
        return _verdict(
            "undecided", figures, f"undecided ({len(history)} epochs: too few to judge)"
        )
    return _verdict(
        "good fit",
        figures,
        f"good fit (train loss {train_loss[-1]:.3f}, val loss {val_loss[-1]:.3f})",
    )


def epochs_to(history: History, target: float, metric: str = "val/acc") -> int | None:
    """The first epoch (1-based) whose ``metric`` reached ``target``; None if none did."""
    for row in history:
        value = row.get(metric)
        if value is not None and value >= target:
            return int(row["epoch"])
    return None


def _r(value: float) -> float:
    return round(float(value), 4)


def _verdict(verdict: str, figures: dict[str, Any], text: str, **extra: Any) -> dict[str, Any]:
    return {"verdict": verdict, **extra, "text": text, "figures": figures}
