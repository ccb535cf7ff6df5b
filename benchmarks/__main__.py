"""Run every benchmark side by side with its baseline and write benchmarks/RESULTS.md.

    python -m benchmarks                 # all of them (about 15 minutes on 2 CPU cores)
    python -m benchmarks --only data_path,loop_overhead

Each benchmark runs its baseline in the same process or session, repeats (median of at
least 3 where the benchmark is short enough, with the min-max spread) and returns
Markdown rows. GPU figures come from ``python -m benchmarks.gpu`` on a GPU machine
(``benchmarks/results/gpu_*.json``) and are quoted as recorded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"


def _data_path() -> str:
    from benchmarks import data_path

    return data_path.markdown(data_path.measure(repeats=3))


def _folder_data() -> str:
    from benchmarks import folder_data

    return folder_data.markdown(folder_data.measure(repeats=3))


def _loop_overhead() -> str:
    from benchmarks import loop_overhead

    return loop_overhead.markdown([loop_overhead.measure(c, repeats=3) for c in ("mlp", "cnn")])


def _time_to_accuracy() -> str:
    from benchmarks import time_to_accuracy

    return time_to_accuracy.markdown(time_to_accuracy.measure(repeats=3, epochs=(2, 4)))


def _transfer() -> str:
    from benchmarks import transfer

    return transfer.markdown(transfer.measure())


def _sweep() -> str:
    from benchmarks import sweep

    cmd = " `python -m benchmarks.sweep` |"
    return "\n".join(row + cmd for row in sweep.markdown_rows(sweep.run()))


def _soak() -> str:
    from benchmarks import soak

    return "\n".join(
        soak.markdown_rows({**soak.run(), **soak.compose_ms(), **soak.hydra_floor_s()})
    )


def _gpu() -> str:
    rows = []
    for path in sorted((HERE / "results").glob("gpu_*.json")):
        r = json.loads(path.read_text())
        eager = r["throughput"][0]
        best = min(r["time_to_accuracy"], key=lambda t: t["seconds"])
        note = f"; {r['note']}" if r.get("note") else ""
        src = f"`{r['command']}` ({r['machine']}, {r['date']}; {path.name}{note})"
        rows += [
            f"| GPU ({r['device']}): FashionCNN training samples/s | {eager['samples_per_s']:,.0f} | | {src} |",
            f"| GPU ({r['device']}): fashion_cnn_gpu, {best['epochs']} epochs | test acc {best['test_acc']:.4f} in {best['seconds']:.1f} s | 0.93 in < 10 s ({'met' if best['test_acc'] >= 0.93 and best['seconds'] < 10 else 'MISSED'}) | {src} |",
        ]
        rows += [
            f"| GPU ({r['device']}): torch.compile={t['compile']} | {t['samples_per_s']:,.0f} samples/s, {t['speedup']:.2f}x, first epoch {t['first_epoch_s']:.1f} s | | {src} |"
            for t in r["throughput"][1:]
        ]
    if not rows:
        rows.append(
            "| GPU | not measured (no GPU in this session) | | `python -m benchmarks.gpu` |"
        )
    return "\n".join(rows)


BENCHMARKS: dict[str, Callable[[], str]] = {
    "data_path": _data_path,
    "folder_data": _folder_data,
    "loop_overhead": _loop_overhead,
    "time_to_accuracy": _time_to_accuracy,
    "transfer": _transfer,
    "sweep": _sweep,
    "soak": _soak,
    "gpu": _gpu,
}


def machine() -> str:
    """CPU model, cores, GPU: the line every figure is read against."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}; Python {platform.python_version()}, torch {torch.__version__}"


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=HERE,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


ROWS_MARK = "=== rows ==="


def _rows_in_own_process(name: str) -> str:
    """One benchmark's rows, measured in a fresh interpreter: what one benchmark leaves
    behind (worker processes, allocator state, threads) must not slow the next one."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--rows", name],
        cwd=HERE.parent,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    out = proc.stdout
    if proc.returncode != 0 or ROWS_MARK not in out:
        return f"| {name} | FAILED (exit {proc.returncode}; run `python -m benchmarks.{name}` to see why) | | `python -m benchmarks.{name}` |"
    return out.split(ROWS_MARK, 1)[1].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated names")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--rows", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rows:  # the child of _rows_in_own_process
        try:
            rows = BENCHMARKS[args.rows]()
        except Exception:  # one broken benchmark must not lose the others' figures
            rows = f"| {args.rows} | FAILED: {traceback.format_exc().strip().splitlines()[-1]} | | `python -m benchmarks.{args.rows}` |"
        print(ROWS_MARK, rows, sep="\n", flush=True)
        return
    sections = []
    for name in args.only.split(","):
        print(f"== {name}", flush=True)
        rows = _rows_in_own_process(name)
        print(rows, flush=True)
        sections.append(rows)
    header = (
        "# Benchmark results\n\n"
        f"Written by `python -m benchmarks --only {args.only}` on {dt.date.today()} at commit {_commit()}.\n\n"
        f"Machine: {machine()}.\n\n"
        "Each figure is the median of its repeats with the min-max spread in brackets; every\n"
        "baseline ran in the same session, alternating with litexp where the benchmark allows.\n"
        "Each benchmark runs in its own process.\n\n"
        "| benchmark | figure | target | command |\n|---|---|---|---|\n"
    )
    Path(args.out).write_text(header + "\n".join(sections) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
