"""Golden files: the Markdown and LaTeX of fixture studies, byte for byte.

Regenerate only on purpose: ``UPDATE_GOLDEN=1 python -m pytest tests/report -q`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from suite.report import layout, paper, render_frames
from suite.report.build import build
from suite.report.fmt import LATEX, MARKDOWN, cell
from suite.report.model import Measured, Published, Text
from suite.report.runs import empty_history, empty_runs

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def command(study):
    return f"python -m suite report {study} --profile cpu"


@pytest.mark.parametrize("study", ["table2", "table3", "controls"])
def test_golden_markdown_and_latex(study, tmp_path, points, make_frames):
    runs, history = make_frames(points(study))
    paths = render_frames(
        study, runs, history, profile="cpu", out_dir=tmp_path, command=command(study), draw_figures=False
    )
    assert [p.name for p in paths] == [f"{study}.md", f"{study}.tex"]
    assert all(p.parent == tmp_path for p in paths)
    for p in paths:
        golden = GOLDEN / p.name
        if UPDATE:
            GOLDEN.mkdir(exist_ok=True)
            golden.write_bytes(p.read_bytes())
        assert golden.exists(), f"{golden} missing: run with UPDATE_GOLDEN=1 once and review it"
        assert p.read_text(encoding="utf-8") == golden.read_text(encoding="utf-8"), (
            f"{p.name} differs from golden"
        )


def _section(report, key):
    return next(s for s in report.sections if s.key == key)


def _cell(section, row_label, header):
    row = next(r for r in section.rows if r[0] == Text(row_label))
    return row[section.header.index(header)]


def test_missing_runs_render_as_dash(points, make_frames):
    runs, history = make_frames(points("table3"))
    report = build(layout.get("table3"), runs, history, profile="cpu", command="x")
    best = _section(report, "best")
    for row in layout.get("table3").rows:
        c = _cell(best, row.label, "ResNet-18")  # no resnet18 run at all
        assert c == Measured(None, "acc", False)
        assert (cell(c, MARKDOWN), cell(c, LATEX)) == ("—", "---")
        assert _cell(best, row.label, "ResNet-18 (paper)") == Published(
            paper.table("table3").row(row.paper).value("resnet18")
        )
    assert cell(_cell(_section(report, "best-paired"), "KLIF - LIF", "ResNet-18"), MARKDOWN) == "—"


def test_a_study_without_runs_shows_no_number(tmp_path):
    report = build(layout.get("table4"), empty_runs(), empty_history(), profile="cpu", command="x")
    measured = [c for s in report.sections for r in s.rows for c in r if isinstance(c, Measured)]
    assert len(measured) == 3 * 2 * 6 and all(c.summary is None for c in measured)
    assert dict(report.footer)["Seeds"] == "no finished run" and report.provenance == ()
    paths = render_frames(
        "table4", empty_runs(), empty_history(), profile="cpu", out_dir=tmp_path, command="x"
    )
    md = paths[0].read_text(encoding="utf-8")
    assert "| KLIF  " in md and "CIFAR10-DVS" in md and "(n=" not in md


def test_cited_rows_stay_out_of_measured_columns(points, make_frames):
    runs, history = make_frames(points("table2"))
    report = build(layout.get("table2"), runs, history, profile="cpu", command="x")
    best = _section(report, "best")
    cited = [r for r in best.rows if r[1] == Text("cited")]
    assert len(cited) == len(paper.table("table2").cited())
    first = min(i for i, r in enumerate(best.rows) if r[1] == Text("cited"))
    assert best.rules == frozenset({first})
    for r in cited:
        for label in layout.get("table2").columns.labels:
            assert r[best.header.index(label)] == Text("")  # never in a measured column
    assert all(r[0] != Text("cited") for s in report.sections if s.key != "best" for r in s.rows)
    assert _cell(best, "Ours (with KLIF)", "CIFAR-10 (paper)") == Published("92.52")


def test_best_value_per_column_is_bold_with_ties(points, make_frames):
    runs, history = make_frames(points("table3"))
    report = build(layout.get("table3"), runs, history, profile="cpu", command="x")
    best = _section(report, "best")
    bold = [r[0].text for r in best.rows if r[1].bold]
    assert bold == ["KLIF (with coding layers)"]  # base 56.00 is the highest of VGG-16
    runs.loc[runs["encoder"] == 3, "best_test_acc"] -= 10  # now KLIF (encoder 1) is best, in two rows
    best = _section(build(layout.get("table3"), runs, history, profile="cpu", command="x"), "best")
    assert [r[0].text for r in best.rows if r[1].bold] == ["KLIF", "KLIF (without coding layers)"]
    assert not any(c.bold for r in _section(report, "synops").rows for c in r if isinstance(c, Measured))
