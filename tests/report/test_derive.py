"""Studies of one's own, outside studies/: tables derived from 1, 2 and 3 varying axes, a [report] override.

The studies are written to tmp_path (as a user would, anywhere), loaded through the spec (so they are
validated as any study is), and rendered from fixture runs; the Markdown and LaTeX are pinned by golden files
(``UPDATE_GOLDEN=1 python -m pytest tests/report/test_derive.py`` regenerates them, review the diff).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from suite import train
from suite.report import derive, layout, render_frames
from suite.report.build import build
from suite.report.cells import assign, paired_diff, per_run
from suite.report.model import Diff
from suite.study import spec
from suite.study.plan import find_study

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
NETWORK = {"mnist": "mnist-net", "fashion-mnist": "mnist-net"}
ACC = {("LIF", 1.0): 88.0, ("LIF", 4.0): 89.5, ("KLIF", 1.0): 90.25, ("KLIF", 4.0): 89.0, ("KLIF", 2.0): 90.5}
HEAD = "seeds = [0, 1, 2]\n[profiles.cpu]\nepochs = 3\n[base]\nencoder = 3\nwidth = 0.25\n"

STUDIES = {
    # one varying axis: its values are the rows, the dataset the one column, each row against alpha = 1
    "derived-1-axis": (
        'name = "derived-1-axis"\ntitle = "KLIF surrogate slope on MNIST"\n'
        + HEAD
        + 'dataset = "mnist"\nneuron = "KLIF"\n[grid]\nalpha = [1.0, 2.0, 4.0]\n'
    ),
    # two: columns from the last (alpha), rows from neuron, KLIF against LIF per alpha (the issue's example)
    "derived-2-axes": (
        'name = "derived-2-axes"\ntitle = "Neuron x surrogate slope on Fashion-MNIST"\n'
        + HEAD
        + 'dataset = "fashion-mnist"\n[grid]\nneuron = ["LIF", "KLIF"]\nalpha = [1.0, 4.0]\n'
    ),
    # three: columns from dataset (it varies), rows from neuron x alpha, each KLIF row against its LIF row
    "derived-3-axes": (
        'name = "derived-3-axes"\ntitle = "Neuron x surrogate slope x dataset"\n'
        + HEAD
        + '[grid]\ndataset = ["mnist", "fashion-mnist"]\nneuron = ["LIF", "KLIF"]\nalpha = [1.0, 4.0]\n'
    ),
}
# the three-axis study, told how: MNIST only, columns alpha, rows neuron, LIF against KLIF, two blocks
STUDIES["derived-override"] = STUDIES["derived-3-axes"].replace("derived-3-axes", "derived-override") + (
    '[report]\ntitle = "Override: LIF against KLIF per slope on MNIST"\n'
    'columns = "alpha"\nrows = ["neuron"]\n'
    'row_header = "Neuron"\nwhere = { dataset = "mnist" }\nreference = { neuron = "KLIF" }\n'
    'metrics = ["best", "synops"]\n'
)


def _points(study: spec.Study, point) -> list[dict]:
    """Fixture runs of every point of ``study`` (seeds 0-2), accuracies from ACC (+2 on Fashion-MNIST)."""
    pts = []
    for p in spec.expand(study, "cpu"):
        c = p.config
        base = ACC[(c["neuron"], float(c["alpha"]))] + (2.0 if c["dataset"] == "fashion-mnist" else 0.0)
        jitter = 0.2 if c["neuron"] == "KLIF" else 0.0
        pts.append(
            point(
                study.name,
                c["dataset"],
                NETWORK[c["dataset"]],
                c["neuron"],
                3,
                c["seed"],
                base,
                jitter=jitter,
                alpha=c["alpha"],
            )  # fmt: skip
        )
    return pts


@pytest.fixture
def own(tmp_path):
    """``own(name)``: the study written outside the project, loaded (validated) by the spec."""

    def load(name: str) -> spec.Study:
        path = tmp_path / "mine" / f"{name}.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(STUDIES[name], encoding="utf-8")
        return spec.load(path)

    return load


@pytest.mark.parametrize("name", list(STUDIES))
def test_golden_derived_tables(name, own, tmp_path, make_frames, make_point):
    study = own(name)
    runs, history = make_frames(_points(study, make_point))
    command = f"nox -s report -- {study.path.name} --profile cpu"
    paths = render_frames(
        study, runs, history, profile="cpu", out_dir=tmp_path / "out", command=command, draw_figures=False
    )
    assert [p.name for p in paths] == [f"{name}.md", f"{name}.tex"]
    for p in paths:
        golden = GOLDEN / p.name
        if UPDATE:
            golden.write_bytes(p.read_bytes())
        assert golden.exists(), f"{golden} missing: run with UPDATE_GOLDEN=1 once and review it"
        assert p.read_text(encoding="utf-8") == golden.read_text(encoding="utf-8"), f"{p.name} differs"


def test_one_varying_axis_makes_the_rows(own):
    lay = layout.get(own("derived-1-axis"))
    assert (lay.columns.key, lay.columns.values, lay.columns.labels) == ("dataset", ("mnist",), ("MNIST",))
    assert (lay.row_header, [r.label for r in lay.rows]) == ("alpha", ["1", "2", "4"])
    assert [r.where for r in lay.rows] == [{"alpha": 1}, {"alpha": 2}, {"alpha": 4}]
    assert [c.label for c in lay.comparisons] == ["alpha: 2 - 1", "alpha: 4 - 1"]  # a number names its axis
    assert [(c.a, c.b) for c in lay.comparisons] == [("2", "1"), ("4", "1")]


def test_two_varying_axes_columns_from_the_last(own):
    lay = layout.get(own("derived-2-axes"))
    assert lay.columns.key == "alpha" and lay.columns.labels == ("alpha = 1", "alpha = 4")
    assert (lay.row_header, [r.label for r in lay.rows]) == ("neuron", ["LIF", "KLIF"])
    assert [c.label for c in lay.comparisons] == ["KLIF - LIF"]
    assert lay.title == "Neuron x surrogate slope on Fashion-MNIST" and lay.paper is None


def test_three_varying_axes_columns_from_dataset_rows_from_the_rest(own, make_frames, make_point):
    study = own("derived-3-axes")
    lay = layout.get(study)
    assert lay.columns.labels == ("MNIST", "Fashion-MNIST")
    assert lay.row_header == "neuron, alpha"
    assert [r.label for r in lay.rows] == ["LIF, 1", "LIF, 4", "KLIF, 1", "KLIF, 4"]
    assert [c.label for c in lay.comparisons] == ["KLIF - LIF (alpha = 1)", "KLIF - LIF (alpha = 4)"]
    assert [(c.a, c.b) for c in lay.comparisons] == [("KLIF, 1", "LIF, 1"), ("KLIF, 4", "LIF, 4")]
    assert all(lay.compared_keys(c) == {"neuron"} for c in lay.comparisons)
    # the paired cell is the mean of the per-seed differences, KLIF - LIF, over the three seeds
    runs, history = make_frames(_points(study, make_point))
    cells, metric = assign(lay, runs), per_run(runs, history)["best_acc"]
    diff, used = paired_diff(lay, lay.comparisons[1], "fashion-mnist", cells, runs, metric)
    assert len(used) == 3 and diff.mean == pytest.approx(89.0 - 89.5 + 0.2)  # jitter 0.2 * mean seed 1
    report = build(lay, runs, history, profile="cpu", command="x")
    paired = next(s for s in report.sections if s.key == "best-paired")
    assert paired.rows[1][2] == Diff(diff)
    best = next(s for s in report.sections if s.key == "best")
    bold = [r[0].text for r in best.rows if r[1].bold]
    assert bold == ["KLIF, 1"]  # 90.25 (+ jitter) is the best of the MNIST column


def test_a_report_table_overrides_what_is_derived(own):
    lay = layout.get(own("derived-override"))
    assert lay.title.startswith("Override") and lay.where == {"dataset": "mnist"}
    assert (lay.columns.key, [r.label for r in lay.rows], lay.row_header) == (
        "alpha",
        ["LIF", "KLIF"],
        "Neuron",
    )
    assert [c.label for c in lay.comparisons] == ["LIF - KLIF"]
    assert [b.key for b in lay.blocks()] == ["best", "synops"]


def test_nothing_varies_one_row_named_after_the_study(tmp_path):
    path = tmp_path / "single.toml"
    path.write_text('name = "single"\ntitle = "one arm"\nseeds = [0]\n[base]\nneuron = "PLIF"\n')
    lay = layout.get(spec.load(path))
    assert [(r.label, r.where) for r in lay.rows] == [("single", {})] and lay.row_header == "Study"
    assert lay.columns.values == ("mnist",) and lay.comparisons == ()


def test_derivation_reads_resolved_values_and_includes():
    table3 = spec.load(find_study("table3"))  # encoder varies only through its [[include]]
    assert derive.varying(table3) == ["network", "neuron", "encoder"]
    assert derive.values(table3, "encoder") == [1, 3]
    table2 = spec.load(find_study("table2"))  # network = "auto": each dataset's Table 1 network, as logged
    networks = derive.values(table2, "network")
    assert "auto" not in networks and networks[0] == train.resolve({"dataset": "mnist"})["network"]
    assert derive.varying(table2) == ["dataset", "neuron"]  # the network follows the dataset: no axis


def test_a_declared_table_renders_like_the_derived_one_where_it_says_the_same(
    own, tmp_path, make_frames, make_point
):
    """The derived table equals its hand-written twin's: the derivation is the same mechanism, not a guess."""
    study = own("derived-2-axes")
    explicit = study.path.with_name("twin.toml")
    explicit.write_text(
        STUDIES["derived-2-axes"].replace("derived-2-axes", "twin")
        + '[report]\ncolumns = "alpha"\nrow_header = "neuron"\nreference = { neuron = "LIF" }\nrows = [\n'
        '  { label = "LIF", where = { neuron = "LIF" } },\n'
        '  { label = "KLIF", where = { neuron = "KLIF" } },\n]\n'
    )
    runs, history = make_frames(_points(study, make_point))
    derived = build(layout.get(study), runs, history, profile="cpu", command="x")
    declared = build(layout.get(spec.load(explicit)), runs, history, profile="cpu", command="x")
    assert derived.sections == declared.sections
