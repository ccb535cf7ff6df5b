"""Sweep cost: the per-job overhead of a sequential sweep, and parallel vs sequential.

Overhead: one sequential sweep of ``--jobs`` tiny jobs (``python train.py -m ...``).
Hydra logs the moment it launches each job; the time from one launch to the next,
minus the job's own ``wall_time_s`` (its ``train()``, from metrics.json), is what the
sweep adds per job: composing the job's config, Hydra's job set-up, the callbacks,
litexp's job wrapper (job 0, which also imports torch, is left out). Target: <= 0.2 s.

Parallel vs sequential: the same 2-job sweep run with the basic launcher and with
``hydra/launcher=parallel`` (2 joblib processes, cores // 2 torch threads each); whole
command wall time, best of ``--repeats``. Jobs are sized to a few seconds of training
each: the parallel launcher pays a worker start-up (importing torch) that tiny jobs do
not repay. Target: parallel not slower.

    python -m benchmarks.sweep [--jobs 6] [--repeats 2] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVERHEAD_TARGET_S = 0.2
COMMON = ["trainer=cpu", "logger=none", "callbacks.progress_bar=null", "data=circles"]
TINY = ["trainer.max_epochs=1", "data.n_samples=200"]
# Several seconds of training per job on one core: ~90 steps/epoch of the MLP, 12 epochs.
SIZED = ["trainer.max_epochs=12", "data.n_samples=24000", "data.batch_size=256"]
LAUNCH = re.compile(r"^\[(\S+ \S+)\]\[HYDRA\] \t#(\d+) : ")


def _sweep(args: list[str], log_dir: Path) -> tuple[float, str, Path]:
    """Run ``train.py -m args``; (wall seconds, stdout, the sweep directory)."""
    env = {**os.environ, "LITEXP_LOG_DIR": str(log_dir), "LITEXP_DATA_DIR": str(log_dir / "data")}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"sweep failed ({proc.returncode}): {proc.stderr[-2000:]}")
    sweeps = sorted((log_dir / "train" / "multiruns").iterdir(), key=lambda p: p.stat().st_mtime)
    return wall, proc.stdout + proc.stderr, sweeps[-1]


def job_dir(sweep: Path, num: int) -> Path:
    """Job ``num``'s directory: ``<num>_<its swept values>`` (litexp.sweep.naming)."""
    (found,) = sweep.glob(f"{num}_*")
    return found


def per_job_overhead(jobs: int = 6) -> dict[str, float]:
    """Seconds a sequential sweep spends per job outside the job's own ``train()``."""
    if jobs < 3:
        raise ValueError(
            f"jobs={jobs} is invalid: needs >= 3 (job 0 is left out, the last has no successor)"
        )
    lrs = ",".join(f"{0.01 * (i + 1):g}" for i in range(jobs))
    with tempfile.TemporaryDirectory() as tmp:
        _, out, sweep = _sweep([f"model.lr={lrs}", *COMMON, *TINY], Path(tmp))
        launches: dict[int, float] = {}
        for line in out.splitlines():
            if m := LAUNCH.match(line):
                stamp = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
                launches[int(m.group(2))] = stamp.timestamp()
        walls = {
            i: json.loads((job_dir(sweep, i) / "metrics.json").read_text())["wall_time_s"]
            for i in range(jobs)
        }
    # Job 0 also imports torch/Lightning (train.py defers it until Hydra accepted the
    # config): a once-per-sweep cost, left out here.
    gaps = [launches[i + 1] - launches[i] - walls[i] for i in range(1, jobs - 1)]
    return {
        "jobs": jobs,
        "overhead_s_mean": statistics.mean(gaps),
        "overhead_s_max": max(gaps),
        "job_train_s_mean": statistics.mean(walls.values()),
    }


def parallel_vs_sequential(repeats: int = 2) -> dict[str, float]:
    """Best-of-``repeats`` wall time of one 2-job sweep, sequential and parallel."""
    args = ["model.lr=0.01,0.02", *COMMON, *SIZED]
    seq, par, job = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):  # alternate, so both see the same machine
            wall, _, sweep = _sweep(args, Path(tmp))
            seq.append(wall)
            job += [
                json.loads((job_dir(sweep, j) / "metrics.json").read_text())["wall_time_s"]
                for j in (0, 1)
            ]
            par.append(_sweep(["hydra/launcher=parallel", *args], Path(tmp))[0])
    return {
        "sequential_s": min(seq),
        "parallel_s": min(par),
        "speedup": min(seq) / min(par),
        "job_train_s": statistics.median(job),
    }


def run(jobs: int = 6, repeats: int = 2) -> dict[str, dict[str, float]]:
    """All figures, for a runner that collects every benchmark."""
    return {"overhead": per_job_overhead(jobs), "parallel": parallel_vs_sequential(repeats)}


def markdown_rows(figures: dict[str, dict[str, float]]) -> list[str]:
    """``| benchmark | result | target |`` rows."""
    o, p = figures["overhead"], figures["parallel"]
    ok_o = "met" if o["overhead_s_mean"] <= OVERHEAD_TARGET_S else "MISSED"
    ok_p = "met" if p["parallel_s"] <= p["sequential_s"] else "MISSED"
    return [
        f"| sweep: per-job overhead, sequential ({o['jobs']} jobs) | "
        f"{o['overhead_s_mean']:.3f} s mean, {o['overhead_s_max']:.3f} s max | "
        f"<= {OVERHEAD_TARGET_S} s ({ok_o}) |",
        f"| sweep: 2 jobs of ~{p['job_train_s']:.1f} s, parallel vs sequential | "
        f"{p['parallel_s']:.1f} s vs {p['sequential_s']:.1f} s ({p['speedup']:.2f}x) | "
        f"parallel not slower ({ok_p}) |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--markdown", action="store_true", help="print Markdown table rows")
    args = parser.parse_args()
    figures = run(args.jobs, args.repeats)
    if args.markdown:
        print("\n".join(markdown_rows(figures)))
    else:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
