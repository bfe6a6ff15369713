"""Which runs fill which cell, what number each run contributes, and how paired comparisons are matched.

Why in one place: the tables, the paired differences, the figures and the provenance list all read the runs
of a cell from :func:`assign`, so they can never disagree about which runs a number came from. A cell whose
runs differ in anything but the seed is refused (:class:`AmbiguousCell`): pooling two configurations would
print a number no single experiment produced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite.report.layout import Comparison, TableLayout
from suite.report.runs import canonical, setting_columns
from suite.report.stats import PairedDiff, Summary, paired_ci, summarize


class AmbiguousCell(ValueError):
    """The runs of one cell differ in a setting other than the seed (or repeat a seed)."""


def per_run(runs: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """run_id -> best_acc, final_acc, synops, final_epoch: each run's own numbers.

    best_acc is the run's logged ``best_test_acc`` (max test accuracy over epochs, the paper's measure) and
    final_acc its ``final_test_acc``; where a run did not log one, the same quantity is taken from that run's
    own per-epoch ``test_acc``. synops is the run's per-sample synaptic operations at its last epoch.
    """
    out = pd.DataFrame(index=pd.Index(runs["run_id"].astype(object), name="run_id"))
    for col in ("best_acc", "final_acc", "synops"):
        out[col] = np.nan
    out["final_epoch"] = np.nan
    if len(runs):
        out["best_acc"] = _column(runs, "best_test_acc")
        out["final_acc"] = _column(runs, "final_test_acc")
    if len(history) and len(runs):
        h = history[history["run_id"].isin(out.index)].sort_values(["run_id", "epoch"])
        last = h.groupby("run_id").tail(1).set_index("run_id")
        out["final_epoch"] = last["epoch"].reindex(out.index).astype("float64")
        if "test_acc" in h:
            best = h.groupby("run_id")["test_acc"].max().reindex(out.index)
            out["best_acc"] = out["best_acc"].fillna(best)
            out["final_acc"] = out["final_acc"].fillna(last["test_acc"].reindex(out.index))
        if "synops" in h:
            out["synops"] = last["synops"].reindex(out.index).astype("float64")
    return out


def _column(runs: pd.DataFrame, name: str) -> np.ndarray:
    if name not in runs:
        return np.full(len(runs), np.nan)
    return pd.to_numeric(runs[name], errors="coerce").to_numpy(dtype="float64")


def select(runs: pd.DataFrame, where: dict) -> pd.DataFrame:
    """The runs whose config matches every ``key = value`` of ``where`` (a missing key matches nothing)."""
    mask = np.ones(len(runs), dtype=bool)
    for key, want in where.items():
        if key not in runs:
            return runs.iloc[0:0]
        target = canonical(want)
        mask &= np.array([canonical(v) == target for v in runs[key].tolist()], dtype=bool)
    return runs[mask]


def _key(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(canonical(v) for v in row) for row in frame[columns].itertuples(index=False, name=None)]


@dataclass(frozen=True)
class CellRuns:
    """The runs of one (row, column) cell, sorted by seed."""

    row: str
    column: object
    runs: pd.DataFrame

    @property
    def run_ids(self) -> list[str]:
        return list(self.runs["run_id"])


def _check(cell: CellRuns, settings: list[str]) -> None:
    if len(cell.runs) < 2:
        return
    others = [c for c in settings if c != "seed"]
    groups = set(_key(cell.runs, others))
    if len(groups) > 1:
        differ = [c for c in others if len(set(_key(cell.runs, [c]))) > 1]
        raise AmbiguousCell(
            f"cell ({cell.row}, {cell.column}) holds runs that differ in {differ}, not only the seed; "
            "narrow the study's [report] `where` or rows, or list the key under [pairing] ignore in "
            "suite/report/tables.toml"
        )
    seeds = [canonical(s) for s in cell.runs["seed"]] if "seed" in cell.runs else []
    if len(set(seeds)) != len(seeds):
        raise AmbiguousCell(
            f"cell ({cell.row}, {cell.column}) holds two runs with the same settings and seed"
        )


def assign(layout: TableLayout, runs: pd.DataFrame) -> dict[tuple[str, object], CellRuns]:
    """(row label, column value) -> the cell's runs, for every cell of the layout (empty cells included)."""
    settings = setting_columns(runs, ignore=layout.pairing_ignore)
    cells = {}
    for row in layout.rows:
        for value in layout.columns.values:
            chosen = select(runs, layout.cell_where(row, value))
            if "seed" in chosen and len(chosen):
                chosen = chosen.sort_values(["seed", "run_id"], kind="stable")
            cell = CellRuns(row.label, value, chosen)
            _check(cell, settings)
            cells[(row.label, value)] = cell
    return cells


def summary(cell: CellRuns, metric: pd.Series) -> Summary | None:
    """mean ± std over the cell's runs of ``metric`` (indexed by run_id); runs lacking it are left out."""
    values = metric.reindex(cell.run_ids).dropna()
    return summarize(values.tolist())


def pairs(
    layout: TableLayout, comparison: Comparison, column, cells, runs: pd.DataFrame
) -> list[tuple[str, str]]:
    """(run of a, run of b) with equal settings apart from the compared keys, sorted by the shared key."""
    compared = layout.compared_keys(comparison)
    keys = [c for c in setting_columns(runs, ignore=layout.pairing_ignore) if c not in compared]
    a, b = cells[(comparison.a, column)].runs, cells[(comparison.b, column)].runs
    if not len(a) or not len(b):
        return []
    by_key_b = dict(zip(_key(b, keys), b["run_id"]))
    matched = [(k, ra, by_key_b[k]) for k, ra in zip(_key(a, keys), a["run_id"]) if k in by_key_b]
    return [(ra, rb) for _, ra, rb in sorted(matched, key=lambda m: repr(m[0]))]


def paired_diff(
    layout: TableLayout, comparison: Comparison, column, cells, runs: pd.DataFrame, metric: pd.Series
) -> tuple[PairedDiff | None, list[tuple[str, str]]]:
    """a - b over the matched pairs where both runs have the metric, with its 95% t interval."""
    used = [
        (ra, rb)
        for ra, rb in pairs(layout, comparison, column, cells, runs)
        if not (np.isnan(metric.get(ra, np.nan)) or np.isnan(metric.get(rb, np.nan)))
    ]
    return paired_ci([metric[ra] - metric[rb] for ra, rb in used]), used
