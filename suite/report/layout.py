"""Table layouts, read from ``layouts.toml``: rows, columns, paper rows and comparisons of each study.

Why data: a table's shape is a fact about the paper, not logic; keeping it in one file means the renderer has
no branch per table, and a new study gets a table by adding an entry. Loading validates every cross
reference (paper rows, comparison rows, figure rows) so a typo fails at import of the layout, not as a
silently empty cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import tomllib

from suite.registry import lookup
from suite.report import paper

PATH = Path(__file__).with_name("layouts.toml")


@dataclass(frozen=True)
class Columns:
    key: str  # the config column the table's columns vary (dataset, network)
    values: tuple[Any, ...]
    labels: tuple[str, ...]

    def label(self, value) -> str:
        return self.labels[self.values.index(value)]


@dataclass(frozen=True)
class Row:
    label: str
    where: dict[str, Any]
    paper: str | None = None  # label of the paper row printed beside this row's cells


@dataclass(frozen=True)
class Comparison:
    """``a - b`` over runs paired by seed and every setting but the keys a's and b's ``where`` differ."""

    a: str
    b: str
    name: str | None = None  # a shorter label than "a - b" for long row labels

    @property
    def label(self) -> str:
        return self.name or f"{self.a} - {self.b}"


@dataclass(frozen=True)
class Block:
    """One table of a report: a per-run metric over the layout's rows and columns."""

    key: str
    title: str
    metric: str  # a column of suite.report.cells.per_run
    format: str  # "acc" (percent, 2 decimals) or "count" (k/M/G)
    bold: bool = False
    paper: bool = False
    cited: bool = False
    paired: str | None = None  # title of the paired-difference block, if any


@dataclass(frozen=True)
class Figure:
    name: str
    study: str
    kind: str
    title: str
    rows: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TableLayout:
    name: str
    title: str
    columns: Columns
    row_header: str
    rows: tuple[Row, ...]
    where: dict[str, Any] = field(default_factory=dict)
    paper: str | None = None
    cited: bool = False
    comparisons: tuple[Comparison, ...] = ()
    figures: tuple[Figure, ...] = ()
    pairing_ignore: tuple[str, ...] = ()

    def row(self, label: str) -> Row:
        for r in self.rows:
            if r.label == label:
                return r
        raise KeyError(f"layout {self.name} has no row {label!r}")

    def cell_where(self, row: Row, column_value) -> dict[str, Any]:
        """Everything a run must match to sit in (row, column)."""
        return {**self.where, **row.where, self.columns.key: column_value}

    def compared_keys(self, comparison: Comparison) -> set[str]:
        wa, wb = self.row(comparison.a).where, self.row(comparison.b).where
        return {k for k in set(wa) | set(wb) if wa.get(k, _ABSENT) != wb.get(k, _ABSENT)}


_ABSENT = object()


def _figure(name: str, spec: dict) -> Figure:
    options = {k: v for k, v in spec.items() if k not in ("study", "kind", "title", "rows")}
    return Figure(name, spec["study"], spec["kind"], spec["title"], tuple(spec["rows"]), options)


def _layout(name: str, spec: dict, columns: dict[str, Columns], figures: list[Figure], ignore) -> TableLayout:
    cols = columns[spec["columns"]]
    rows = tuple(Row(r["label"], dict(r["where"]), r.get("paper")) for r in spec["rows"])
    lay = TableLayout(
        name=name,
        title=spec["title"],
        columns=cols,
        row_header=spec["row_header"],
        rows=rows,
        where=dict(spec.get("where", {})),
        paper=spec.get("paper"),
        cited=bool(spec.get("cited", False)),
        comparisons=tuple(Comparison(c["a"], c["b"], c.get("label")) for c in spec.get("comparisons", [])),
        figures=tuple(f for f in figures if f.study == name),
        pairing_ignore=tuple(ignore),
    )
    if len({r.label for r in rows}) != len(rows):
        raise ValueError(f"layout {name}: row labels must be unique")
    if lay.paper is not None:
        pt = paper.table(lay.paper)
        missing = [v for v in cols.values if v not in pt.columns]
        if missing:
            raise ValueError(f"layout {name}: columns {missing} are not columns of the paper's {lay.paper}")
        for r in rows:
            if r.paper is not None:
                pt.row(r.paper)
    elif lay.cited or any(r.paper for r in rows):
        raise ValueError(f"layout {name}: paper rows or cited rows need a `paper` table")
    for c in lay.comparisons:
        lay.row(c.a), lay.row(c.b)
        if not lay.compared_keys(c):
            raise ValueError(f"layout {name}: comparison {c.label} compares identical rows")
    for f in lay.figures:
        for r in f.rows:
            lay.row(r)
    return lay


@cache
def blocks() -> tuple[Block, ...]:
    raw = tomllib.loads(PATH.read_text(encoding="utf-8"))
    return tuple(Block(**b) for b in raw["blocks"])


@cache
def _load() -> dict[str, TableLayout]:
    raw = tomllib.loads(PATH.read_text(encoding="utf-8"))
    columns = {
        k: Columns(v["key"], tuple(v["values"]), tuple(v["labels"])) for k, v in raw["columns"].items()
    }
    for k, c in columns.items():
        if len(c.values) != len(c.labels):
            raise ValueError(f"layouts.toml columns.{k}: values and labels differ in length")
    figures = [_figure(n, s) for n, s in raw.get("figures", {}).items()]
    unknown = {f.study for f in figures} - set(raw["studies"])
    if unknown:
        raise ValueError(f"layouts.toml: figures for unknown studies {sorted(unknown)}")
    ignore = raw.get("pairing", {}).get("ignore", [])
    return {n: _layout(n, s, columns, figures, ignore) for n, s in raw["studies"].items()}


def get(name: str) -> TableLayout:
    message = "no table layout for study {name!r}; {what}s: {known}"
    return lookup(_load(), name, "layout", error=KeyError, message=message)


def names() -> list[str]:
    return list(_load())
