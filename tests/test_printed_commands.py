"""Commands litexp prints paste back into a shell as they are, whatever the path holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from litexp.resume import override
from tests.conftest import ROOT, read_metrics, run_cli


class SignalOnce(L.Callback):
    """Test helper: SIGTERM at ``at_step``, once ever (``marker`` remembers it was sent)."""

    def __init__(self, at_step: int, marker: str) -> None:
        self.at_step, self.marker = at_step, Path(marker)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step >= self.at_step and not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize(
    "path", ["/tmp/a é/x", "/tmp/it's here", "/tmp/a,b=c", "/tmp/back\\", "/plain/run-1.2"]
)
def test_override_reads_back_as_the_same_value(path: str) -> None:
    parsed = OverridesParser.create().parse_overrides([override("resume", path)])[0]
    assert parsed.value() == path


@pytest.mark.slow
def test_printed_resume_command_pasted_into_bash_resumes(tmp_path: Path) -> None:
    """A run under "runs é x/" stopped by SIGTERM: its printed command, run by bash, resumes."""
    where = tmp_path / "runs é x"
    marker = tmp_path / "signalled"
    args = [
        "trainer=cpu",
        "trainer.max_epochs=2",
        "data.n_samples=400",
        f"+callbacks.signal._target_={__name__}.SignalOnce",
        "+callbacks.signal.at_step=3",
        f"+callbacks.signal.marker={marker}",
    ]
    first = run_cli("train.py", *args, cwd=where)
    assert first.returncode == 128 + signal.SIGTERM, first.stderr[-2000:]
    lines = first.stderr.splitlines()
    command = next(lines[i + 1] for i, line in enumerate(lines) if "Resume with:" in line)
    command = command.strip()
    assert "runs é x" in command

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "LITEXP_LOG_DIR": str(where / "logs"),
    }
    resumed = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )

    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "continuing from" in resumed.stderr
    run_dir = next((where / "logs" / "train" / "runs").iterdir())
    assert read_metrics(run_dir)["status"] == "completed"
    assert f"tensorboard --logdir '{run_dir}'" in resumed.stdout
