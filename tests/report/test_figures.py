"""Figure helpers: layer order, and that every drawn number comes from the cell's own runs."""

from __future__ import annotations

import pandas as pd

from suite.report import layout
from suite.report.cells import assign
from suite.report.figures import _layers, draw


def test_layer_order_follows_the_layers_tag_else_natural_sort():
    h = pd.DataFrame({"rate/conv10": [0.1], "rate/conv2": [0.1], "rate/enc": [0.1], "rate/vote": [None]})
    assert _layers(h, pd.DataFrame({"layers": [None]}), "rate/") == [
        "conv2",
        "conv10",
        "enc",
    ]  # vote: no value
    tagged = pd.DataFrame({"layers": ["enc,conv2,conv10,vote"]})
    assert _layers(h, tagged, "rate/") == ["enc", "conv2", "conv10"]


def test_fig4_draws_every_dataset_and_only_the_cells_runs(points, make_frames):
    runs, history = make_frames(points("table2"))
    lay = layout.get("table2")
    cells = assign(lay, runs)
    fig = draw(lay.figures[0], lay, cells, runs, history, profile="cpu")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == list(lay.columns.labels)
    mnist = axes[0]
    lines = {line.get_label(): line.get_ydata() for line in mnist.get_lines()}
    assert set(lines) == {"LIF (n=3)", "KLIF (n=3)"}
    klif_ids = cells[("Ours (with KLIF)", "mnist")].run_ids
    want = history[history["run_id"].isin(klif_ids)].groupby("epoch")["test_acc"].mean().to_numpy()
    assert list(lines["KLIF (n=3)"]) == list(want)  # the encoder-1 KLIF run (test_acc ~10) is not in it
    assert any(t.get_text() == "no finished run" for t in axes[3].texts)  # N-MNIST: nothing ran
