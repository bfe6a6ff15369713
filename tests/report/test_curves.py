"""Every study's training curves: tested on the numbers drawn (panels, series), not on pixels."""

from __future__ import annotations

import numpy as np
import pytest

from suite.report import curves, layout
from suite.report.cells import assign
from suite.study import spec

OWN = """
name = "own"
title = "Neuron x slope"
seeds = [0, 1, 2]
[base]
dataset = "fashion-mnist"
[grid]
neuron = ["LIF", "KLIF"]
alpha = [1.0, 4.0]
[profiles.cpu]
"""


@pytest.fixture
def table2(points, make_frames):
    runs, history = make_frames(points("table2"))
    lay = layout.get("table2")
    return lay, assign(lay, runs), runs, history


def test_an_accuracy_panel_per_column_with_runs_then_k_for_the_arms_that_have_it(table2):
    panels = curves.panels(*table2)
    assert [p.title for p in panels] == [
        "test accuracy: MNIST",
        "test accuracy: Fashion-MNIST",
        "test accuracy: CIFAR-10",
        "k per layer: Ours (with KLIF), MNIST",  # LIF logs no k: no panel of its own
        "k per layer: Ours (with KLIF), Fashion-MNIST",
        "k per layer: Ours (with KLIF), CIFAR-10",
    ]
    assert [s.label for s in panels[0].series] == ["Ours (with LIF)", "Ours (with KLIF)"]
    assert [s.label for s in panels[3].series] == ["enc", "conv1", "fc1"]  # network order


def test_each_line_is_the_mean_and_std_over_the_cells_own_runs(table2):
    lay, cells, runs, history = table2
    mnist, fashion = curves.panels(*table2)[:2]
    klif = mnist.series[1]
    ids = cells[("Ours (with KLIF)", "mnist")].run_ids
    wide = history[history["run_id"].isin(ids)].pivot(index="epoch", columns="run_id", values="test_acc")
    assert klif.n == 3 and klif.epochs == (1, 2, 3)
    np.testing.assert_allclose(klif.mean, wide.mean(axis=1).to_numpy())
    np.testing.assert_allclose(klif.std, wide.std(axis=1, ddof=1).to_numpy())
    assert klif.index == 1  # the row's colour: the same arm has the same colour in every panel
    (only,) = fashion.series  # Fashion-MNIST: one KLIF run and no LIF run
    assert (only.label, only.n, only.std, only.index) == ("Ours (with KLIF)", 1, None, 1)


def test_k_per_layer_averages_the_arms_runs(table2):
    lay, cells, runs, history = table2
    k_mnist = curves.panels(*table2)[3]
    ids = cells[("Ours (with KLIF)", "mnist")].run_ids
    h = history[history["run_id"].isin(ids)]
    for s in k_mnist.series:
        expected = h.groupby("epoch")[f"k/{s.label}"].mean().to_numpy()
        np.testing.assert_allclose(s.mean, expected)
        assert s.n == 3 and k_mnist.ylabel == "k"


def test_the_figure_draws_exactly_the_panels(table2):
    panels = curves.panels(*table2)
    lay, cells, runs, history = table2
    fig = curves.draw(lay, cells, runs, history, profile="cpu")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == [p.title for p in panels]
    for ax, panel in zip(axes, panels):
        drawn = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
        assert list(drawn) == [f"{s.label} (n={s.n})" for s in panel.series]
        for s in panel.series:
            np.testing.assert_allclose(drawn[f"{s.label} (n={s.n})"], s.mean)
        assert len(ax.collections) == sum(s.std is not None for s in panel.series)  # a band where n > 1
    assert "band ± std" in fig.get_suptitle() and "profile cpu" in fig.get_suptitle()
    assert curves.name(lay) == "table2-curves"


def test_a_study_of_ones_own_gets_k_panels_for_its_klif_arms_only(tmp_path, make_frames, make_point):
    path = tmp_path / "own.toml"
    path.write_text(OWN)
    study = spec.load(path)
    pts = [
        make_point("own", c["dataset"], "mnist-net", c["neuron"], 3, c["seed"], 80.0, alpha=c["alpha"])
        for c in (p.config for p in spec.expand(study, "cpu"))
    ]
    runs, history = make_frames(pts)
    lay = layout.get(study)
    panels = curves.panels(lay, assign(lay, runs), runs, history)
    assert [p.title for p in panels] == [
        "test accuracy: alpha = 1",
        "test accuracy: alpha = 4",
        "k per layer: KLIF, alpha = 1",
        "k per layer: KLIF, alpha = 4",
    ]
    assert all(s.n == 3 for p in panels for s in p.series)


def test_no_runs_one_empty_panel(points, make_frames):
    from suite.report.runs import empty_history, empty_runs

    lay = layout.get("table4")
    runs, history = empty_runs(), empty_history()
    assert curves.panels(lay, assign(lay, runs), runs, history) == ()
    fig = curves.draw(lay, assign(lay, runs), runs, history, profile="cpu")
    assert [t.get_text() for ax in fig.axes for t in ax.texts] == ["no finished run"]
