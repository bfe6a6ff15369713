"""Figure helpers: layer order, and that every drawn number comes from the cell's own runs."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

import suite.models as models
from suite.models import probes
from suite.report import layout
from suite.report.cells import assign
from suite.report.figures import _layers, convention_key, draw, layer_distributions, network_order


def test_layer_order_follows_the_runs_own_tag_else_the_naming_convention():
    h = pd.DataFrame(
        {"run_id": ["a"], "rate/conv10": [0.1], "rate/conv2": [0.1], "rate/enc": [0.1], "rate/vote": [None]}
    )
    untagged = pd.DataFrame({"run_id": ["a"], "layers": [None]})
    assert _layers(h, untagged, "rate/") == ["enc", "conv2", "conv10"]  # vote: no value
    tagged = pd.DataFrame({"run_id": ["a", "b"], "layers": ["enc,conv10,conv2,vote", "conv2,enc"]})
    assert _layers(h, tagged, "rate/") == ["enc", "conv10", "conv2"]  # run b is not in h: its tag is not read
    q = pd.DataFrame({"run_id": ["a"], "rate_q/fc1/p50": [0.1], "rate_q/enc/p05": [0.0], "rate/conv2": [0.2]})
    assert _layers(q, untagged, "rate/", "rate_q/") == ["enc", "conv2", "fc1"]


def test_network_order_keeps_each_tags_order():
    assert network_order(["enc,conv1,fc1,vote", "enc,conv1,conv2,conv3,fc1,vote"]) == [
        "enc",
        "conv1",
        "conv2",
        "conv3",
        "fc1",
        "vote",
    ]


@pytest.mark.parametrize("name", models.names())
def test_naming_convention_is_module_order_for_every_registered_network(name):
    ex = models.entry(name).example
    net = models.make(name, neuron="LIF", in_shape=ex.in_shape, num_classes=ex.num_classes, T=1, width=0.0625)
    forward = list(probes.spiking_layers(net))
    shuffled = random.Random(0).sample(forward, len(forward))
    assert sorted(shuffled, key=convention_key) == forward


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


CIFAR_LAYERS = "enc,conv1,conv2,conv10,fc1,vote"  # conv10: a plain sort would put it before conv2


def fig6_frames(points, make_frames, percentiles=True):
    """Table 2's fixture runs, tagged with their network's layers; the CIFAR-10 net has two more conv layers
    than the MNIST one, and every run logs per-neuron rate percentiles at its last epoch."""
    runs, history = make_frames(points("table2"))
    cifar = runs.loc[runs["dataset"] == "cifar10", "run_id"]
    runs["layers"] = np.where(runs["dataset"] == "cifar10", CIFAR_LAYERS, "enc,conv1,fc1,vote")
    in_cifar = history["run_id"].isin(cifar)
    history["rate/conv2"] = np.where(in_cifar, 0.3, np.nan)
    history["rate/conv10"] = np.where(in_cifar, 0.4, np.nan)
    if percentiles:
        last = history["epoch"] == history.groupby("run_id")["epoch"].transform("max")
        seed = history["run_id"].map(runs.set_index("run_id")["seed"])
        for layer in ("enc", "conv1", "conv2", "conv10", "fc1"):
            has = history[f"rate/{layer}"].notna() & last
            for p in probes.PERCENTILES:
                value = p / 100 * history[f"rate/{layer}"] * 2 + 0.01 * seed  # per seed, so pooling shows
                history[f"rate_q/{layer}/p{p:02d}"] = np.where(has, value, np.nan)
    return runs, history


def _fig6(lay):
    return next(f for f in lay.figures if f.name == "fig6")


def test_fig6_panels_keep_their_own_network_order(points, make_frames):
    runs, history = fig6_frames(points, make_frames)
    lay = layout.get("table2")
    cells = assign(lay, runs)
    data = layer_distributions(_fig6(lay), lay, cells, history, runs)
    assert set(data) == {"mnist", "fashion-mnist", "cifar10"}
    assert data["cifar10"][0] == CIFAR_LAYERS.split(",")[:-1]  # vote logged no rate here
    assert data["mnist"][0] == ["enc", "conv1", "fc1"]
    fig = draw(_fig6(lay), lay, cells, runs, history, profile="cpu")
    drawn = {
        ax.get_title(): [t.get_text() for t in ax.get_xticklabels()] for ax in fig.axes if ax.get_title()
    }
    assert drawn[lay.columns.label("cifar10")] == data["cifar10"][0]
    assert drawn[lay.columns.label("mnist")] == data["mnist"][0]


def test_fig6_boxes_are_the_cells_per_neuron_percentiles_pooled_over_seeds(points, make_frames):
    runs, history = fig6_frames(points, make_frames)
    lay = layout.get("table2")
    cells = assign(lay, runs)
    layers, series = layer_distributions(_fig6(lay), lay, cells, history, runs)["cifar10"]
    ids = cells[("Ours (with KLIF)", "cifar10")].run_ids
    last = history[history["run_id"].isin(ids)].sort_values("epoch").groupby("run_id").tail(1)
    klif = series["Ours (with KLIF)"]
    for layer in layers:
        assert klif[layer].n == 3
        assert klif[layer].mean == pytest.approx(last[f"rate/{layer}"].mean())
        assert klif[layer].percentiles == pytest.approx(
            {p: last[f"rate_q/{layer}/p{p:02d}"].mean() for p in probes.PERCENTILES}
        )
    assert klif["conv1"].percentiles != series["Ours (with LIF)"]["conv1"].percentiles
    fig = draw(_fig6(lay), lay, cells, runs, history, profile="cpu")
    ax = next(a for a in fig.axes if a.get_title() == lay.columns.label("cifar10"))
    assert len(ax.patches) == 2 * len(layers)  # one box per layer, LIF and KLIF
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["LIF (n=3)", "KLIF (n=3)"]


def test_fig6_without_percentiles_shows_the_means_only(points, make_frames):
    runs, history = fig6_frames(points, make_frames, percentiles=False)
    lay = layout.get("table2")
    cells = assign(lay, runs)
    layers, series = layer_distributions(_fig6(lay), lay, cells, history, runs)["cifar10"]
    assert all(d.percentiles == {} and d.n == 3 for s in series.values() for d in s.values())
    fig = draw(_fig6(lay), lay, cells, runs, history, profile="cpu")
    ax = next(a for a in fig.axes if a.get_title() == lay.columns.label("cifar10"))
    assert not ax.patches and len(ax.get_lines()) == 2  # the mean dots of LIF and KLIF
