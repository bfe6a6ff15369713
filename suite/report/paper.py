"""The paper's published numbers, read from ``paper.toml`` (the one place they are typed in).

Why a data file: a published number copied into code is easy to mistype and impossible to audit; here each
value sits under the table it comes from, as printed, and the tests check the file against the paper's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tomllib

from suite.registry import lookup

PATH = Path(__file__).with_name("paper.toml")
KINDS = ("ours", "cited")


@dataclass(frozen=True)
class PaperRow:
    label: str
    kind: str  # "ours" (the paper's own result) or "cited" (another method's number the paper quotes)
    values: dict[str, str]  # column -> value as printed, in percent; an absent column is "-" in the paper
    method: str = ""

    def value(self, column: str) -> str | None:
        return self.values.get(column)


@dataclass(frozen=True)
class PaperTable:
    name: str
    caption: str
    columns: tuple[str, ...]
    rows: tuple[PaperRow, ...]

    def row(self, label: str) -> PaperRow:
        for r in self.rows:
            if r.label == label:
                return r
        raise KeyError(f"{self.name} of the paper has no row {label!r}; rows: {[r.label for r in self.rows]}")

    def cited(self) -> tuple[PaperRow, ...]:
        return tuple(r for r in self.rows if r.kind == "cited")


@cache
def _load() -> dict[str, PaperTable]:
    raw = tomllib.loads(PATH.read_text(encoding="utf-8"))
    tables = {}
    for name, spec in raw.items():
        if name == "source":
            continue
        columns = tuple(spec["columns"])
        rows = []
        for r in spec["rows"]:
            if r["kind"] not in KINDS:
                raise ValueError(f"paper.toml {name}/{r['label']}: kind must be one of {KINDS}")
            unknown = set(r["values"]) - set(columns)
            if unknown:
                raise ValueError(f"paper.toml {name}/{r['label']}: unknown columns {sorted(unknown)}")
            rows.append(PaperRow(r["label"], r["kind"], dict(r["values"]), r.get("method", "")))
        tables[name] = PaperTable(name, spec["caption"], columns, tuple(rows))
    return tables


def table(name: str) -> PaperTable:
    message = "paper.toml has no {what} {name!r}; {what}s: {known}"
    return lookup(_load(), name, "table", error=KeyError, message=message)


def names() -> list[str]:
    return list(_load())
