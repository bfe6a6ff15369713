"""Table layout + runs -> :class:`~suite.report.model.Report`: the measured and paired blocks, the footer.

Why separate from the writers: every decision about which number goes where (and which is bold) is made
here on typed cells, so Markdown and LaTeX cannot drift apart and the tests can check the model directly.
Measured cells and the paper's numbers sit in different columns, and cited rows of other methods sit in
their own group marked "cited": a published number is never printed where a measured one belongs.
"""

from __future__ import annotations

import pandas as pd

from suite.report import footer, paper
from suite.report.cells import assign, paired_diff, per_run, summary
from suite.report.fmt import acc
from suite.report.layout import Block, TableLayout
from suite.report.model import Cell, Diff, Measured, Published, Report, Section, Text

MEASURED_NOTE = "Cells: mean ± sample std over seeds (n = finished runs); — where no finished run exists."
BOLD_NOTE = "Bold: the best measured value in each column (ties at the printed precision all bold)."
PAPER_NOTE = (
    "Columns marked (paper): the value the paper publishes, printed beside the measured cell for reference."
)
FINAL_NOTE = "The paper reports best-over-epochs accuracy; its values are shown here for reference only."
CITED_NOTE = (
    "Rows marked cited: other methods' accuracies as the paper quotes them in its {}; not measured here."
)
COUNT_NOTE = (
    "Per test sample, from the trainer's synops metric at each run's last epoch; no bold (fewer is cheaper)."
)
PAIRED_NOTE = (
    "Each cell: mean of (a - b) over runs paired by seed with every other setting equal, [95% t interval], "
    "n = pairs; positive favours a; — where no pair exists."
)


def _uses_paper(lay: TableLayout, block: Block) -> bool:
    return block.paper and lay.paper is not None


def _uses_cited(lay: TableLayout, block: Block) -> bool:
    return block.cited and lay.cited and lay.paper is not None


def _header(lay: TableLayout, block: Block, first: str) -> tuple[str, ...]:
    head = [first]
    if _uses_cited(lay, block):
        head.append("Source")
    for label in lay.columns.labels:
        head.append(label)
        if _uses_paper(lay, block):
            head.append(f"{label} (paper)")
    return tuple(head)


def _bold(lay: TableLayout, block: Block, table: dict) -> set:
    """(row, column) of the best printed mean per column, when the block bolds."""
    if not block.bold:
        return set()
    best = set()
    for value in lay.columns.values:
        means = {r.label: acc(s.mean) for r in lay.rows if (s := table[(r.label, value)]) is not None}
        if means:
            top = max(float(m) for m in means.values())
            best |= {(label, value) for label, m in means.items() if float(m) == top}
    return best


def _measured(lay: TableLayout, block: Block, cells, metrics: pd.DataFrame) -> Section:
    metric = metrics[block.metric]
    table = {key: summary(c, metric) for key, c in cells.items()}
    bold = _bold(lay, block, table)
    pt = paper.table(lay.paper) if _uses_paper(lay, block) else None
    rows: list[tuple[Cell, ...]] = []
    for r in lay.rows:
        line: list[Cell] = [Text(r.label)]
        if _uses_cited(lay, block):
            line.append(Text("measured"))
        for value in lay.columns.values:
            line.append(Measured(table[(r.label, value)], block.format, (r.label, value) in bold))
            if pt is not None:
                line.append(Published(pt.row(r.paper).value(value) if r.paper else None))
        rows.append(tuple(line))
    rules = set()
    if _uses_cited(lay, block):
        rules.add(len(rows))
        for c in pt.cited():
            line = [Text(f"{c.label} ({c.method})" if c.method else c.label), Text("cited")]
            for value in lay.columns.values:
                line += [Text(""), Published(c.value(value))]
            rows.append(tuple(line))
    notes = [MEASURED_NOTE]
    notes += [BOLD_NOTE] if block.bold else []
    notes += [COUNT_NOTE] if block.format == "count" else []
    notes += [PAPER_NOTE] if pt is not None else []
    notes += [FINAL_NOTE] if pt is not None and block.metric != "best_acc" else []
    notes += [CITED_NOTE.format(pt.caption.split(":")[0])] if _uses_cited(lay, block) else []
    stub = 2 if _uses_cited(lay, block) else 1
    return Section(
        block.key,
        block.title,
        _header(lay, block, lay.row_header),
        tuple(rows),
        frozenset(rules),
        tuple(notes),
        stub,
    )


def _paired(lay: TableLayout, block: Block, cells, runs: pd.DataFrame, metrics: pd.DataFrame) -> Section:
    metric = metrics[block.metric]
    rows = []
    for comp in lay.comparisons:
        line: list[Cell] = [Text(comp.label)]
        for value in lay.columns.values:
            diff, _ = paired_diff(lay, comp, value, cells, runs, metric)
            line.append(Diff(diff))
        rows.append(tuple(line))
    notes = [PAIRED_NOTE] + [f"{c.label}: a = {c.a}, b = {c.b}" for c in lay.comparisons if c.name]
    return Section(
        f"{block.key}-paired",
        block.paired,
        ("Comparison (a - b)", *lay.columns.labels),
        tuple(rows),
        frozenset(),
        tuple(notes),
    )


def build(
    lay: TableLayout, runs: pd.DataFrame, history: pd.DataFrame, *, profile: str, command: str
) -> Report:
    cells = assign(lay, runs)
    metrics = per_run(runs, history)
    measured, paired = [], []
    for block in lay.blocks():
        measured.append(_measured(lay, block, cells, metrics))
        if block.paired and lay.comparisons:
            paired.append(_paired(lay, block, cells, runs, metrics))
    return Report(
        study=lay.name,
        title=lay.title,
        sections=tuple(measured + paired),
        footer=footer.items(lay, cells, runs, profile=profile, command=command),
        provenance=footer.provenance(lay, cells),
    )
