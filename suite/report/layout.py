"""Table layouts: the rows, columns, paper rows and comparisons of a study's table, and where they come from.

Why one typed layout for every study: the renderer has no branch per table. A study file says how its
table looks in a ``[report]`` table (:mod:`suite.report.declare`, which validates it) or says nothing and
gets a table derived from its axes (:mod:`suite.report.derive`); the paper's tables are such declarations,
in their own study files, so the set of studies is defined once, by ``studies/*.toml``. What every table
shares (the blocks of a report, the pairing rule, how values are labelled) is data in ``tables.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomllib

if TYPE_CHECKING:
    from suite.study.spec import Study

PATH = Path(__file__).with_name("tables.toml")


@dataclass(frozen=True)
class Columns:
    key: str  # the config column the table's columns vary (dataset, network, or any setting)
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
    metrics: tuple[str, ...] | None = None  # keys of the blocks to report, in order; None: every block

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

    def blocks(self) -> tuple[Block, ...]:
        """The blocks this table reports, in its order."""
        every = blocks()
        if self.metrics is None:
            return every
        by_key = {b.key: b for b in every}
        return tuple(by_key[k] for k in self.metrics)


_ABSENT = object()


@cache
def _tables() -> dict[str, Any]:
    return tomllib.loads(PATH.read_text(encoding="utf-8"))


@cache
def blocks() -> tuple[Block, ...]:
    return tuple(Block(**b) for b in _tables()["blocks"])


def pairing_ignore() -> tuple[str, ...]:
    return tuple(_tables()["pairing"]["ignore"])


def value_label(key: str, value) -> str:
    """How ``key = value`` prints where the setting is named elsewhere (a row under its axis' header);
    ``value`` is canonical (:func:`suite.report.runs.canonical`), as layouts hold them."""
    return (
        _tables().get("labels", {}).get(key, {}).get(value, str(value))
        if isinstance(value, str)
        else str(value)
    )


def column_label(key: str, value) -> str:
    """A column header: the value's label, else ``key = value`` (nothing else in a header names the key)."""
    text = value_label(key, value)
    return text if text != str(value) else f"{key} = {text}"


def load(study: str | Path | Study) -> Study:
    """The loaded study: a project study's name, a study file's path, or a study already loaded."""
    return _study(study)


def _study(study: str | Path | Study) -> Study:
    from suite.study import spec
    from suite.study.plan import find_study

    return study if isinstance(study, spec.Study) else spec.load(find_study(str(study)))


@cache
def _project(name: str) -> TableLayout:
    from suite.report import declare

    return declare.layout(_study(name))


def get(study: str | Path | Study) -> TableLayout:
    """The table of a study: a project study's name, a study file's path (``.toml``), or a loaded study.

    An unknown name is one line (:class:`suite.study.spec.StudyError`) listing the known studies.
    """
    from suite.report import declare

    if isinstance(study, str) and not study.endswith(".toml"):
        return _project(study)
    return declare.layout(_study(study))


def names() -> list[str]:
    """Every project grid study (``studies/*.toml``): each has a table, declared or derived. A search
    study's report is its own (:mod:`suite.report.search_report`): see :func:`all_names`."""
    return [n for n in all_names() if not _is_search(n)]


@cache
def _is_search(name: str) -> bool:
    return load(name).search is not None


def all_names() -> list[str]:
    """Every project study, grid or search: what ``report all`` renders."""
    from suite.study.plan import study_names

    return study_names()


def ref(study: Study) -> str:
    """What names ``study`` on the command line: its name for a project study, else its file's path."""
    from suite.study.plan import find_study

    try:
        if find_study(study.name).resolve() == study.path.resolve():
            return study.name
    except ValueError:  # StudyError: not a project study
        pass
    return str(study.path)
