"""The reporter: MLflow runs -> pandas -> ``results/<profile>/<study>.{md,tex}`` and figures (PNG, PDF).

Public API::

    render(study, *, profile, tracking_uri, out_dir, command) -> list[Path]     # study, study file, or "all"
    render_frames(study, runs, history, *, profile, out_dir, command) -> list[Path]
    render_claims(frames, *, profile, out_dir, command) -> Path                   # claims.md
    load_runs(study, profile, tracking_uri) -> (runs, history)
    names() -> list[str]                                                          # the project's studies
    ref(study) -> str                                # what names a loaded study on the command line

``out_dir`` is the profile's folder, ``results/<profile>``; files land directly in it. Every study has a
table: declared in its file's ``[report]`` table (``declare.py``) or derived from its axes (``derive.py``);
what all tables share is in ``tables.toml``, the paper's numbers in ``paper.toml``, its comparative claims
in ``claims.toml`` (tested in ``claims.md`` by ``render("all")``); only this package writes ``results/``.
"""

from __future__ import annotations

from suite.report.cells import AmbiguousCell
from suite.report.layout import names, ref
from suite.report.render import render, render_claims, render_frames
from suite.report.runs import load_runs

__all__ = ["AmbiguousCell", "load_runs", "names", "ref", "render", "render_claims", "render_frames"]
