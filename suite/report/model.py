"""The report as data: sections of typed cells, a footer and a provenance list, before any formatting.

Why typed cells: Markdown and LaTeX must print the same numbers; building the report once and letting each
writer only format (:mod:`suite.report.fmt`) makes that true by construction, and lets the golden tests pin
both outputs to one model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from suite.report.stats import PairedDiff, Summary


@dataclass(frozen=True)
class Text:
    """A label, header or note; "" for a deliberately blank cell."""

    text: str


@dataclass(frozen=True)
class Measured:
    """mean ± std (n) over the seeds of one cell; ``summary is None`` when no finished run exists ("—")."""

    summary: Summary | None
    format: str  # "acc" or "count"
    bold: bool = False


@dataclass(frozen=True)
class Published:
    """A number as the paper prints it, or None where the paper has "-"."""

    text: str | None


@dataclass(frozen=True)
class Diff:
    """A paired difference with its confidence interval; None when no pair of runs exists."""

    diff: PairedDiff | None


Cell = Text | Measured | Published | Diff


@dataclass(frozen=True)
class Section:
    key: str  # unique within a report; part of the LaTeX label
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    rules: frozenset[int] = frozenset()  # row indices that start a new group (a rule above them)
    notes: tuple[str, ...] = ()
    stub: int = 1  # leading text columns (row label, source); the rest hold numbers


@dataclass(frozen=True)
class Report:
    study: str
    title: str
    sections: tuple[Section, ...]
    footer: tuple[tuple[str, str], ...]
    provenance: tuple[str, ...] = field(default=())
