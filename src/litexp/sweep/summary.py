"""The results table of a sweep: one row per job, read from each job's ``metrics.json``.

``SweepSummary`` is a Hydra callback (``hydra.callbacks`` in ``conf/hydra/default.yaml``):
when a multirun ends it prints the table and writes ``summary.csv`` and ``summary.md``
into the sweep directory, then exits with status 1 if any job failed.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table
from rich.text import Text

from litexp.errors import first_line
from litexp.run_files import read_json
from litexp.sweep.lesson_columns import LESSON_COLUMNS, NUMERIC, lesson_values

SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
# Written next to metrics.json by the litexp Optuna sweeper: the trial and its state.
TRIAL_FILE = "optuna_trial.json"
DIRECTIONS = ("maximize", "minimize")


@dataclass
class JobRow:
    """One job of a sweep, as the table shows it."""

    job: str  # the job's directory, relative to the sweep directory
    # completed | failed | pruned | interrupted | incomplete (no metrics.json: killed or
    # running) | not started (a stopped sweep's job that never began)
    status: str
    overrides: str = ""
    metrics: dict[str, float | None] = field(default_factory=dict)
    wall_time_s: float | None = None
    error: str = ""
    trial: int | None = None  # the Optuna trial number, in an Optuna sweep
    epochs: int | None = None  # epochs trained (fewer than max_epochs: pruned, early-stopped)
    best_checkpoint: str = ""  # relative to the job's directory
    retry_of: int | None = None  # an Optuna trial re-running an interrupted trial's parameters
    params: dict[str, Any] = field(default_factory=dict)  # an Optuna trial's sampled values
    lesson: dict[str, str] = field(default_factory=dict)  # litexp.sweep.lesson_columns


def _is_resume(override: str) -> bool:
    return override.lstrip("+~").startswith("resume=")


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Every job directory: it has Hydra's ``.hydra/overrides.yaml`` or a ``metrics.json``."""
    dirs = {p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml")}
    dirs |= {p.parent for p in sweep_dir.rglob("metrics.json")}
    dirs.discard(sweep_dir)
    # "2" before "10": numbers compared as numbers.
    return sorted(
        dirs, key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(p))]
    )


def read_job(job_dir: Path, sweep_dir: Path) -> JobRow:
    """The row of one job directory."""
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.exists() else []
    row = JobRow(job=str(job_dir.relative_to(sweep_dir)), status="incomplete")
    # resume= says how a job was started, not which job it is
    row.overrides = " ".join(str(o) for o in overrides or [] if not _is_resume(str(o)))
    result = read_json(job_dir / "metrics.json")
    if result is None:
        row.error = "no metrics.json: the job was killed, crashed hard, or is still running"
    else:
        row.status = str(result.get("status", "completed"))
        row.metrics = dict(result.get("metrics") or {})
        row.wall_time_s = result.get("wall_time_s")
        row.epochs = result.get("epochs")
        row.lesson = lesson_values(result)
        row.error = first_line(result.get("error") or "")
        if result.get("best_checkpoint"):
            best = Path(str(result["best_checkpoint"]))
            row.best_checkpoint = str(
                best.relative_to(job_dir) if best.is_relative_to(job_dir) else best
            )
    trial = read_json(job_dir / TRIAL_FILE)
    if trial is not None:
        row.trial = trial.get("number")
        row.retry_of = trial.get("retry_of")
        row.params = dict(trial.get("params") or {})
        if trial.get("state") == "pruned" and row.status == "completed":
            row.status = "pruned"
    return row


def _mark_retried(rows: list[JobRow]) -> None:
    """An interrupted Optuna trial whose parameters ran again: "interrupted, retried as trial N"."""
    retried = {r.retry_of: r.trial for r in rows if r.retry_of is not None}
    for row in rows:
        number = (
            row.trial if row.trial is not None else (int(row.job) if row.job.isdigit() else None)
        )
        if number in retried and row.status in ("incomplete", "interrupted", "failed"):
            row.trial, row.status = number, "interrupted"
            row.error = f"interrupted, retried as trial {retried[number]}"


