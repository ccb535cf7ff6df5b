"""Image folder at 64 px: litexp's ``data=folder data.image_size=64`` vs torchvision's loader.

litexp: ``FolderData(image_size=64)`` on the hymenoptera photos (244 train JPEGs, 193
to 2592 px): ``setup`` decodes the split once into a uint8 tensor (cached on disk),
then each epoch is its train loader plus ``on_after_batch_transfer`` (float
conversion and normalisation), on the CPU. Baseline: ``torchvision.datasets.ImageFolder``
+ ``Resize(64)`` + ``CenterCrop(64)`` + ``ToTensor`` + ``DataLoader``, shuffled, same
batch size, with its best of ``num_workers`` 0 and 2 (persistent workers, so epoch 2
onward pays no worker start). Same files (both skip the one .gif). Figures: samples/s
of epochs 2 to ``1 + epochs`` (the first epoch is a warm-up on both sides; litexp's
one-off decode is reported apart), median of ``repeats`` runs (min-max).

    python -m benchmarks.folder_data [--repeats 3] [--epochs 3] [--batch-size 32] [--markdown]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.stats import rate, spread

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "hymenoptera_data"
TARGET_SPEEDUP = 10.0
SIZE = 64


def _timed_epochs(loader, epochs: int, step=lambda b: b) -> float:
    """Samples/s over ``epochs`` epochs after a first, untimed one."""
    for batch in loader:  # epoch 1: warm-up (workers start, caches fill)
        step(batch)
    start, n = time.perf_counter(), 0
    for _ in range(epochs):
        for batch in loader:
            x, _ = step(batch)
            n += len(x)
    return n / (time.perf_counter() - start)


def litexp_run(cache_dir: Path, batch_size: int, epochs: int) -> tuple[float, float]:
    """(seconds to set up, incl. the decode or the cache read; samples/s, epoch 2 onward)."""
    from litexp.data.folder import FolderData

    start = time.perf_counter()
    dm = FolderData(data_dir=SHARED, image_size=SIZE, batch_size=batch_size, cache_dir=cache_dir)
    dm.setup("fit")
    setup_s = time.perf_counter() - start
    assert dm.in_memory
    # train/ (val/ is decoded too, in the set-up time, but not timed)
    rate = _timed_epochs(dm.train_dataloader(), epochs, lambda b: dm.on_after_batch_transfer(b, 0))
    return setup_s, rate


def torchvision_run(batch_size: int, num_workers: int, epochs: int) -> float:
    from torchvision import datasets, transforms

    tf = transforms.Compose(
        [transforms.Resize(SIZE), transforms.CenterCrop(SIZE), transforms.ToTensor()]
    )
    data = datasets.ImageFolder(SHARED / "train", transform=tf)
    loader = torch.utils.data.DataLoader(
        data,
        batch_size=batch_size,
        shuffle=True,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
    return _timed_epochs(loader, epochs)


def measure(repeats: int = 3, epochs: int = 3, batch_size: int = 32, threads: int = 1) -> dict:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cold_setup, _ = litexp_run(Path(tmp), batch_size, 1)  # decodes, fills the cache
            ours, warm = [], []
            baseline: dict[int, list[float]] = {0: [], 2: []}
            for _ in range(repeats):  # alternating: the machine's load hits both sides
                setup_s, rate = litexp_run(Path(tmp), batch_size, epochs)
                ours.append(rate)
                warm.append(setup_s)
                for w in baseline:
                    baseline[w].append(torchvision_run(batch_size, w, epochs))
    finally:
        torch.set_num_threads(before)
    best = max(baseline, key=lambda w: statistics.median(baseline[w]))
    mine = spread(ours)
    return {
        "batch_size": batch_size,
        "epochs": epochs,
        "threads": threads,
        "litexp_samples_per_s": mine,
        "torchvision_samples_per_s": {w: spread(v) for w, v in baseline.items()},
        "torchvision_best_workers": best,
        "speedup": mine["median"] / statistics.median(baseline[best]),
        "target_speedup": TARGET_SPEEDUP,
        "setup_s_first": cold_setup,
        "setup_s_cached": spread(warm),
    }


def markdown(r: dict) -> str:
    """Markdown table rows: | benchmark | figure | target | command |."""
    cmd = "`python -m benchmarks.folder_data`"

    tv = r["torchvision_samples_per_s"]
    met = "met" if r["speedup"] >= r["target_speedup"] else "MISSED"
    rows = [
        ("folder data 64 px (hymenoptera): litexp, epoch 2 onward", rate(r["litexp_samples_per_s"]), "", cmd),
        *[
            (f"folder data 64 px: torchvision ImageFolder+Resize+CenterCrop+ToTensor, {w} workers", rate(tv[w]), "", cmd)
            for w in tv
        ],
        (
            f"folder data 64 px: speed-up vs torchvision's best ({r['torchvision_best_workers']} workers)",
            f"{r['speedup']:,.0f}x",
            f">= {r['target_speedup']:.0f}x ({met})",
            cmd,
        ),
        (
            "folder data 64 px set-up: first decode / cached",
            f"{r['setup_s_first']:.2f} s / {r['setup_s_cached']['median']:.2f} s",
            "",
            cmd,
        ),
    ]  # fmt: skip
    return "\n".join(f"| {' | '.join(row)} |" for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs after the first")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--markdown", action="store_true", help="print Markdown table rows")
    args = parser.parse_args()
    r = measure(args.repeats, args.epochs, args.batch_size, args.threads)
    if args.markdown:
        print(markdown(r))
        return
    print(f"litexp:      {r['litexp_samples_per_s']['median']:>12,.0f} samples/s")
    for w, s in r["torchvision_samples_per_s"].items():
        print(f"torchvision: {s['median']:>12,.0f} samples/s (num_workers={w})")
    print(
        f"speed-up:    {r['speedup']:.1f}x vs the best baseline (target >= {TARGET_SPEEDUP:.0f}x)"
    )
    print(
        f"set-up:      {r['setup_s_first']:.2f} s first decode, {r['setup_s_cached']['median']:.2f} s cached"
    )


if __name__ == "__main__":
    main()
