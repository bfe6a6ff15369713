"""Provenance of a report: what data, epochs, T, seeds, hardware and commit its numbers came from.

Why: a number without its setting cannot be compared with the paper's (the CPU profile trains on a few
thousand samples for a few epochs). Everything here is read from the runs that fill the table's cells, never
from the profile's definition, so the footer describes what was run, not what was meant to run.
"""

from __future__ import annotations

import pandas as pd

from suite.report import paper
from suite.report.cells import CellRuns
from suite.report.layout import TableLayout
from suite.report.runs import canonical

NONE = "no finished run"
PAPER_T_MAX = 100  # Sec. 3: "cosine annealing ... with T_max = 100"


def used_runs(cells: dict[tuple[str, object], CellRuns], runs: pd.DataFrame) -> pd.DataFrame:
    ids = {rid for c in cells.values() for rid in c.run_ids}
    return runs[runs["run_id"].isin(ids)]


def _text(value) -> str:
    v = canonical(value)
    return "not logged" if v is None else str(v)


def _data_sizes(run: pd.Series) -> str:
    tag = run.get("data_sizes")
    if isinstance(tag, str) and tag:
        return tag
    n_train, n_test = run.get("n_train"), run.get("n_test")
    if pd.notna(n_train) and pd.notna(n_test):
        return f"train={int(n_train)},test={int(n_test)}"
    return "not logged"


def _per_column(layout: TableLayout, used: pd.DataFrame, values_of) -> str:
    """One value if every column agrees, else "label: value" per column that has runs."""
    if not len(used):
        return NONE
    per: list[tuple[str, str]] = []
    for value in layout.columns.values:
        col = used[[canonical(v) == canonical(value) for v in used[layout.columns.key]]]
        if len(col):
            per.append(
                (layout.columns.label(value), ", ".join(sorted({values_of(r) for _, r in col.iterrows()})))
            )
    distinct = {v for _, v in per}
    if len(distinct) == 1:
        return distinct.pop()
    return "; ".join(f"{label}: {v}" for label, v in per)


def _unique(used: pd.DataFrame, column: str) -> str:
    if not len(used):
        return NONE
    if column not in used:
        return "not logged"
    return "; ".join(sorted({_text(v) for v in used[column]}))


def _seeds(used: pd.DataFrame) -> str:
    if not len(used) or "seed" not in used:
        return NONE
    seeds = sorted({canonical(s) for s in used["seed"]}, key=lambda s: (s is None, s))
    return ", ".join(_text(s) for s in seeds)


def items(
    layout: TableLayout,
    cells: dict[tuple[str, object], CellRuns],
    runs: pd.DataFrame,
    *,
    profile: str,
    command: str,
) -> tuple[tuple[str, str], ...]:
    used = used_runs(cells, runs)

    def param(name):
        return lambda r: _text(r.get(name))

    rows = [
        ("Profile", profile),
        ("Runs", f"{len(used)} finished child runs (newest per config hash) fill the cells"),
        ("Data used (samples)", _per_column(layout, used, _data_sizes)),
        ("Epochs", _per_column(layout, used, param("epochs"))),
        ("T (time steps)", _per_column(layout, used, param("T"))),
        ("Seeds", _seeds(used)),
        ("Hardware", _unique(used, "hardware")),
        *_thread_split(used),
        *_periodic_schedule(used),
        ("Training wall time", _wall_time(used)),
        ("Commit", _unique(used, "commit")),
        ("Command", command),
        (
            "Statistics",
            "mean ± sample std (ddof 1) over seeds; paired differences: mean ± t(0.975, n-1)·s/√n",
        ),
    ]
    if layout.paper:
        rows.append(("Paper values", f"{paper.table(layout.paper).caption.rstrip('.')} (as printed, in %)"))
    return tuple(rows)


def _thread_split(used: pd.DataFrame) -> list[tuple[str, str]]:
    """Concurrent runs x torch threads each: with the CPU model, what decides the exact numbers (README)."""
    if "run_threads" not in used or used["run_threads"].isna().all():
        return []  # runs from before the split was tagged

    def plural(value, word: str) -> str:
        text = _text(value)
        return f"{text} {word}" + ("" if text == "1" else "s")

    splits = {
        f"{plural(r.get('concurrent_runs'), 'run')} at once × {plural(r.get('run_threads'), 'thread')} each"
        for _, r in used.iterrows()
        if canonical(r.get("run_threads")) is not None
    }
    return [("Thread split", "; ".join(sorted(splits)))]


def _periodic_schedule(used: pd.DataFrame) -> list[tuple[str, str]]:
    """A row only where some run trained longer than its cosine period (the paper's 200-epoch sets with
    T_max = 100): PyTorch's ``CosineAnnealingLR`` is periodic, not clamped at 0, so the rate comes back up
    after epoch T_max. The paper gives only "T_max = 100" (Sec. 3); a reader must not assume a decay to
    the end."""
    if not {"epochs", "t_max"} <= set(used.columns):
        return []
    pairs = {(canonical(r.get("t_max")), canonical(r.get("epochs"))) for _, r in used.iterrows()}
    over = sorted(p for p in pairs if all(isinstance(v, int) for v in p) and p[1] > p[0])
    if not over:
        return []
    text = "; ".join(
        f"cosine annealing, T_max = {t} over {e} epochs: the rate reaches 0 at epoch {t} and rises again"
        + (" (the paper's literal setting, Sec. 3)" if t == PAPER_T_MAX else "")
        for t, e in over
    )
    return [("Learning rate", f"{text}; PyTorch's CosineAnnealingLR is periodic, not clamped at 0")]


def _wall_time(used: pd.DataFrame) -> str:
    """Summed over the runs behind the table (each run's own training and evaluation time)."""
    if "wall_time_s" not in used or used["wall_time_s"].isna().all():
        return "not logged"
    total = float(used["wall_time_s"].sum())
    return f"{total / 60:.1f} min summed over {int(used['wall_time_s'].notna().sum())} runs"


def provenance(layout: TableLayout, cells: dict[tuple[str, object], CellRuns]) -> tuple[str, ...]:
    """One line per non-empty cell: the MLflow run ids behind it, with their seeds."""
    lines = []
    for row in layout.rows:
        for value in layout.columns.values:
            c = cells[(row.label, value)]
            if not len(c.runs):
                continue
            seeds = c.runs["seed"].tolist() if "seed" in c.runs else [None] * len(c.runs)
            runs = ", ".join(f"seed {_text(s)}: {rid}" for s, rid in zip(seeds, c.run_ids))
            lines.append(f"{row.label} / {layout.columns.label(value)}: {runs}")
    return tuple(lines)
