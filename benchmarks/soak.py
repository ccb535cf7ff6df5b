"""Soak: a long sequential sweep in one process leaks no threads or memory, and stays fast.

One ``python train.py -m`` sweep of ``--jobs`` tiny jobs (toy data, one epoch, litexp's
defaults otherwise: TensorBoard logger, progress bar, model summary, test report), run
with the basic launcher, so every job runs in the sweep's own process. A Hydra callback
(``SoakProbe``, added with ``+hydra.callbacks.soak=...``) samples that process after each
job: its OS threads (``/proc/self/status``), Python threads, and resident memory, and the
times of each job's start; a job's overhead is the time from its start to the next job's
start minus its own ``train()`` time (``wall_time_s`` of its ``metrics.json``).

Targets: threads constant from job 5 on, RSS growth under 50 MB from job 5 to the last,
per-job overhead under 0.2 s (median over jobs 5 to the last).

    python -m benchmarks.soak [--jobs 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROBE_ENV = "LITEXP_SOAK_OUT"  # where SoakProbe appends its samples (JSON lines)
RSS_TARGET_MB = 50
OVERHEAD_TARGET_S = 0.2
FROM_JOB = 5  # the first jobs warm caches up (imports, allocator): measured from here
TINY = ["trainer=cpu", "trainer.max_epochs=1", "data=circles", "data.n_samples=100"]

try:  # a Hydra callback when the sweep imports this module; plain data otherwise
    from hydra.experimental.callback import Callback
except ImportError:  # pragma: no cover
    Callback = object  # type: ignore[misc,assignment]


def _status() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Threads", "VmRSS"):
            fields[key] = int(value.split()[0])
    return fields


class SoakProbe(Callback):
    """Hydra callback: one JSON line per job with threads, RSS and its start time."""

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        self.started = time.time()

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        status = _status()
        out = Path(str(config.hydra.runtime.output_dir))
        try:
            wall = json.loads((out / "metrics.json").read_text())["wall_time_s"]
        except (OSError, ValueError, KeyError):
            wall = None
        sample = {
            "job": int(config.hydra.job.num),
            "started": self.started,
            "ended": time.time(),
            "wall_time_s": wall,
            "os_threads": status["Threads"],
            "py_threads": threading.active_count(),
            "rss_mb": status["VmRSS"] / 1024,
        }
        with open(os.environ[PROBE_ENV], "a") as f:
            f.write(json.dumps(sample) + "\n")


def run(jobs: int = 50) -> dict[str, Any]:
    """Run the soak sweep; the samples and the figures."""
    seeds = ",".join(str(i) for i in range(jobs))
    with tempfile.TemporaryDirectory() as tmp:
        samples_file = Path(tmp) / "samples.jsonl"
        env = {
            **os.environ,
            "LITEXP_LOG_DIR": str(Path(tmp) / "logs"),
            PROBE_ENV: str(samples_file),
        }
        command = [
            sys.executable,
            str(ROOT / "train.py"),
            "-m",
            f"seed={seeds}",
            *TINY,
            "+hydra.callbacks.soak._target_=benchmarks.soak.SoakProbe",
        ]
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        total = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"soak sweep failed ({proc.returncode}): {proc.stderr[-2000:]}")
        samples = [json.loads(line) for line in samples_file.read_text().splitlines()]
    samples.sort(key=lambda s: s["job"])
    later = [s for s in samples if s["job"] >= FROM_JOB]
    overheads = [
        b["started"] - a["started"] - a["wall_time_s"]
        for a, b in zip(later, later[1:], strict=False)
        if a["wall_time_s"] is not None
    ]
    # The overhead's two parts: inside the job after train() returned (its end-of-run work,
    # the trainer's teardown, Hydra's job end), and between jobs (Hydra composing the next
    # job's config, setting up its directory and logging).
    after = [s["ended"] - s["started"] - s["wall_time_s"] for s in later if s["wall_time_s"]]
    between = [b["started"] - a["ended"] for a, b in zip(later, later[1:], strict=False)]
    return {
        "after_train_median_s": statistics.median(after),
        "between_jobs_median_s": statistics.median(between),
        "jobs": len(samples),
        "total_s": total,
        "os_threads": [s["os_threads"] for s in samples],
        "py_threads": [s["py_threads"] for s in samples],
        "rss_mb": [round(s["rss_mb"], 1) for s in samples],
        "rss_growth_mb": later[-1]["rss_mb"] - later[0]["rss_mb"],
        "overhead_median_s": statistics.median(overheads),
        "overhead_max_s": max(overheads),
        "job_wall_median_s": statistics.median(s["wall_time_s"] for s in later),
    }


def compose_ms(repeats: int = 20) -> dict[str, float]:
    """Hydra's own share of "between jobs": one compose of a job's config (what the basic
    launcher does per job), litexp's train config against a one-key config, ms each."""
    from hydra import compose, initialize_config_dir

    def timed(conf_dir: Path, name: str, overrides: list[str]) -> float:
        with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
            compose(name, overrides=overrides, return_hydra_config=True)  # warm up
            start = time.perf_counter()
            for i in range(repeats):
                compose(name, overrides=[f"seed={i}", *overrides], return_hydra_config=True)
            return (time.perf_counter() - start) / repeats * 1000

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "one.yaml").write_text("seed: 0\n")
        one_key = timed(Path(tmp), "one", [])
    litexp = timed(ROOT / "conf", "train", ["trainer=cpu", "data=circles"])
    return {"compose_litexp_ms": litexp, "compose_one_key_ms": one_key}


