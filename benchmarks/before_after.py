"""Before and after a change, side by side in one session: time to accuracy and loop overhead.

Checks out ``--before`` (a git revision) into a worktree and runs the same measurements
on it and on this tree, alternating (before, after, before, after, ...), so both see
the same machine: ``python train.py experiment=fashion_cnn trainer.max_epochs=E``
timed from process start to its printed test result, and each tree's own
``python -m benchmarks.loop_overhead``. Each tree imports its own ``litexp``
(``PYTHONPATH=<tree>/src``).

    python -m benchmarks.before_after --before 1295a7e [--repeats 2] [--epochs 2,4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.time_to_accuracy import _timed

ROOT = Path(__file__).resolve().parents[1]
FASHION = ROOT.parent / "shared" / "data" / "fashion_mnist"


def worktree(rev: str, where: Path) -> Path:
    """A detached checkout of ``rev`` (created once, reused)."""
    if not (where / "train.py").is_file():
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--force", str(where), rev],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
    return where


def env_for(tree: Path, tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(tree / "src"),
        "LITEXP_LOG_DIR": str(tmp / "logs"),
        "LITEXP_DATA_DIR": str(tmp / f"data-{tree.name}"),
    }


def recipe(tree: Path, tmp: Path, epochs: int) -> dict[str, float]:
    """Wall seconds to the printed test/acc, and the test accuracy, of one recipe run."""
    logs = tmp / "logs"
    cmd = [
        sys.executable, "train.py", "experiment=fashion_cnn", f"trainer.max_epochs={epochs}",
        f"data.data_dir={FASHION}",
    ]  # fmt: skip
    hits, _ = _timed(cmd, env_for(tree, tmp), "test/acc", cwd=tree)
    (metrics,) = logs.rglob("metrics.json")
    acc = json.loads(metrics.read_text())["metrics"]["test/acc"]
    subprocess.run(["rm", "-rf", str(logs)], check=True)
    return {"wall_s": round(hits[0][0], 2), "test_acc": acc}


def loop_overhead(tree: Path, tmp: Path) -> list[str]:
    """The lines the tree's own loop-overhead benchmark prints (one repeat)."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.loop_overhead", "--repeats", "1"],
        cwd=tree, env=env_for(tree, tmp), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [line for line in proc.stdout.splitlines() if "s/epoch" in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare against")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", default="2,4")
    parser.add_argument("--no-overhead", action="store_true")
    parser.add_argument("--no-recipe", action="store_true")
    args = parser.parse_args()
    epochs = [int(e) for e in args.epochs.split(",")]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # Beside this clone, so each tree's own relative paths to ../shared/data hold.
        before = worktree(args.before, ROOT.parent / f".litexp-before-{args.before}")
        trees = {"before": before, "after": ROOT}
        for tree in [] if args.no_recipe else trees.values():  # warm-up: fill each data cache
            recipe(tree, tmp, 1)
        runs: dict[tuple[str, int], list[dict]] = {(n, e): [] for n in trees for e in epochs}
        for _ in range(0 if args.no_recipe else args.repeats):
            for e in epochs:
                for name, tree in trees.items():
                    runs[name, e].append(recipe(tree, tmp, e))
                    print(name, e, runs[name, e][-1], flush=True)
        overhead = {} if args.no_overhead else {n: loop_overhead(t, tmp) for n, t in trees.items()}
        subprocess.run(["git", "worktree", "remove", "--force", str(trees["before"])], cwd=ROOT)
    print("\n| tree | epochs | wall s (median, runs) | test acc (median, runs) |")
    print("|---|---|---|---|")
    for (name, e), rs in runs.items():
        if not rs:
            continue
        walls, accs = [r["wall_s"] for r in rs], [r["test_acc"] for r in rs]
        print(
            f"| {name} ({args.before if name == 'before' else 'HEAD'}) | {e} | "
            f"{statistics.median(walls):.1f} ({', '.join(f'{w:.1f}' for w in walls)}) | "
            f"{statistics.median(accs):.4f} ({', '.join(f'{a:.4f}' for a in accs)}) |"
        )
    for name, lines in overhead.items():
        for line in lines:
            print(f"loop overhead, {name}: {line}")


if __name__ == "__main__":
    main()
