"""Data path alone: litexp's Fashion-MNIST batches vs torchvision's per-sample loader.

litexp: the ``fashion`` datamodule's train loader (uint8 tensors, indexed a batch at a
time) and its ``on_after_batch_transfer`` (float conversion and normalisation), on the
CPU. Baseline: ``torchvision.datasets.FashionMNIST`` + ``ToTensor`` + ``DataLoader``,
shuffled, same batch size, with its best of ``num_workers`` 0 and 2. One full pass over
the training images per run; median of ``repeats`` runs (min-max). Set-up time (first
load with decompression and caching, then a cached load) is reported apart.

Both sides run with one intra-op thread by default (``--threads``): a batch is ~100 k
values, too small for threads to help, and on a machine whose cores are busy with
other work, 2-thread OpenMP ops on it run 10-20x slower (measured), which would time
the machine's load rather than the data path. DataLoader workers use one thread too.

    python -m benchmarks.data_path [--repeats 3] [--batch-size 128] [--threads 1] [--markdown]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.stats import rate, spread

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fashion_mnist"
TARGET_SPEEDUP = 20.0


def litexp_pass(cache_dir: Path, batch_size: int) -> tuple[float, float]:
    """(seconds to set up, samples/s over one pass of the training split)."""
    from litexp.data import FashionMNIST

    start = time.perf_counter()
    dm = FashionMNIST(data_dir=SHARED, cache_dir=cache_dir, download=False, batch_size=batch_size)
    dm.setup("fit")
    setup_s = time.perf_counter() - start
    start, n = time.perf_counter(), 0
    for batch in dm.train_dataloader():
        x, _ = dm.on_after_batch_transfer(batch, 0)
        n += len(x)
    return setup_s, n / (time.perf_counter() - start)


def torchvision_pass(root: Path, batch_size: int, num_workers: int) -> float:
    """Samples/s over one pass of torchvision's training set (60,000 images)."""
    from torchvision import datasets, transforms

    data = datasets.FashionMNIST(root=root, train=True, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(
        data, batch_size=batch_size, shuffle=True, num_workers=num_workers
    )
    start, n = time.perf_counter(), 0
    for x, _ in loader:
        n += len(x)
    return n / (time.perf_counter() - start)


def _torchvision_root(tmp: Path) -> Path:
    """torchvision wants the decompressed files in ``<root>/FashionMNIST/raw``."""
    raw = tmp / "tv" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in SHARED.glob("*-ubyte.gz"):
        with gzip.open(gz) as src, (raw / gz.stem).open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return tmp / "tv"


def measure(repeats: int = 3, batch_size: int = 128, threads: int = 1) -> dict:
    """The figures: samples/s of each side (median, min, max), speed-up, set-up times."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _measure(repeats, batch_size) | {"threads": threads}
    finally:
        torch.set_num_threads(before)


def _measure(repeats: int, batch_size: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        root = _torchvision_root(tmp)
        cold_setup, _ = litexp_pass(tmp / "cache", batch_size)  # decompresses, fills the cache
        ours, warm_setup = [], []
        for _ in range(repeats):
            setup_s, rate = litexp_pass(tmp / "cache", batch_size)
            ours.append(rate)
            warm_setup.append(setup_s)
        baseline = {
            w: [torchvision_pass(root, batch_size, w) for _ in range(repeats)] for w in (0, 2)
        }
    best_workers = max(baseline, key=lambda w: statistics.median(baseline[w]))
    base = spread(baseline[best_workers])
    mine = spread(ours)
    return {
        "batch_size": batch_size,
        "litexp_samples_per_s": mine,
        "torchvision_samples_per_s": {w: spread(v) for w, v in baseline.items()},
        "torchvision_best_workers": best_workers,
        "speedup": mine["median"] / base["median"],
        "target_speedup": TARGET_SPEEDUP,
        "setup_s_first": cold_setup,
        "setup_s_cached": spread(warm_setup),
    }


def markdown(r: dict) -> str:
    """Markdown table rows: | benchmark | figure | target | command |."""
    cmd = "`python -m benchmarks.data_path`"

    tv = r["torchvision_samples_per_s"]
    rows = [
        (
            f"data path: litexp batches ({r['threads']} thread)",
            rate(r["litexp_samples_per_s"]),
            "",
            cmd,
        ),
        *[(f"data path: torchvision ToTensor, {w} workers", rate(tv[w]), "", cmd) for w in tv],
        (
            f"data path: speed-up vs torchvision's best ({r['torchvision_best_workers']} workers)",
            f"{r['speedup']:.0f}x",
            f">= {r['target_speedup']:.0f}x",
            cmd,
        ),
        (
            "Fashion-MNIST set-up: first load / cached",
            f"{r['setup_s_first']:.2f} s / {r['setup_s_cached']['median']:.2f} s",
            "",
            cmd,
        ),
    ]
    return "\n".join(f"| {' | '.join(row)} |" for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--markdown", action="store_true", help="print Markdown table rows")
    args = parser.parse_args()
    r = measure(args.repeats, args.batch_size, args.threads)
    if args.markdown:
        print(markdown(r))
        return
    tv = r["torchvision_samples_per_s"]
    print(f"litexp:      {r['litexp_samples_per_s']['median']:>12,.0f} samples/s")
    for w, s in tv.items():
        print(f"torchvision: {s['median']:>12,.0f} samples/s (num_workers={w})")
    print(
        f"speed-up:    {r['speedup']:.1f}x vs the best baseline (target >= {TARGET_SPEEDUP:.0f}x)"
    )
    print(
        f"set-up:      {r['setup_s_first']:.2f} s first load, "
        f"{r['setup_s_cached']['median']:.2f} s cached"
    )


if __name__ == "__main__":
    main()
