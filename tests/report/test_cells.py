"""Cells, replicates and pairing: which runs a number comes from, and the paired interval end to end."""

from __future__ import annotations

import numpy as np
import pytest

from suite.report import layout
from suite.report.build import build
from suite.report.cells import AmbiguousCell, assign, paired_diff, per_run, select
from suite.report.fmt import MARKDOWN, cell
from suite.report.model import Diff


@pytest.fixture
def t2(points, make_frames):
    return make_frames(points("table2"))


def _set_best(runs, neuron, dataset, values):
    rows = runs.index[(runs["neuron"] == neuron) & (runs["dataset"] == dataset) & (runs["encoder"] == 3)]
    runs.loc[rows, "best_test_acc"] = values


def test_select_matches_typed_and_string_values(t2):
    runs, _ = t2
    assert len(select(runs, {"neuron": "KLIF", "encoder": "3", "dataset": "mnist"})) == 3
    assert len(select(runs, {"neuron": "KLIF", "encoder": 3.0, "dataset": "mnist"})) == 3
    assert len(select(runs, {"neuron": "KLIF", "no_such_key": 1})) == 0


def test_cells_hold_only_their_runs(t2):
    runs, _ = t2
    cells = assign(layout.get("table2"), runs)
    mnist_klif = cells[("Ours (with KLIF)", "mnist")]
    assert list(mnist_klif.runs["seed"]) == [0, 1, 2]
    assert set(mnist_klif.runs["encoder"]) == {3}  # the encoder-1 run is not a Table 2 point
    assert len(cells[("Ours (with LIF)", "fashion-mnist")].runs) == 0
    assert len(cells[("Ours (with LIF)", "dvs-gesture")].runs) == 0


def test_a_cell_that_mixes_settings_is_refused(t2):
    runs, _ = t2
    runs.loc[runs.index[0], "lr"] = 0.01  # LIF mnist seed 0 now differs in lr from its replicates
    with pytest.raises(AmbiguousCell, match="lr"):
        assign(layout.get("table2"), runs)


def test_a_repeated_seed_is_refused(t2):
    runs, _ = t2
    runs.loc[runs.index[2], "seed"] = 0  # LIF mnist seed 1 -> a second seed 0
    with pytest.raises(AmbiguousCell, match="same settings and seed"):
        assign(layout.get("table2"), runs)


def _paired_text(runs, history, column="mnist", block="best"):
    report = build(layout.get("table2"), runs, history, profile="cpu", command="x")
    sec = next(s for s in report.sections if s.key == f"{block}-paired")
    idx = layout.get("table2").columns.values.index(column)
    c = sec.rows[0][1 + idx]
    assert isinstance(c, Diff)
    return cell(c, MARKDOWN)


def test_paired_interval_hand_computed(t2):
    runs, history = t2
    _set_best(runs, "KLIF", "mnist", [90.0, 91.0, 93.0])  # seeds 0, 1, 2
    _set_best(runs, "LIF", "mnist", [88.0, 90.0, 90.0])
    # diffs 2, 1, 3: mean 2, s 1, t(0.975, 2) = 4.3027 -> 2 ± 2.4841
    assert _paired_text(runs, history) == "+2.00 [-0.48, +4.48] (n=3)"


def test_pairs_are_matched_by_seed_not_by_position(t2):
    runs, history = t2
    _set_best(runs, "KLIF", "mnist", [90.0, 91.0, 93.0])
    _set_best(runs, "LIF", "mnist", [88.0, 90.0, 90.0])
    runs = runs.drop(
        runs.index[(runs["neuron"] == "LIF") & (runs["dataset"] == "mnist") & (runs["seed"] == 1)]
    )
    # pairs: seed 0 (diff 2) and seed 2 (diff 3): mean 2.5, s = 0.7071, t(0.975, 1) = 12.706 -> ± 6.353
    assert _paired_text(runs, history) == "+2.50 [-3.85, +8.85] (n=2)"
    # one pair only: no interval; no pair at all: "—"
    assert _paired_text(runs, history, "fashion-mnist") == "—"


def test_paired_diff_returns_the_pairs_it_used(t2):
    runs, history = t2
    lay = layout.get("table2")
    cells = assign(lay, runs)
    metric = per_run(runs, history)["best_acc"]
    diff, used = paired_diff(lay, lay.comparisons[0], "cifar10", cells, runs, metric)
    seeds = {rid: s for rid, s in zip(runs["run_id"], runs["seed"])}
    assert [(seeds[a], seeds[b]) for a, b in used] == [(0, 0), (1, 1), (2, 2)]
    assert diff.n == 3


def test_per_run_falls_back_to_the_runs_own_history(t2):
    runs, history = t2
    rid = runs["run_id"].iloc[0]
    runs.loc[runs.index[0], ["best_test_acc", "final_test_acc"]] = np.nan
    m = per_run(runs, history).loc[rid]
    h = history[history["run_id"] == rid]
    assert m["best_acc"] == h["test_acc"].max() and m["final_acc"] == h["test_acc"].iloc[-1]
    assert m["synops"] == h["synops"].iloc[-1] and m["final_epoch"] == 3


def test_where_and_how_fast_settings_are_ignored_only_because_the_layout_says_so(t2):
    import dataclasses

    runs, _ = t2
    assert len(assign(layout.get("table2"), runs)[("Ours (with LIF)", "mnist")].runs) == 3
    strict = dataclasses.replace(layout.get("table2"), pairing_ignore=())
    with pytest.raises(AmbiguousCell, match="data_root"):
        assign(strict, runs)
