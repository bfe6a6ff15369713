"""Write a study's report: ``<out_dir>/<study>.md`` and ``.tex``, its declared figures and its training
curves (``<study>-curves``, :mod:`suite.report.curves`), each as PNG and PDF; for ``"all"``, also
``<out_dir>/claims.md``, the paper's claims tested on every study's runs.

``out_dir`` is the profile's folder, ``results/<profile>`` (the CLI and the runner pass it so).

Why two entry points: :func:`render` reads the tracking store; :func:`render_frames` takes the DataFrames
directly, so golden tests pin the output to a fixture without MLflow. Files are written only when their bytes
change, and nothing in them depends on the clock, so a rerun from the same store is byte-identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from suite.report import claims, claims_report, curves, figures, latex, layout, markdown, search_report
from suite.report.build import build
from suite.report.cells import assign
from suite.report.runs import load_runs

if TYPE_CHECKING:
    from suite.study.spec import Study

ALL = "all"
CLAIMS = "claims.md"


def _write(path: Path, data: str) -> Path:
    blob = data.encode("utf-8")
    if not path.exists() or path.read_bytes() != blob:
        path.write_bytes(blob)
    return path


def render_frames(
    study: str | Path | Study,
    runs: pd.DataFrame,
    history: pd.DataFrame,
    *,
    profile: str,
    out_dir: Path,
    command: str,
    draw_figures: bool = True,
) -> list[Path]:
    """Render ``study`` (a project study's name, a study file, a loaded study) from ``runs``/``history`` (the
    shapes :func:`suite.report.runs.load_runs` returns).

    Files land in ``out_dir`` (``results/<profile>``). Returns the written paths, tables first, then each
    declared figure's PNG and PDF, then the training curves'.
    """
    lay = layout.get(study)
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    report = build(lay, runs, history, profile=profile, command=command)
    paths = [
        _write(target / f"{lay.name}.md", markdown.render(report)),
        _write(target / f"{lay.name}.tex", latex.render(report)),
    ]
    if draw_figures:
        cells = assign(lay, runs)
        for spec in lay.figures:
            fig = figures.draw(spec, lay, cells, runs, history, profile=profile)
            paths += figures.save(fig, target, spec.name)
        fig = curves.draw(lay, cells, runs, history, profile=profile)
        paths += figures.save(fig, target, curves.name(lay))
    return paths


def render_claims(
    frames: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]], *, profile: str, out_dir: Path, command: str
) -> Path:
    """Write ``<out_dir>/claims.md`` from ``frames``: study -> (runs, history) as ``load_runs`` returns them.

    A study a claim names but ``frames`` lacks has no runs: its claims say "no runs", they are not dropped.
    """
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    text = claims_report.render(claims.declared(), frames, profile=profile, command=command)
    return _write(target / CLAIMS, text)


def render(
    study: str | Path | Study,
    *,
    profile: str,
    tracking_uri: str,
    out_dir: Path,
    command: str,
    optuna_storage: str | None = None,
) -> list[Path]:
    """Render ``study`` (or every project study and then claims.md, for ``"all"``) from the MLflow store.

    ``study``: a project study's name, a study file's path (a study of one's own, anywhere), or a loaded
    study; its runs are those of the experiment named after it. A search study's report
    (:mod:`suite.report.search_report`) also reads the Optuna storage, ``optuna_storage`` (default: beside
    an MLflow sqlite store).

    Only finished child runs of the study's experiment tagged with ``profile`` count; a cell without one
    prints "—". ``command`` is printed verbatim in the footer (the exact command that made the files).
    claims.md is written only for ``"all"``: its claims span studies, and each study's runs are loaded once.
    """
    studies = layout.all_names() if study == ALL else [study]
    if study == ALL:
        claims.declared()  # fail on a malformed claims.toml before touching the store
    paths: list[Path] = []
    frames = {}
    for each in studies:
        loaded = layout.load(each)
        if loaded.search is not None:  # a search study: its own tables (trials, retrains), no claims
            paths += search_report.render(
                loaded,
                profile=profile,
                tracking_uri=tracking_uri,
                out_dir=out_dir,
                command=command,
                storage_url=optuna_storage,
            )
            continue
        lay = layout.get(each)  # fail on an unknown study before touching the store
        frames[lay.name] = runs, history = load_runs(lay.name, profile, tracking_uri)
        paths += render_frames(each, runs, history, profile=profile, out_dir=out_dir, command=command)
    if study == ALL:
        paths.append(render_claims(frames, profile=profile, out_dir=out_dir, command=command))
    return paths
