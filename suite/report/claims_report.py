"""Claims + each study's runs -> ``claims.md``: every claim's quoted sentence beside its measured difference.

Why built from the tables' own parts: a claim is turned into a two-row table of its study (rows a and b, the
study table's columns and scope), so its runs are chosen by :func:`suite.report.cells.assign`, paired and
interval-estimated by :func:`suite.report.cells.paired_diff`, and its provenance told by
:mod:`suite.report.footer`, exactly as for the tables. A number in claims.md is therefore always the number
in the study's paired-difference table, never a second computation of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from suite.report import footer, layout
from suite.report.build import MEASURED_NOTE, PAIRED_NOTE
from suite.report.cells import CellRuns, assign, paired_diff, per_run, summary
from suite.report.claims import METRICS, VERDICTS, Claim, Claims, verdict
from suite.report.fmt import MARKDOWN
from suite.report.layout import Columns, Comparison, Row, TableLayout
from suite.report.markdown import table
from suite.report.model import Diff, Measured, Section, Text
from suite.report.runs import canonical, empty_history, empty_runs
from suite.report.stats import PairedDiff, Summary

TITLE = "Claims of the paper, tested on the measured runs"
INTRO = (
    "Each comparative claim of the paper, quoted verbatim, beside the measured paired difference a - b "
    "in percentage points and a verdict."
)
VERDICT_NOTE = (
    "Verdict: supported when the 95% interval of a - b lies entirely inside the claimed region (a - b > 0 "
    "for a > b), contradicted when entirely outside it, not detected at this scale when it crosses the "
    "region's boundary (0, or the margin); one pair gives no interval; no runs: no pair exists (the study "
    "did not run that case at this profile, or a dataset was skipped)."
)
SOURCE_NOTE = "Quotes are the paper's words; section headings and line numbers refer to the stored text {}."
SUMMARY_HEADER = (
    "Claim",
    "Study",
    "Claimed",
    "Supported",
    "Not detected",
    "Contradicted",
    "n = 1",
    "No runs",
)


@dataclass(frozen=True)
class Case:
    """One column of the study's table (a dataset, a network): the claim tested on its runs."""

    label: str
    a: Summary | None
    b: Summary | None
    diff: PairedDiff | None
    verdict: str
    pairs: tuple[tuple[object, str, str], ...]  # (seed, run of a, run of b) behind the difference


@dataclass(frozen=True)
class Tested:
    claim: Claim
    arms: TableLayout
    cells: dict[tuple[str, object], CellRuns]
    cases: tuple[Case, ...]


def _settings(where: Mapping) -> str:
    return ", ".join(f"{k} = {canonical(v)}" for k, v in where.items())


def arms(claim: Claim) -> TableLayout:
    """The claim as a two-row table of its study: rows a and b within the study table's scope and columns."""
    study = layout.get(claim.study)
    scope = {**study.where, **claim.where}
    columns = study.columns
    if columns.key in scope:  # the claim is about one column only
        value = scope.pop(columns.key)
        columns = Columns(columns.key, (value,), (columns.label(value),))
    a, b = f"a: {_settings(claim.a)}", f"b: {_settings(claim.b)}"
    return TableLayout(
        name=f"claim {claim.id}",
        title=claim.title,
        columns=columns,
        row_header="Arm",
        rows=(Row(a, dict(claim.a)), Row(b, dict(claim.b))),
        where=scope,
        comparisons=(Comparison(a, b),),
        pairing_ignore=study.pairing_ignore,
    )


def evaluate(claim: Claim, runs: pd.DataFrame, history: pd.DataFrame) -> Tested:
    """The claim on one study's runs (``load_runs``' shapes): per column, a, b, a - b and the verdict."""
    lay = arms(claim)
    cells = assign(lay, runs)
    metric = per_run(runs, history)[claim.metric]
    seed = dict(zip(runs["run_id"], runs["seed"])) if "seed" in runs else {}
    comp = lay.comparisons[0]
    cases = []
    for value, label in zip(lay.columns.values, lay.columns.labels):
        diff, used = paired_diff(lay, comp, value, cells, runs, metric)
        cases.append(
            Case(
                label,
                summary(cells[(comp.a, value)], metric),
                summary(cells[(comp.b, value)], metric),
                diff,
                verdict(diff, claim.region()),
                tuple((canonical(seed.get(ra)), ra, rb) for ra, rb in used),
            )
        )
    return Tested(claim, lay, cells, tuple(cases))


