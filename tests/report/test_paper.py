"""paper.toml against the paper's own text: every published number, in every table, exactly as printed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from suite.report import paper

REPO = Path(__file__).resolve().parents[2]
PAPER_DIR = Path(os.environ.get("SUITE_PAPER", REPO.parent / "shared" / "paper"))
HEADINGS = {"table2": "Table 2 ", "table3": "Table 3 ", "table4": "Table 4 ", "table5": "Table 5 "}
CELL = re.compile(r"\d+(\.\d+)?%?|-")


def _paper_text() -> str:
    texts = sorted(PAPER_DIR.glob("*.txt")) if PAPER_DIR.is_dir() else []
    if not texts:
        pytest.skip(f"paper text not found in {PAPER_DIR} (set SUITE_PAPER)")
    return texts[0].read_text(encoding="utf-8")


def _rows(text: str, heading: str, n_columns: int) -> list[tuple[str, list[str | None]]]:
    """(label, values) of the data rows under the table heading, in order; "-" -> None, "%" dropped."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 1 :]:
        fields = line.split("\t")
        if not line.strip():
            if rows:
                break
            continue
        cells = fields[-n_columns:]
        if len(fields) > n_columns and fields[0] and all(CELL.fullmatch(c.strip()) for c in cells):
            rows.append((fields[0], [None if c.strip() == "-" else c.strip().rstrip("%") for c in cells]))
    return rows


def _norm(label: str) -> str:
    return label.replace(" ", "")


@pytest.mark.parametrize("name", sorted(HEADINGS))
def test_paper_toml_matches_paper_text(name):
    table = paper.table(name)
    printed = _rows(_paper_text(), HEADINGS[name], len(table.columns))
    assert [_norm(label) for label, _ in printed] == [_norm(r.label) for r in table.rows]
    for (label, values), row in zip(printed, table.rows):
        assert [row.value(c) for c in table.columns] == values, label


def test_known_values_and_kinds():
    assert paper.table("table3").row("KLIF").value("vgg16") == "85.53"
    assert paper.table("table5").row("KLIF(leaky ReLU)").value("resnet18") == "89.11"
    assert paper.table("table4").row("KLIF*").value("nmnist") == "99.27"
    t2 = paper.table("table2")
    assert t2.row("He et al. [44]").value("dvs-gesture") == "93.40"  # printed precision kept
    assert t2.row("Ours (with LIF)").kind == "ours"
    assert len(t2.cited()) == 14 and all(r.kind == "cited" for r in t2.cited())
    assert set(paper.names()) == {"table2", "table3", "table4", "table5"}
