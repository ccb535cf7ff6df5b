"""Same seed, same config, CPU: the same metrics, to the last bit."""

from __future__ import annotations

import torch

from litexp.train import train

SMALL = ["trainer.max_epochs=2", "model.dropout=0.2"]


def test_same_seed_same_metrics_other_seed_other_metrics(make_cfg, tmp_path) -> None:
    first = train(make_cfg(*SMALL, f"paths.output_dir={tmp_path / 'a'}"))
    again = train(make_cfg(*SMALL, f"paths.output_dir={tmp_path / 'b'}"))
    other = train(make_cfg(*SMALL, "seed=43", f"paths.output_dir={tmp_path / 'c'}"))
    assert first["metrics"] == again["metrics"]  # exact: floats compared bit for bit
    assert first["metrics"] != other["metrics"]  # the seed matters, so the check can fail
    # The weights too, not only the rounded metrics.
    a = torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    # trainer=cpu turns deterministic algorithms on (conf/trainer/cpu.yaml).
    assert torch.are_deterministic_algorithms_enabled()
