"""Time to accuracy on Fashion-MNIST: the fashion_cnn recipe vs the seed tutorial's loop.

Wall clock from process start (``python train.py experiment=fashion_cnn``, imports
included) to the printed test result, for the recipe at a few epoch counts (OneCycleLR
fits its schedule to each), with the peak RSS of each run. Side by side: the seed
tutorial's plain loop (TinyVGG with 10 channels, SGD lr 0.1, batch 32, torchvision
``FashionMNIST`` + ``ToTensor`` per-sample loader), timed the same way, printing its
test accuracy after every epoch. Median of ``repeats`` runs (min-max). The first
recipe run starts with an empty cache (it decompresses the IDX files); that run is
reported apart and the others read the cache.

    python -m benchmarks.time_to_accuracy [--repeats 3] [--epochs 2,4] [--markdown]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.stats import spread

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "fashion_mnist"
TARGETS = {30.0: 0.91, 60.0: 0.92}  # seconds -> test accuracy to reach by then
TUTORIAL_BUDGET_S = 65.0


def _timed(
    cmd: list[str], env: dict[str, str], marker: str, cwd: Path = ROOT
) -> tuple[list[tuple[float, str]], float]:
    """Run ``cmd``; (seconds since start at which each line holding ``marker`` was
    printed, with the line), and the process's peak RSS in MB."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    hits = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if marker in line:
            hits.append((time.perf_counter() - start, line.strip()))
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its peak RSS
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}")
    return hits, usage.ru_maxrss / 1024  # kB on Linux


def recipe_run(tmp: Path, epochs: int) -> dict[str, float]:
    """One ``python train.py experiment=fashion_cnn`` run: wall s, test acc, peak RSS."""
    logs = tmp / f"logs-{time.monotonic_ns()}"
    env = {**os.environ, "LITEXP_LOG_DIR": str(logs), "LITEXP_DATA_DIR": str(tmp / "data")}
    cmd = [sys.executable, "train.py", "experiment=fashion_cnn", f"trainer.max_epochs={epochs}"]
    hits, rss = _timed(cmd, env, "test/acc")
    if not hits:
        raise RuntimeError("the run printed no test/acc")
    (metrics,) = logs.rglob("metrics.json")
    acc = json.loads(metrics.read_text())["metrics"]["test/acc"]
    shutil.rmtree(logs)
    return {"wall_s": hits[0][0], "test_acc": acc, "peak_rss_mb": rss}


def tutorial_run(tmp: Path) -> tuple[list[tuple[float, float]], float]:
    """The seed tutorial's loop as its own process: ``[(seconds, test acc)]`` per epoch."""
    root = tmp / "torchvision"
    raw = root / "FashionMNIST" / "raw"
    if not raw.is_dir():  # the tutorial's data is downloaded before its clock starts
        raw.mkdir(parents=True)
        for gz in SHARED.glob("*-ubyte.gz"):
            with gzip.open(gz) as src, (raw / gz.stem).open("wb") as dst:
                shutil.copyfileobj(src, dst)
    cmd = [sys.executable, "-m", "benchmarks.time_to_accuracy", "--tutorial-loop", str(root)]
    hits, rss = _timed(cmd, dict(os.environ), "EPOCH")
    return [(t, float(line.split("acc=")[1])) for t, line in hits], rss


