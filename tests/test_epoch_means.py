"""An epoch's loss is the mean over its samples: a short last batch weighs what it holds."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from litexp.models.classifier import Classifier


def test_epoch_loss_is_the_per_sample_mean_with_a_short_last_batch() -> None:
    torch.manual_seed(0)
    model = Classifier(num_classes=3, net=nn.Linear(2, 3), input_shape=(2,))
    model.eval()
    x, y = torch.randn(65, 2), torch.randint(0, 3, (65,))
    with torch.no_grad():
        for lo, hi in ((0, 64), (64, 65)):  # a batch of 64, then one of 1
            model._step((x[lo:hi], y[lo:hi]), "val")
        whole = F.cross_entropy(model(x), y)
        per_batch = (
            F.cross_entropy(model(x[:64]), y[:64]) + F.cross_entropy(model(x[64:]), y[64:])
        ) / 2
    assert abs(whole - per_batch) > 1e-3  # the two means differ here, so the check can fail
    assert torch.allclose(model.val_loss.compute(), whole, atol=1e-6)