def evaluate_all(
    claims: Claims, frames: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]]
) -> tuple[Tested, ...]:
    """Every claim on its study's (runs, history); a study missing from ``frames`` has no runs."""
    empty = (empty_runs(), empty_history())
    return tuple(evaluate(c, *frames.get(c.study, empty)) for c in claims.claims)


def _summary(tested: tuple[Tested, ...]) -> Section:
    rows = []
    for i, t in enumerate(tested, 1):
        counts = [sum(c.verdict == v for c in t.cases) for v in VERDICTS]
        rows.append(
            (
                Text(f"{i}. {t.claim.title}"),
                Text(t.claim.study),
                Text(t.claim.statement()),
                *(Text(str(n) if n else "") for n in counts),
            )
        )
    return Section("summary", "Summary: verdicts per claim (cases counted)", SUMMARY_HEADER, tuple(rows))


def _cases(t: Tested) -> Section:
    head = (t.arms.columns.key.capitalize(), *(r.label for r in t.arms.rows), "a - b [95% CI] (n)", "Verdict")
    rows = tuple(
        (Text(c.label), Measured(c.a, "acc"), Measured(c.b, "acc"), Diff(c.diff), Text(c.verdict))
        for c in t.cases
    )
    return Section(t.claim.id, t.claim.title, head, rows)


def _claim(i: int, t: Tested) -> list[str]:
    c, esc = t.claim, MARKDOWN.escape
    scope = _settings(t.arms.where)
    per = t.arms.columns.key + ("" if len(t.cases) > 1 else f" = {canonical(t.arms.columns.values[0])}")
    lines = [
        f"## {i}. {esc(c.title)} ({c.id})",
        "",
        f"> {esc(c.quote)}",
        "",
        f"Sec. {esc(c.section)}, line {c.line}.",
        "",
        f"- Study: {c.study} ({esc(layout.get(c.study).title)})",
        f"- Arms: a = {esc(_settings(c.a))}; b = {esc(_settings(c.b))}"
        + (f"; both within {esc(scope)}" if scope else ""),
        f"- Claimed: {esc(c.statement())}, in {METRICS[c.metric]}, per {per}",
    ]
    lines += [f"- {esc(c.note)}"] if c.note else []
    return [*lines, "", *table(_cases(t)), ""]


def _provenance(
    claims: Claims,
    tested: tuple[Tested, ...],
    frames: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
    *,
    profile: str,
    command: str,
) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """The tables' footer per study (its runs behind the claims), with the items every study shares once."""
    per_study = {}
    for study in claims.studies():
        cells = {
            (f"{t.claim.id}/{row}", col): cell
            for t in tested
            if t.claim.study == study
            for (row, col), cell in t.cells.items()
        }
        runs = frames.get(study, (empty_runs(),))[0]
        per_study[study] = footer.items(layout.get(study), cells, runs, profile=profile, command=command)
    first = next(iter(per_study.values()), ())
    common = [item for item in first if all(item in items for items in per_study.values())]
    return common, {s: [i for i in items if i not in common] for s, items in per_study.items()}


def _pairs(tested: tuple[Tested, ...]) -> list[str]:
    lines = []
    for t in tested:
        for c in t.cases:
            if c.pairs:
                used = ", ".join(f"seed {s}: {ra} - {rb}" for s, ra, rb in c.pairs)
                lines.append(f"{t.claim.id} / {c.label}: {used}")
    return lines


def render(
    claims: Claims,
    frames: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
    *,
    profile: str,
    command: str,
) -> str:
    """claims.md from ``frames``: study -> (runs, history), the shapes ``load_runs`` returns."""
    tested = evaluate_all(claims, frames)
    esc = MARKDOWN.escape
    out = [f"# {TITLE}", "", INTRO, ""]
    out += [f"- {esc(n)}" for n in (MEASURED_NOTE, PAIRED_NOTE, VERDICT_NOTE)]
    out += [f"- {esc(SOURCE_NOTE.format(claims.paper_text))}", ""]
    summary_ = _summary(tested)
    out += [f"## {summary_.title}", "", *table(summary_), ""]
    for i, t in enumerate(tested, 1):
        out += _claim(i, t)
    common, per_study = _provenance(claims, tested, frames, profile=profile, command=command)
    out += ["## Provenance", "", *(f"- **{name}:** {esc(value)}" for name, value in common)]
    for study, items in per_study.items():
        out += ["", f"### Runs of {study}", "", *(f"- **{name}:** {esc(value)}" for name, value in items)]
    out += ["", "### Pairs behind each difference (MLflow run ids, a - b)", ""]
    out += [f"- {esc(p)}" for p in _pairs(tested)] or ["- none: no pair of finished runs"]
    return "\n".join(out) + "\n"