def tutorial_loop(root: str, budget_s: float = TUTORIAL_BUDGET_S) -> None:
    """The seed tutorial's training loop; prints ``EPOCH n acc=...`` after each epoch."""
    start = time.perf_counter()
    import torch
    from torch import nn
    from torchvision import datasets, transforms

    def block(c_in: int, c_out: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )

    torch.manual_seed(42)
    train = datasets.FashionMNIST(root, train=True, transform=transforms.ToTensor())
    test = datasets.FashionMNIST(root, train=False, transform=transforms.ToTensor())
    train_dl = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True)
    test_dl = torch.utils.data.DataLoader(test, batch_size=32, shuffle=False)
    model = nn.Sequential(block(1, 10), block(10, 10), nn.Flatten(), nn.Linear(10 * 7 * 7, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    epoch = 0
    while time.perf_counter() - start < budget_s:
        model.train()
        for x, y in train_dl:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.inference_mode():
            for x, y in test_dl:
                correct += int((model(x).argmax(1) == y).sum())
        epoch += 1
        print(f"EPOCH {epoch} acc={correct / len(test):.4f}", flush=True)


def measure(repeats: int = 3, epochs: tuple[int, ...] = (2, 4), tutorial: bool = True) -> dict:
    """Recipe points per epoch count, the tutorial's epochs, and accuracy at equal time."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cold = recipe_run(tmp, epochs[0])  # empty cache: decompresses, then caches
        runs: dict[int, list[dict]] = {e: [] for e in epochs}
        tut_runs = []
        for _ in range(repeats):
            for e in epochs:
                runs[e].append(recipe_run(tmp, e))
            if tutorial:
                tut_runs.append(tutorial_run(tmp))
    recipe = {
        e: {key: spread([r[key] for r in rs]) for key in ("wall_s", "test_acc", "peak_rss_mb")}
        for e, rs in runs.items()
    }
    tut_epochs = min((len(points) for points, _ in tut_runs), default=0)
    tut = [
        {
            "epoch": i + 1,
            "wall_s": spread([points[i][0] for points, _ in tut_runs]),
            "test_acc": spread([points[i][1] for points, _ in tut_runs]),
        }
        for i in range(tut_epochs)
    ]
    at_time = {}
    for limit, target in TARGETS.items():
        ours = [r["test_acc"]["median"] for r in recipe.values() if r["wall_s"]["median"] <= limit]
        theirs = [p["test_acc"]["median"] for p in tut if p["wall_s"]["median"] <= limit]
        at_time[limit] = {
            "target": target,
            "litexp": max(ours, default=None),
            "tutorial": max(theirs, default=None),
        }
    return {
        "cold_first_run": cold,
        "recipe": recipe,
        "tutorial": tut,
        "at_time": at_time,
        "tutorial_peak_rss_mb": max((rss for _, rss in tut_runs), default=None),
    }


def markdown(r: dict) -> str:
    """Markdown table rows: | benchmark | figure | target | command |."""
    cmd = "`python -m benchmarks.time_to_accuracy`"

    def s(d: dict, fmt: str) -> str:
        return f"{d['median']:{fmt}} ({d['min']:{fmt}}-{d['max']:{fmt}})"

    rows = []
    for e, p in r["recipe"].items():
        rows.append(
            (
                f"fashion_cnn, {e} epochs: wall s to test result / test acc",
                f"{s(p['wall_s'], '.1f')} s / {s(p['test_acc'], '.4f')}",
                "",
                cmd,
            )
        )
        rows.append(
            (
                f"fashion_cnn, {e} epochs: peak RSS",
                f"{s(p['peak_rss_mb'], '.0f')} MB",
                "<= 1536 MB",
                cmd,
            )
        )
    c = r["cold_first_run"]
    rows.append(
        (
            "fashion_cnn, first run (empty cache)",
            f"{c['wall_s']:.1f} s / {c['test_acc']:.4f}",
            "",
            cmd,
        )
    )
    for p in r["tutorial"]:
        rows.append(
            (
                f"seed tutorial loop, epoch {p['epoch']}: wall s / test acc",
                f"{s(p['wall_s'], '.1f')} s / {s(p['test_acc'], '.4f')}",
                "",
                cmd,
            )
        )
    for limit, a in r["at_time"].items():
        fmt = lambda v: "none yet" if v is None else f"{v:.4f}"  # noqa: E731
        met = "met" if a["litexp"] is not None and a["litexp"] >= a["target"] else "MISSED"
        rows.append(
            (
                f"test acc within {limit:.0f} s: litexp / tutorial",
                f"{fmt(a['litexp'])} / {fmt(a['tutorial'])}",
                f">= {a['target']} ({met})",
                cmd,
            )
        )
    return "\n".join(f"| {' | '.join(row)} |" for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", default="2,4", help="recipe epoch counts, e.g. 2,4")
    parser.add_argument("--no-tutorial", action="store_true", help="skip the tutorial loop")
    parser.add_argument("--markdown", action="store_true", help="print Markdown table rows")
    parser.add_argument("--tutorial-loop", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tutorial_loop:
        tutorial_loop(args.tutorial_loop)
        return
    epochs = tuple(int(e) for e in args.epochs.split(","))
    r = measure(args.repeats, epochs, tutorial=not args.no_tutorial)
    if args.markdown:
        print(markdown(r))
    else:
        print(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
