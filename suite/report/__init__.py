"""The reporter: MLflow runs -> pandas -> ``results/<profile>/<study>.{md,tex}`` and figures (PNG, PDF).

Public API::

    render(study, *, profile, tracking_uri, out_dir, command) -> list[Path]     # study or "all"
    render_frames(study, runs, history, *, profile, out_dir, command) -> list[Path]
    render_claims(frames, *, profile, out_dir, command) -> Path                   # claims.md
    load_runs(study, profile, tracking_uri) -> (runs, history)
    names() -> list[str]                                                          # studies with a layout

``out_dir`` is the profile's folder, ``results/<profile>``; files land directly in it. Table layouts live in
``layouts.toml``, the paper's numbers in ``paper.toml``, its comparative claims in ``claims.toml`` (tested in
``claims.md`` by ``render("all")``); only this package writes ``results/``.
"""

from __future__ import annotations

from suite.report.cells import AmbiguousCell
from suite.report.layout import names
from suite.report.render import render, render_claims, render_frames
from suite.report.runs import load_runs

__all__ = ["AmbiguousCell", "load_runs", "names", "render", "render_claims", "render_frames"]