# A Hydra app whose task does nothing but note the time: Hydra's own per-job cost, with
# litexp's config tree (its resolvers, its Hydra callbacks) or a config of one key.
_NO_OP_APP = """
import os, sys, time
import hydra
from litexp.config import register_resolvers

register_resolvers()

@hydra.main(version_base="1.3", config_path=sys.argv.pop(1), config_name=sys.argv.pop(1))
def main(cfg):
    with open(os.environ["LITEXP_SOAK_OUT"], "a") as f:
        f.write(str(time.time()) + "\\n")

main()
"""


def hydra_floor_s(jobs: int = 50) -> dict[str, float]:
    """Median seconds from one job's start to the next in a ``jobs``-job sequential sweep
    whose task does nothing: Hydra's per-job floor beside litexp's (the same launcher)."""
    seeds = ",".join(str(i) for i in range(jobs))
    floors = {}
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "no_op_app.py"
        app.write_text(_NO_OP_APP)
        (Path(tmp) / "one.yaml").write_text("seed: 0\n")
        for key, conf, name in (("litexp", ROOT / "conf", "train"), ("one_key", Path(tmp), "one")):
            out = Path(tmp) / f"{key}.times"
            env = {**os.environ, "LITEXP_LOG_DIR": str(Path(tmp) / "logs"), PROBE_ENV: str(out)}
            extra = TINY if key == "litexp" else [f"hydra.sweep.dir={tmp}/sweep_{key}"]
            command = [sys.executable, str(app), str(conf), name, "-m", f"seed={seeds}", *extra]
            proc = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True)
            starts = [float(t) for t in out.read_text().split()] if out.exists() else []
            if len(starts) != jobs:  # litexp's summary exits 1: no job wrote metrics.json
                raise RuntimeError(f"no-op sweep failed: {proc.stderr[-2000:]}")
            starts = starts[FROM_JOB:]
            floors[f"hydra_floor_{key}_s"] = statistics.median(
                b - a for a, b in zip(starts, starts[1:], strict=False)
            )
    return floors


def markdown_rows(r: dict[str, Any]) -> list[str]:
    n, cmd = r["jobs"], "`python -m benchmarks.soak`"
    last = n - 1
    threads = r["os_threads"]
    flat = len(set(threads[FROM_JOB:])) == 1 and len(set(r["py_threads"][FROM_JOB:])) == 1
    rss_ok = r["rss_growth_mb"] < RSS_TARGET_MB
    over_ok = r["overhead_median_s"] < OVERHEAD_TARGET_S
    met = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    return [
        f"| soak: threads after jobs 1 / {FROM_JOB + 1} / {n} (OS; Python) | "
        f"{threads[0]} / {threads[FROM_JOB]} / {threads[last]}; "
        f"{r['py_threads'][0]} / {r['py_threads'][FROM_JOB]} / {r['py_threads'][last]} | "
        f"constant from job {FROM_JOB + 1} ({met(flat)}) | {cmd} |",
        f"| soak: RSS after jobs 1 / {FROM_JOB + 1} / {n} | {r['rss_mb'][0]:.0f} / "
        f"{r['rss_mb'][FROM_JOB]:.0f} / {r['rss_mb'][last]:.0f} MB (growth "
        f"{r['rss_growth_mb']:+.1f} MB from job {FROM_JOB + 1}) | < {RSS_TARGET_MB} MB "
        f"({met(rss_ok)}) | {cmd} |",
        f"| soak: per-job overhead, jobs {FROM_JOB + 1}-{n} (job's own train() "
        f"{r['job_wall_median_s']:.2f} s) | {r['overhead_median_s']:.3f} s median, "
        f"{r['overhead_max_s']:.3f} s max | < {OVERHEAD_TARGET_S} s ({met(over_ok)}) | {cmd} |",
        f"| soak: overhead's parts: in the job after train() / between jobs | "
        f"{r['after_train_median_s']:.3f} s / {r['between_jobs_median_s']:.3f} s (medians) | | "
        f"{cmd} |",
        f"| Hydra's compose of one job's config: litexp's train config / a one-key config | "
        f"{r['compose_litexp_ms']:.0f} ms / {r['compose_one_key_ms']:.0f} ms | | {cmd} |",
        f"| Hydra's floor: job start to next job start, a task that does nothing, litexp's "
        f"config / a one-key config | {r['hydra_floor_litexp_s']:.3f} s / "
        f"{r['hydra_floor_one_key_s']:.3f} s (medians) | | {cmd} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args()
    result = {**run(args.jobs), **compose_ms(), **hydra_floor_s(args.jobs)}
    print(json.dumps(result))
    print("\n".join(markdown_rows(result)))


if __name__ == "__main__":
    main()
