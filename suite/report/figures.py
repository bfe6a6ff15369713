"""Figures 4-6 from a study's runs: accuracy curves, per-layer traces (k) and per-layer bars (firing rate).

Why kinds, not figures: a figure in ``layouts.toml`` names a kind and its options (metric, prefix, rows);
the drawing code knows nothing about Table 2. Every line and bar is the mean over the seeds of exactly the
runs that fill the same table cell (:func:`suite.report.cells.assign`), ± std where n > 1, n in the legend.
Files are byte-identical on rerun: no pyplot state, fixed rc settings, and no dates or versions in metadata.

Layer order: the forward order from the runs' ``suite.layers`` tag (comma-separated) where it was logged,
else a natural sort of the layer names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import MaxNLocator

from suite.report.cells import CellRuns
from suite.report.layout import Figure, TableLayout

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "legend.fontsize": 7,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "pdf.fonttype": 42,
    "path.simplify": False,
}
PNG_META = {"Software": None}
PDF_META = {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None}
PANEL_COLUMNS = 3


def natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _layers(h: pd.DataFrame, runs: pd.DataFrame, prefix: str) -> list[str]:
    """Layer names (prefix stripped) with any value in ``h``, in forward order where the runs logged it."""
    present = [c[len(prefix) :] for c in h.columns if c.startswith(prefix) and h[c].notna().any()]
    order: list[str] = []
    if "layers" in runs:
        for tag in runs["layers"].dropna():
            order += [n for n in str(tag).split(",") if n and n not in order]
    rank = {n: i for i, n in enumerate(order)}
    return sorted(present, key=lambda n: (rank.get(n, len(rank)), natural_key(n)))


def _history(cell: CellRuns, history: pd.DataFrame) -> pd.DataFrame:
    return history[history["run_id"].isin(cell.run_ids)]


def _grid(n: int, title: str) -> tuple[MplFigure, list]:
    cols = max(1, min(PANEL_COLUMNS, n))
    rows = max(1, math.ceil(n / cols))
    fig = MplFigure(figsize=(3.6 * cols, 2.8 * rows + 0.5), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel())
    for ax in axes[n:]:
        ax.set_axis_off()
    fig.suptitle(title)
    return fig, axes[:n]


def _empty(ax, text: str = "no finished run") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _epochs_axis(ax, ylabel: str) -> None:
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _mean_band(ax, wide: pd.DataFrame, color: str, label: str, ls: str = "-") -> None:
    """Mean over runs (columns) per epoch, with a ± std band where more than one run has the epoch."""
    wide = wide.sort_index()
    mean, std = wide.mean(axis=1), wide.std(axis=1, ddof=1)
    ax.plot(mean.index, mean.to_numpy(), color=color, ls=ls, lw=1.2, label=label)
    if wide.shape[1] > 1:
        ax.fill_between(
            mean.index, (mean - std).to_numpy(), (mean + std).to_numpy(), color=color, alpha=0.15, lw=0
        )


def _legend(spec: Figure) -> list[str]:
    names = spec.options.get("legend")
    return list(names) if names else list(spec.rows)


def _panels(spec: Figure, lay: TableLayout, cells, history: pd.DataFrame, has) -> list:
    if spec.options.get("all_columns"):
        return list(lay.columns.values)
    return [v for v in lay.columns.values if any(has(_history(cells[(r, v)], history)) for r in spec.rows)]


def _curves(spec: Figure, lay: TableLayout, cells, history, runs, title) -> MplFigure:
    metric = spec.options["metric"]

    def has(h):
        return metric in h and h[metric].notna().any()

    panels = _panels(spec, lay, cells, history, has)
    fig, axes = _grid(max(1, len(panels)), title)
    if not panels:
        _empty(axes[0])
    for ax, value in zip(axes, panels):
        ax.set_title(lay.columns.label(value))
        drew = False
        for i, (row, name) in enumerate(zip(spec.rows, _legend(spec))):
            h = _history(cells[(row, value)], history)
            if not has(h):
                continue
            wide = h.pivot_table(index="epoch", columns="run_id", values=metric, aggfunc="mean")
            _mean_band(ax, wide, f"C{i}", f"{name} (n={wide.shape[1]})")
            drew = True
        if drew:
            _epochs_axis(ax, spec.options.get("ylabel", metric))
            ax.legend(loc="lower right")
        else:
            _empty(ax)
    return fig


def _per_layer_panels(spec: Figure, lay: TableLayout, cells, history, title):
    """The panels (columns) whose runs logged ``<prefix><layer>`` metrics, and the figure to draw them in."""
    prefix = spec.options["prefix"]

    def has(h):
        return any(c.startswith(prefix) and h[c].notna().any() for c in h.columns)

    panels = _panels(spec, lay, cells, history, has)
    fig, axes = _grid(max(1, len(panels)), title)
    if not panels:
        _empty(axes[0], f"no finished run logged {prefix}<layer>")
    return prefix, panels, fig, axes


def _layer_traces(spec: Figure, lay: TableLayout, cells, history, runs, title) -> MplFigure:
    prefix, panels, fig, axes = _per_layer_panels(spec, lay, cells, history, title)
    styles = ("-", "--", ":", "-.")
    for ax, value in zip(axes, panels):
        ax.set_title(lay.columns.label(value))
        for j, (row, name) in enumerate(zip(spec.rows, _legend(spec))):
            h = _history(cells[(row, value)], history)
            for i, layer in enumerate(_layers(h, runs, prefix)):
                wide = h.pivot_table(index="epoch", columns="run_id", values=prefix + layer, aggfunc="mean")
                label = layer if len(spec.rows) == 1 else f"{name} {layer}"
                _mean_band(ax, wide, f"C{i % 10}", f"{label} (n={wide.shape[1]})", styles[j % len(styles)])
        _epochs_axis(ax, spec.options.get("ylabel", prefix))
        ax.legend(ncols=2, loc="best")
    return fig


def _final(h: pd.DataFrame) -> pd.DataFrame:
    return h.sort_values(["run_id", "epoch"]).groupby("run_id").tail(1)


def _layer_bars(spec: Figure, lay: TableLayout, cells, history, runs, title) -> MplFigure:
    prefix, panels, fig, axes = _per_layer_panels(spec, lay, cells, history, title)
    width = 0.8 / max(1, len(spec.rows))
    for ax, value in zip(axes, panels):
        ax.set_title(lay.columns.label(value))
        frames = {row: _final(_history(cells[(row, value)], history)) for row in spec.rows}
        layers = _layers(pd.concat(list(frames.values())), runs, prefix)
        x = np.arange(len(layers))
        for i, (row, name) in enumerate(zip(spec.rows, _legend(spec))):
            last = frames[row]
            cols = [prefix + layer for layer in layers]
            vals = last.reindex(columns=cols)
            mean, std = vals.mean(axis=0).to_numpy(), vals.std(axis=0, ddof=1).to_numpy()
            if not len(last) or np.all(np.isnan(mean)):
                continue
            err = std if len(last) > 1 else None
            ax.bar(
                x + (i - (len(spec.rows) - 1) / 2) * width,
                np.nan_to_num(mean),
                width,
                yerr=err,
                color=f"C{i}",
                label=f"{name} (n={len(last)})",
                capsize=2,
            )
        ax.set_xticks(x, layers, rotation=45, ha="right")
        ax.set_ylabel(spec.options.get("ylabel", prefix))
        ax.legend()
    return fig


KINDS: dict[str, Callable[..., MplFigure]] = {
    "curves": _curves,
    "layer_traces": _layer_traces,
    "layer_bars": _layer_bars,
}


def draw(
    spec: Figure, lay: TableLayout, cells: dict, runs: pd.DataFrame, history: pd.DataFrame, *, profile: str
):
    try:
        kind = KINDS[spec.kind]
    except KeyError:
        raise ValueError(
            f"figure {spec.name}: unknown kind {spec.kind!r}; kinds: {', '.join(KINDS)}"
        ) from None
    title = f"{spec.title} (profile {profile}; mean ± std over seeds)"
    with matplotlib.rc_context(RC):
        return kind(spec, lay, cells, history, runs, title)


def save(fig: MplFigure, out_dir: Path, name: str) -> list[Path]:
    """``name``.png and ``name``.pdf, byte-identical on rerun (no timestamps, no version strings)."""
    png, pdf = out_dir / f"{name}.png", out_dir / f"{name}.pdf"
    with matplotlib.rc_context(RC):
        fig.savefig(png, format="png", metadata=PNG_META)
        fig.savefig(pdf, format="pdf", metadata=PDF_META)
    return [png, pdf]
