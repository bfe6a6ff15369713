"""Figures 4-6 from a study's runs: accuracy curves, per-layer traces (k) and per-layer distributions (firing
rate).

Why kinds, not figures: a figure in a study's ``[report.figures]`` names a kind and its options (metric,
prefix, rows); the drawing code knows nothing about Table 2. Every line is the mean over the seeds of exactly the runs that
fill the same table cell (:func:`suite.report.cells.assign`), ± std where n > 1, n in the legend.
Files are byte-identical on rerun: no pyplot state, fixed rc settings, and no dates or versions in metadata.

Layer order: network (module) order, per panel. It comes from the ``suite.layers`` tag (the spiking layers
in forward order, comma-separated) of the runs drawn in that panel only: a panel never borrows another
network's order (merged over every run, the CIFAR-10 panel could list conv2..conv6 after the MNIST net's
``vote``). Runs logged before the tag existed fall back to the suite's naming convention, ``enc`` first,
``vote`` last, the rest in natural order (conv2 before conv10, layer1.0.sn1 before layer1.0.sn2), which
equals the module order of every registered network (tested against the registry); never a plain
alphabetical sort.

Fig. 6 is what the paper draws: "the distribution of firing rate for neurons in each layer", LIF and KLIF
side by side, at the last epoch. Each run logs, at its last epoch, five percentiles of its per-neuron rates
per layer (``rate_q/<layer>/p05`` .. ``p95``, :meth:`suite.models.probes.Probe.rate_percentiles`); a box
spans the quartiles, whiskers the 5th and 95th percentiles, a line the median, a dot the mean (``rate/``).
Seeds are pooled by averaging each percentile over the cell's runs (a quantile average; the exact pooled
distribution would need every neuron). A run without percentiles (logged before them) still shows its mean.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
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
BOX_PERCENTILES = {5, 25, 50, 75, 95}  # what a Fig. 6 box needs (suite.models.probes.PERCENTILES)


def natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def convention_key(name: str) -> tuple:
    """Network order from a layer's name alone: ``enc`` first, ``vote`` last, natural order in between."""
    return (0 if name == "enc" else 2 if name == "vote" else 1, natural_key(name))


def network_order(tags) -> list[str]:
    """The layers of the ``suite.layers`` tags, each tag's forward order kept (a layer one tag lacks is
    placed right after its predecessor in the tag that has it)."""
    order: list[str] = []
    for tag in tags:
        names = [n for n in str(tag).split(",") if n]
        for i, n in enumerate(names):
            if n not in order:
                after = next((order.index(m) for m in reversed(names[:i]) if m in order), -1)
                order.insert(after + 1, n)
    return order


def _layers(h: pd.DataFrame, runs: pd.DataFrame, *prefixes: str) -> list[str]:
    """Layer names with any value in ``h`` under a prefix (``<prefix><layer>`` or ``<prefix><layer>/...``),
    in network order: that of the ``h`` runs' own ``suite.layers`` tags, else by :func:`convention_key`."""
    present: dict[str, None] = {}
    for c in h.columns:
        for prefix in prefixes:
            if c.startswith(prefix) and h[c].notna().any():
                present[c[len(prefix) :].split("/")[0]] = None
    if "run_id" in h and "run_id" in runs:
        runs = runs[runs["run_id"].isin(h["run_id"])]
    order = network_order(runs["layers"].dropna()) if "layers" in runs else []
    rank = {n: i for i, n in enumerate(order)}
    return sorted(present, key=lambda n: (rank.get(n, len(rank)), convention_key(n)))


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


@dataclass
class LayerDistribution:
    """One layer of one cell at the last epoch, over the cell's runs: mean rate and pooled percentiles."""

    mean: float = float("nan")
    percentiles: dict[int, float] = field(default_factory=dict)  # {5: .., 25: .., 50: .., 75: .., 95: ..}
    n: int = 0  # runs with a value


def _percentile_columns(h: pd.DataFrame, prefix: str, layer: str) -> dict[int, str]:
    head = f"{prefix}{layer}/p"
    return {int(c[len(head) :]): c for c in h.columns if c.startswith(head) and c[len(head) :].isdigit()}