def collect(sweep_dir: Path) -> list[JobRow]:
    """The rows of every job under ``sweep_dir``, in job order."""
    rows = [read_job(d, sweep_dir) for d in job_dirs(sweep_dir)]
    _mark_retried(rows)
    return rows


def tie_breaker(objective: str) -> tuple[str, str]:
    """The second metric that orders jobs with equal objectives: the loss, lower first
    (for a loss objective, the accuracy, higher first)."""
    return ("val/acc", "maximize") if objective.endswith("loss") else ("val/loss", "minimize")


def sort_rows(rows: list[JobRow], objective: str, direction: str = "maximize") -> list[JobRow]:
    """Best objective first, ties broken by ``tie_breaker``; jobs without a value (failed,
    incomplete) last, in job order."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction={direction!r} is invalid: must be one of {DIRECTIONS}")
    sign = -1.0 if direction == "maximize" else 1.0
    tie, tie_direction = tie_breaker(objective)
    tie_sign = -1.0 if tie_direction == "maximize" else 1.0

    def key(r: JobRow) -> tuple[float, float]:
        second = r.metrics.get(tie)
        return sign * float(r.metrics[objective]), (  # type: ignore[arg-type]
            tie_sign * float(second) if second is not None else float("inf")
        )

    scored = [r for r in rows if r.status != "failed" and r.metrics.get(objective) is not None]
    rest = [r for r in rows if r not in scored]
    scored.sort(key=key)
    return scored + rest


def sort_note(objective: str, direction: str) -> str:
    """How the table is sorted, as its header says it."""
    tie, tie_direction = tie_breaker(objective)
    order = "higher" if tie_direction == "maximize" else "lower"
    return f"sorted by {objective} ({direction}), ties by {tie} ({order} first)"


def metric_columns(rows: list[JobRow], objective: str) -> list[str]:
    """The objective first, then every other metric any job has: val/, test/, then train/."""
    order = {"val/": 0, "test/": 1, "train/": 2}
    names = sorted(
        {k for r in rows for k in r.metrics} - {objective},
        key=lambda k: (order.get(k.split("/")[0] + "/", 3), k),
    )
    return [objective, *names]


def common_overrides(rows: list[JobRow]) -> list[str]:
    """Overrides every job shares; the table shows only what differs between jobs."""
    if len(rows) < 2:
        return []
    sets = [set(r.overrides.split()) for r in rows]
    return [o for o in rows[0].overrides.split() if all(o in s for s in sets)]


def _varying(rows: list[JobRow]) -> list[JobRow]:
    common = set(common_overrides(rows))
    return [
        JobRow(
            **{
                **r.__dict__,
                "overrides": " ".join(o for o in r.overrides.split() if o not in common),
            }
        )
        for r in rows
    ]


def _has_trials(rows: list[JobRow]) -> bool:
    return any(r.trial is not None for r in rows)


def _header(rows: list[JobRow], metrics: list[str]) -> list[str]:
    trial = ["trial"] if _has_trials(rows) else []
    return [
        "job", *trial, "status", *metrics, "epochs", "wall_time_s", *LESSON_COLUMNS,
        "best_checkpoint", "overrides", "error",
    ]  # fmt: skip


def _filled(header: list[str], table: list[list[str]]) -> list[int]:
    """The columns with a value in some row: no empty column is shown."""
    return [i for i, name in enumerate(header) if name == "job" or any(row[i] for row in table)]


def _cells(row: JobRow, metrics: list[str], with_trial: bool, digits: int | None) -> list[str]:
    """The row as strings; ``digits`` rounds the numbers (None: raw values)."""

    def num(v: Any, d: int | None = digits) -> str:
        if v is None:
            return ""
        return f"{v:.{d}f}" if d is not None and isinstance(v, float) else str(v)

    trial = [num(row.trial)] if with_trial else []
    time_digits = None if digits is None else 1
    return [
        row.job,
        *trial,
        row.status,
        *(num(row.metrics.get(m)) for m in metrics),
        num(row.epochs),
        num(row.wall_time_s, time_digits),
        *(row.lesson.get(name, "") for name in LESSON_COLUMNS),
        row.best_checkpoint,
        row.overrides,
        row.error,
    ]


def write_summary(
    rows: list[JobRow], sweep_dir: Path, objective: str, note: str = ""
) -> tuple[Path, Path]:
    """``summary.csv`` (raw values) and ``summary.md`` (rounded, headed by ``note``: how it
    is sorted) in ``sweep_dir``; columns no job fills are left out."""
    metrics = metric_columns(rows, objective)
    header, with_trial = _header(rows, metrics), _has_trials(rows)
    raw = [_cells(r, metrics, with_trial, digits=None) for r in rows]
    keep = _filled(header, raw)
    csv_path, md_path = sweep_dir / SUMMARY_CSV, sweep_dir / SUMMARY_MD
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([header[i] for i in keep])
        writer.writerows([cells[i] for i in keep] for cells in raw)
    common = common_overrides(rows)
    lines = [f"Sweep {sweep_dir.name}: {note}.", ""] if note else []
    lines += [f"Common overrides: `{' '.join(common)}`", ""] if common else []
    lines += ["| " + " | ".join(header[i] for i in keep) + " |", "|" + "---|" * len(keep)]
    for r in _varying(rows):
        cells = _cells(r, metrics, with_trial, digits=4)
        lines.append("| " + " | ".join(cells[i].replace("|", "\\|") for i in keep) + " |")
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path


# Console columns that wrap (long text), each at most this wide; the others stay on one
# line. The overrides wrap between overrides, never inside one.
_FOLDED = {"error": None, "diagnosis": 24, "best_checkpoint": 24, "head": 24, "overrides": None}
# A sampler's float in an override (model.lr=0.0020322854432411525): 4 significant digits
# on the console; summary.csv, summary.md and best.yaml keep the exact value.
_SAMPLED_FLOAT = re.compile(r"(?<==)-?\d+\.\d{7,}(?:e-?\d+)?(?=\s|$)")


def console_columns(
    header: list[str], cells: list[list[str]], objective: str, width: int
) -> list[int]:
    """The columns the console table shows, in ``header``'s order: by priority (what
    tells jobs apart first: the objective, the overrides, an error), as many as fit in
    ``width`` characters; summary.md keeps all of them."""
    tie, _ = tie_breaker(objective)
    first = ["job", "trial", "status", objective, "overrides", "error"]
    then = [tie, "epochs_to_target", "stopped_epoch", "diagnosis", "head", "params", "epochs"]
    rank = {name: i for i, name in enumerate(first + then + ["wall_time_s", "samples_per_s"])}

    def priority(i: int) -> tuple[int, int]:
        same = len(cells) > 1 and len({row[i] for row in cells}) == 1  # tells no job apart
        return rank.get(header[i], len(rank)) + (100 if same and header[i] not in first else 0), i

    order = sorted(range(len(header)), key=priority)

    def need(i: int) -> int:
        natural = max(len(header[i]), *(len(row[i]) for row in cells))
        if header[i] == "overrides":  # one override a line, none broken
            natural = max(len(o) for row in cells for o in [header[i], *row[i].split()])
        elif header[i] in _FOLDED:
            natural = min(natural, _FOLDED[header[i]] or 60)
        return natural + 3

    shown, used = [], 1  # the table's left border
    for i in order:
        if header[i] in first or used + need(i) <= width:
            shown.append(i)
            used += need(i)
    return sorted(shown)


def print_table(
    rows: list[JobRow], objective: str, title: str, console: Console | None = None
) -> None:
    """The summary as a rich table on the console: the columns that fit its width (the
    rest are named under it; summary.md has them all)."""
    metrics = metric_columns(rows, objective)
    header, varying = _header(rows, metrics), _varying(rows)
    table_cells = [_cells(r, metrics, _has_trials(rows), digits=4) for r in varying]
    at = header.index("overrides")
    for cells in table_cells:
        cells[at] = _SAMPLED_FLOAT.sub(lambda m: f"{float(m[0]):.4g}", cells[at])
    filled = _filled(header, table_cells)
    # A terminal's width, or $COLUMNS; piped to a file: 160 (rich would take 80).
    wide = sys.stdout.isatty() or os.environ.get("COLUMNS")
    console = console or Console(width=None if wide else 160)
    header, table_cells = [header[i] for i in filled], [[c[i] for i in filled] for c in table_cells]
    keep = console_columns(header, table_cells, objective, console.width)
    # Text, not markup: an error or a path may hold "[/...]", which rich would parse.
    table = Table()
    for name in (header[i] for i in keep):
        numeric = name in metrics or name in ("trial", "epochs", "wall_time_s", *NUMERIC)
        table.add_column(
            name,
            justify="right" if numeric else "left",
            overflow="fold",
            no_wrap=name not in _FOLDED,
            max_width=_FOLDED.get(name),
        )
    style = {"failed": "red", "pruned": "yellow", "incomplete": "dim", "interrupted": "dim"}
    for r, cells in zip(varying, table_cells, strict=True):
        table.add_row(*(Text(str(cells[i])) for i in keep), style=style.get(r.status))
    console.print(Text(title))  # above the table, not its title: wrapped to its width
    console.print(table)
    if common := common_overrides(rows):
        console.print(Text(f"common overrides: {' '.join(common)}"))
    if hidden := [header[i] for i in range(len(header)) if i not in keep]:
        console.print(Text(f"not shown at this width (see summary.md): {', '.join(hidden)}"))


def summarize(
    sweep_dir: Path,
    objective: str,
    direction: str = "maximize",
    not_started: list[tuple[int, list[str]]] | None = None,
) -> list[JobRow]:
    """Collect, sort, print and write the summary of ``sweep_dir`` and its ``best.yaml``;
    returns the sorted rows. ``not_started``: (number, overrides) of a stopped sweep's jobs,
    shown as ``not started`` rows unless they began."""
    from litexp.sweep.best import write_best

    rows = sort_rows(collect(sweep_dir), objective, direction)
    seen = {r.overrides for r in rows}
    for num, overrides in not_started or []:
        text = " ".join(o for o in overrides if not _is_resume(o))
        if text not in seen:
            rows.append(JobRow(job=str(num), status="not started", overrides=text))
    if rows:
        note = sort_note(objective, direction)
        csv_path, md_path = write_summary(rows, sweep_dir, objective, note)
        print_table(rows, objective, title=f"sweep: {sweep_dir} ({note})")
        print(f"summary: {md_path}  {csv_path}")
        best = write_best(rows, sweep_dir, objective, direction, note)
        if best is not None:
            print(f"best job: {best}")
        if not _has_trials(rows):  # a grid (an Optuna sweep plots its study itself)
            from litexp.sweep.plots import grid_plots, to_tensorboard

            if plots := grid_plots(rows, sweep_dir, objective):
                print(f"plots: {', '.join(str(p) for p in plots)}")
                to_tensorboard(plots, sweep_dir)
        # Every job's run (named by its overrides) in one TensorBoard, HPARAMS included.
        print(f"TensorBoard: tensorboard --logdir {shlex.quote(str(sweep_dir))}")
    return rows


class SweepSummary(Callback):
    """Hydra callback: the sweep's results table when a multirun ends.

    Args:
        objective: the metric the table is sorted by (a key of metrics.json's ``metrics``).
        direction: ``maximize`` or ``minimize``.
        fail_on_failed_jobs: exit with status 1 after the table if any job failed.
    """

    def __init__(
        self,
        objective: str = "val/acc",
        direction: str = "maximize",
        fail_on_failed_jobs: bool = True,
    ) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction={direction!r} is invalid: must be one of {DIRECTIONS}")
        self.objective = objective
        self.direction = direction
        self.fail_on_failed_jobs = fail_on_failed_jobs

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        rows = summarize(sweep_dir, self.objective, self.direction)
        failed = [r for r in rows if r.status == "failed"]
        if failed and self.fail_on_failed_jobs:
            print(
                f"litexp: error: {len(failed)} of {len(rows)} jobs failed "
                f"(first: job {failed[0].job}: {failed[0].error}); see {sweep_dir / SUMMARY_MD}",
                file=sys.stderr,
            )
            sys.exit(1)
