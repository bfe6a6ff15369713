"""Every study's layout loads, refers only to things that exist, and describes the paper's tables."""

from __future__ import annotations

import pytest

from suite.report import figures, layout, paper

KNOWN_CONFIG_KEYS = {"dataset", "network", "neuron", "encoder", "T", "epochs", "seed"}


@pytest.mark.parametrize("name", layout.names())
def test_layout_is_consistent(name):
    lay = layout.get(name)
    assert lay.rows and lay.columns.values
    for row in lay.rows:
        assert set(lay.cell_where(row, lay.columns.values[0])) <= KNOWN_CONFIG_KEYS
    for spec in lay.figures:
        assert spec.kind in figures.KINDS
    if lay.paper:
        pt = paper.table(lay.paper)
        assert all(r.paper for r in lay.rows), "every measured row of a paper table has its paper row"
        assert list(lay.columns.values) == list(pt.columns)


def test_studies_and_paper_layouts():
    assert layout.names() == ["controls", "table2", "table3", "table4", "table5"]  # studies/*.toml, once
    assert layout.all_names() == [*layout.names(), "tuned"]  # with the search study
    assert [r.label for r in layout.get("table3").rows] == [
        "LIF",
        "KLIF",
        "Only with k",
        "Only with ReLU",
        "KLIF (without coding layers)",
        "KLIF (with coding layers)",
    ]
    assert layout.get("table3").row("KLIF (with coding layers)").where == {"neuron": "KLIF", "encoder": 3}
    assert layout.get("controls").paper is None
    assert [f.name for f in layout.get("table2").figures] == ["fig4", "fig5", "fig6"]
    comps = {c.label: layout.get("table3").compared_keys(c) for c in layout.get("table3").comparisons}
    assert comps["KLIF with - without coding layers"] == {"encoder"}
    assert comps["KLIF - LIF"] == {"neuron"}


def test_blocks_report_best_and_final_accuracy():
    metrics = [b.metric for b in layout.blocks()]
    assert metrics[:2] == ["best_acc", "final_acc"] and "synops" in metrics
    assert [b.key for b in layout.blocks() if b.cited] == ["best"]


def test_layouts_name_only_registered_datasets_networks_and_neurons():
    """A typo in a [report] table would leave a cell "—" forever; check every name against the registries."""
    registries = {
        "dataset": pytest.importorskip("suite.data").names(),
        "network": pytest.importorskip("suite.models").names(),
        "neuron": pytest.importorskip("suite.neurons").names(),
    }
    for name in layout.names():
        lay = layout.get(name)
        for row in lay.rows:
            for value in lay.columns.values:
                for key, want in lay.cell_where(row, value).items():
                    if key in registries:
                        assert want in registries[key], (
                            f"{name}/{row.label}: {key} = {want!r} is not registered"
                        )


def test_the_paper_tables_are_declared_where_their_studies_are():
    """One list of studies (studies/*.toml): no second file to keep in step with it."""
    from suite.study.plan import study_names

    assert layout.all_names() == study_names()
    assert not layout.PATH.with_name("layouts.toml").exists()
    controls = layout.get("controls")  # rows and columns derived from its axes, only the comparisons declared
    assert [r.label for r in controls.rows] == ["LIF", "LIF-vth", "PLIF", "KLIF"]
    assert controls.columns.labels == ("MNIST", "Fashion-MNIST", "CIFAR-10")
    assert [c.label for c in layout.get("table4").comparisons] == ["KLIF - KLIF*"]  # from its reference arm