def layer_distributions(spec: Figure, lay: TableLayout, cells, history, runs) -> dict:
    """What Fig. 6 draws: ``{panel value: (layers in network order, {row: {layer: LayerDistribution}})}``."""
    prefix, qprefix = spec.options["prefix"], spec.options.get("quantiles", "rate_q/")

    def has(h):
        return any(c.startswith((prefix, qprefix)) and h[c].notna().any() for c in h.columns)

    out = {}
    for value in _panels(spec, lay, cells, history, has):
        finals = {row: _final(_history(cells[(row, value)], history)) for row in spec.rows}
        layers = _layers(pd.concat(list(finals.values())), runs, prefix, qprefix)
        series = {}
        for row, last in finals.items():
            per_layer = {}
            for layer in layers:
                d = LayerDistribution()
                if prefix + layer in last and last[prefix + layer].notna().any():
                    d.mean, d.n = float(last[prefix + layer].mean()), int(last[prefix + layer].notna().sum())
                cols = _percentile_columns(last, qprefix, layer)
                pct = last[list(cols.values())].dropna() if cols else pd.DataFrame()
                if len(pct):
                    d.percentiles = {p: float(pct[c].mean()) for p, c in sorted(cols.items())}
                    d.n = max(d.n, len(pct))
                per_layer[layer] = d
            series[row] = per_layer
        out[value] = (layers, series)
    return out


def _layer_distributions(spec: Figure, lay: TableLayout, cells, history, runs, title) -> MplFigure:
    data = layer_distributions(spec, lay, cells, history, runs)
    fig, axes = _grid(max(1, len(data)), title)
    if not data:
        _empty(axes[0], f"no finished run logged {spec.options['prefix']}<layer>")
    width = 0.8 / max(1, len(spec.rows))
    for ax, (value, (layers, series)) in zip(axes, data.items()):
        ax.set_title(lay.columns.label(value))
        x = np.arange(len(layers))
        handles = []
        for i, (row, name) in enumerate(zip(spec.rows, _legend(spec))):
            color, pos = f"C{i}", x + (i - (len(spec.rows) - 1) / 2) * width
            dists = [series[row][layer] for layer in layers]
            boxes = [(p, d) for p, d in zip(pos, dists) if BOX_PERCENTILES <= d.percentiles.keys()]
            if boxes:
                ax.bxp(
                    [_box_stats(d) for _, d in boxes],
                    positions=[p for p, _ in boxes],
                    widths=width * 0.85,
                    showfliers=False,
                    patch_artist=True,
                    boxprops={"facecolor": color, "alpha": 0.45, "edgecolor": color},
                    medianprops={"color": color},
                    whiskerprops={"color": color},
                    capprops={"color": color},
                    manage_ticks=False,
                )
            means = [(p, d.mean) for p, d in zip(pos, dists) if not math.isnan(d.mean)]
            if means:
                ax.plot(*zip(*means), "o", color=color, ms=3, mec="black", mew=0.4)
            n = max((d.n for d in dists), default=0)
            if boxes:
                handles.append(Patch(facecolor=color, alpha=0.45, edgecolor=color, label=f"{name} (n={n})"))
            elif n:  # runs logged before the percentiles: their means only
                handles.append(
                    Line2D([], [], ls="", marker="o", color=color, mec="black", label=f"{name} (n={n})")
                )
        ax.set_xticks(x, layers, rotation=45, ha="right")
        ax.set_xlim(-0.6, len(layers) - 0.4)
        ax.set_ylabel(spec.options.get("ylabel", spec.options["prefix"]))
        ax.set_ylim(bottom=0.0)
        ax.legend(handles=handles, loc="upper left")
    return fig


def _box_stats(d: LayerDistribution) -> dict:
    q = d.percentiles
    return {"whislo": q[5], "q1": q[25], "med": q[50], "q3": q[75], "whishi": q[95], "fliers": []}


SUMMARY = {  # what a figure's marks summarise, in its title
    "layer_distributions": "the layer's neurons: box 25-75%, whiskers 5-95%, line median, dot mean; "
    "each percentile averaged over seeds"
}
KINDS: dict[str, Callable[..., MplFigure]] = {
    "curves": _curves,
    "layer_traces": _layer_traces,
    "layer_distributions": _layer_distributions,
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
    if spec.kind in SUMMARY:
        title = f"{spec.title} (profile {profile})\n{SUMMARY[spec.kind]}"
    with matplotlib.rc_context(RC):
        return kind(spec, lay, cells, history, runs, title)


def save(fig: MplFigure, out_dir: Path, name: str) -> list[Path]:
    """``name``.png and ``name``.pdf, byte-identical on rerun (no timestamps, no version strings)."""
    png, pdf = out_dir / f"{name}.png", out_dir / f"{name}.pdf"
    with matplotlib.rc_context(RC):
        fig.savefig(png, format="png", metadata=PNG_META)
        fig.savefig(pdf, format="pdf", metadata=PDF_META)
    return [png, pdf]
