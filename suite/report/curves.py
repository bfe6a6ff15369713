"""Every study's training curves: test accuracy per epoch of each arm, and k per layer of the arms with k.

Why for every study, drawn with its table: a best-over-epochs number hides whether an arm was still
learning, diverged or peaked early, and a KLIF arm's k says whether the learned slope moved at all; a user's
own ablation deserves the same look as Fig. 4 and Fig. 5 without declaring them. The arms are the table's
rows and the panels its columns, and each line averages exactly the runs of one table cell
(:func:`suite.report.cells.assign`), so a curve and a cell never disagree about their runs.

What is drawn is computed first (:func:`panels`, tested on its numbers), then drawn (:func:`draw`): per
epoch the mean over the cell's seeds, a band of ± one sample standard deviation where more than one run has
the epoch, n (runs) in the legend. A k panel is drawn for each (arm, column) whose runs logged ``k/<layer>``
(neurons with a scaling factor: KLIF and its variants), one line per layer in network order.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from suite.report.cells import CellRuns
from suite.report.figures import RC, _empty, _epochs_axis, _grid, _layers
from suite.report.layout import TableLayout

ACCURACY = "test_acc"
K_PREFIX = "k/"
STYLES = ("-", "--", ":", "-.")
SUFFIX = "-curves"


@dataclass(frozen=True)
class Series:
    """One line: the mean per epoch over ``n`` runs, and their sample std (None: one run, no band)."""

    label: str
    index: int  # which arm (or layer) it is: its colour and line style
    epochs: tuple[int, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...] | None
    n: int


@dataclass(frozen=True)
class Panel:
    title: str
    ylabel: str
    series: tuple[Series, ...]


def name(lay: TableLayout) -> str:
    """The figure's file name (without suffix): ``<study>-curves``."""
    return lay.name + SUFFIX


def _history(cell: CellRuns, history: pd.DataFrame) -> pd.DataFrame:
    return history[history["run_id"].isin(cell.run_ids)] if "run_id" in history else history.iloc[0:0]


def _series(h: pd.DataFrame, metric: str, label: str, index: int) -> Series | None:
    if metric not in h or not h[metric].notna().any():
        return None
    wide = h.pivot_table(index="epoch", columns="run_id", values=metric, aggfunc="mean").sort_index()
    mean = wide.mean(axis=1)
    std = tuple(float(s) for s in wide.std(axis=1, ddof=1)) if wide.shape[1] > 1 else None
    epochs = tuple(int(e) for e in mean.index)
    return Series(label, index, epochs, tuple(float(m) for m in mean), std, int(wide.shape[1]))


def panels(lay: TableLayout, cells: dict, runs: pd.DataFrame, history: pd.DataFrame) -> tuple[Panel, ...]:
    """What :func:`draw` plots: an accuracy panel per column with runs, then a k panel per (arm, column)."""
    accuracy, traces = [], []
    for value, label in zip(lay.columns.values, lay.columns.labels):
        lines = []
        for i, row in enumerate(lay.rows):
            line = _series(_history(cells[(row.label, value)], history), ACCURACY, row.label, i)
            lines += [line] if line else []
        if lines:
            accuracy.append(Panel(f"test accuracy: {label}", "test accuracy (%)", tuple(lines)))
    for row in lay.rows:
        for value, label in zip(lay.columns.values, lay.columns.labels):
            h = _history(cells[(row.label, value)], history)
            layers = _layers(h, runs, K_PREFIX)
            lines = [_series(h, K_PREFIX + layer, layer, j) for j, layer in enumerate(layers)]
            if any(lines):
                traces.append(Panel(f"k per layer: {row.label}, {label}", "k", tuple(s for s in lines if s)))
    return tuple(accuracy + traces)


def _plot(ax, s: Series) -> None:
    color, ls = f"C{s.index % 10}", STYLES[s.index // 10 % len(STYLES)]
    ax.plot(s.epochs, s.mean, color=color, ls=ls, lw=1.2, marker="." if len(s.epochs) == 1 else None,
            label=f"{s.label} (n={s.n})")  # fmt: skip
    if s.std is not None:
        lo = [m - d for m, d in zip(s.mean, s.std)]
        hi = [m + d for m, d in zip(s.mean, s.std)]
        ax.fill_between(s.epochs, lo, hi, color=color, alpha=0.15, lw=0)


def draw(
    lay: TableLayout, cells: dict, runs: pd.DataFrame, history: pd.DataFrame, *, profile: str
) -> MplFigure:
    title = f"{lay.title}\ntraining curves (profile {profile}): mean over seeds, band ± std where n > 1"
    drawn = panels(lay, cells, runs, history)
    with matplotlib.rc_context(RC):
        fig, axes = _grid(max(1, len(drawn)), title)
        if not drawn:
            _empty(axes[0])
        for ax, panel in zip(axes, drawn):
            ax.set_title(panel.title)
            for s in panel.series:
                _plot(ax, s)
            _epochs_axis(ax, panel.ylabel)
            ax.legend(loc="best", ncols=2 if len(panel.series) > 6 else 1)
    return fig
