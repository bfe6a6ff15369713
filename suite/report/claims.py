"""The paper's comparative claims, read from ``claims.toml``, and the rule that gives each one a verdict.

Why data: a claim is a sentence of the paper plus the two arms of a study that test it; typed in once beside
its quoted sentence, it can be audited against the paper's text (a test does) and cannot drift from what
the report prints. Loading checks every key, study, setting and direction, and refuses a malformed file
with one line naming the file, the key and what is allowed, as study files are refused
(:mod:`suite.study.spec`): a typo must fail loudly, never print "no runs" forever.

Why one verdict rule for every kind of claim: each ``claimed`` names a region of the true difference
d = a - b (d > 0, d < 0, d > -margin, |d| < margin). The 95% interval entirely inside the region supports
the claim, entirely outside contradicts it, and across its boundary leaves it undecided at this scale.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import tomllib

from suite import settings
from suite.report import layout
from suite.report.stats import PairedDiff

PATH = Path(__file__).with_name("claims.toml")

SUPPORTED = "supported"
NOT_DETECTED = "not detected at this scale"
CONTRADICTED = "contradicted"
ONE_PAIR = "one pair: no interval"
NO_RUNS = "no runs"
VERDICTS = (SUPPORTED, NOT_DETECTED, CONTRADICTED, ONE_PAIR, NO_RUNS)

# claimed -> (needs a margin, the claimed region of d = a - b as (lower, upper) for a margin m)
DIRECTIONS = {
    "a > b": (False, lambda m: (0.0, math.inf)),
    "a < b": (False, lambda m: (-math.inf, 0.0)),
    "a >= b": (True, lambda m: (-m, math.inf)),
    "a ~ b": (True, lambda m: (-m, m)),
}
STATEMENTS = {
    "a > b": "a - b > 0",
    "a < b": "a - b < 0",
    "a >= b": "a - b > -{m:.2f}",
    "a ~ b": "-{m:.2f} < a - b < {m:.2f}",
}
# The per-run quantities of suite.report.cells.per_run a claim may test: accuracies, in percent.
METRICS = {
    "best_acc": "best test accuracy over epochs (%)",
    "final_acc": "final-epoch test accuracy (%)",
}
TOP_KEYS = {"paper_text", "claims"}
REQUIRED = ("id", "title", "study", "section", "line", "quote", "a", "b", "claimed")
OPTIONAL = ("where", "margin", "metric", "note")
ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class ClaimsError(ValueError):
    """A malformed claims file: the message names the file, the key and what is allowed."""


@dataclass(frozen=True)
class Claim:
    id: str
    title: str  # our short paraphrase, for the summary; the quote is the paper's own words
    study: str
    section: str  # the paper's section heading, as printed
    line: int  # where the quote starts in the stored paper text
    quote: str
    a: dict[str, Any]
    b: dict[str, Any]
    claimed: str
    where: dict[str, Any] = field(default_factory=dict)
    margin: float | None = None
    metric: str = "best_acc"
    note: str | None = None

    def region(self) -> tuple[float, float]:
        """The claimed open interval of the true difference a - b."""
        return DIRECTIONS[self.claimed][1](self.margin)

    def statement(self) -> str:
        """The claimed region in words, e.g. "a - b > 0" or "-1.00 < a - b < 1.00"."""
        return STATEMENTS[self.claimed].format(m=self.margin)


@dataclass(frozen=True)
class Claims:
    paper_text: str  # the stored paper text that ``line`` numbers refer to
    claims: tuple[Claim, ...]

    def studies(self) -> list[str]:
        return list(dict.fromkeys(c.study for c in self.claims))


def verdict(diff: PairedDiff | None, region: tuple[float, float]) -> str:
    """Where the 95% interval of ``diff`` lies relative to the claimed open ``region`` (lower, upper).

    Inside it: supported; entirely outside (a shared endpoint is not outside): contradicted; across a
    boundary: not detected at this scale. No pair is "no runs"; one pair has no interval to judge.
    """
    if diff is None:
        return NO_RUNS
    if diff.lo is None or diff.hi is None:
        return ONE_PAIR
    lower, upper = region
    if lower < diff.lo and diff.hi < upper:
        return SUPPORTED
    if diff.hi < lower or diff.lo > upper:
        return CONTRADICTED
    return NOT_DETECTED


class _Check:
    """Raises the one-line errors: ``<file>: <key>: <problem>; allowed: <values>``."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, problem: str, allowed: Any = None) -> NoReturn:
        tail = f"; allowed: {allowed}" if allowed else ""
        raise ClaimsError(f"{self.path}: {where}: {problem}{tail}")

    def text(self, where: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"expected non-empty text, got {value!r}")
        return value

    def settings(self, where: str, value: Any, *, empty: bool) -> dict[str, Any]:
        if not isinstance(value, dict) or (not value and not empty):
            self.fail(where, f"expected a table of settings, got {value!r}", 'e.g. { neuron = "KLIF" }')
        for key, v in value.items():
            if key not in settings.BY_NAME:
                self.fail(f"{where}.{key}", "unknown setting", ", ".join(settings.BY_NAME))
            if isinstance(v, (dict, list)):
                self.fail(f"{where}.{key}", f"expected one value, got {v!r}", "text, a number or a boolean")
        return dict(value)


def _claim(check: _Check, where: str, spec: Any, seen: set[str]) -> Claim:
    if not isinstance(spec, dict):
        check.fail(where, f"expected a table, got {type(spec).__name__}", "[[claims]] tables")
    for key in spec:
        if key not in REQUIRED + OPTIONAL:
            check.fail(f"{where}.{key}", "unknown key", ", ".join(REQUIRED + OPTIONAL))
    for key in REQUIRED:
        if key not in spec:
            check.fail(f"{where}.{key}", "missing", ", ".join(REQUIRED))
    cid = check.text(f"{where}.id", spec["id"])
    if not ID.fullmatch(cid):
        check.fail(f"{where}.id", f"{cid!r} is not an id", "lower-case words joined by '-'")
    if cid in seen:
        check.fail(f"{where}.id", f"{cid!r} is declared twice", "a unique id per claim")
    seen.add(cid)
    for key in ("title", "section", "quote"):
        check.text(f"{where}.{key}", spec[key])
    if type(spec["line"]) is not int or spec["line"] < 1:
        check.fail(f"{where}.line", f"expected a line number, got {spec['line']!r}", "an integer >= 1")
    if spec["study"] not in layout.names():
        check.fail(f"{where}.study", f"unknown study {spec['study']!r}", ", ".join(layout.names()))
    table = layout.get(spec["study"])
    a = check.settings(f"{where}.a", spec["a"], empty=False)
    b = check.settings(f"{where}.b", spec["b"], empty=False)
    scope = check.settings(f"{where}.where", spec.get("where", {}), empty=True)
    column = table.columns.key
    for arm, settings_ in (("a", a), ("b", b)):
        if column in settings_:
            check.fail(f"{where}.{arm}.{column}", f"{column} is the study table's column", "a `where` key")
        for key in settings_.keys() & scope.keys():
            check.fail(f"{where}.{arm}.{key}", "also set in `where`", "each key in `where` or in the arms")
    if a == b:
        check.fail(f"{where}.b", "compares a with itself", "arms that differ in at least one setting")
    if column in scope and scope[column] not in table.columns.values:
        allowed = ", ".join(map(str, table.columns.values))
        check.fail(f"{where}.where.{column}", f"{scope[column]!r} is not a column of {table.name}", allowed)
    for part, settings_ in (("a", a), ("b", b), ("where", scope)):
        for key, value in settings_.items():
            if key in table.where and table.where[key] != value:
                fixed = f"{key} = {table.where[key]!r}"
                check.fail(f"{where}.{part}.{key}", f"the {table.name} table runs only {fixed}", fixed)
    claimed = spec["claimed"]
    if claimed not in DIRECTIONS:
        check.fail(f"{where}.claimed", f"{claimed!r} is not a claim", ", ".join(map(repr, DIRECTIONS)))
    margin = spec.get("margin")
    if DIRECTIONS[claimed][0]:
        ok = type(margin) in (int, float) and math.isfinite(margin) and margin > 0
        if not ok:
            check.fail(
                f"{where}.margin", f"{claimed!r} needs a margin, got {margin!r}", "a number > 0 (points)"
            )
        margin = float(margin)
    elif margin is not None:
        check.fail(
            f"{where}.margin", f"{claimed!r} takes no margin", "a margin only with 'a >= b' or 'a ~ b'"
        )
    metric = spec.get("metric", "best_acc")
    if metric not in METRICS:
        check.fail(f"{where}.metric", f"unknown metric {metric!r}", ", ".join(METRICS))
    note = check.text(f"{where}.note", spec["note"]) if "note" in spec else None
    return Claim(
        cid, spec["title"], spec["study"], spec["section"], spec["line"], spec["quote"],
        a, b, claimed, scope, margin, metric, note,
    )  # fmt: skip


def load(path: str | Path = PATH) -> Claims:
    """Read and validate a claims file; every error is one line naming the file and the key."""
    path = Path(path)
    check = _Check(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        check.fail("(file)", f"not valid TOML ({err})")
    for key in raw:
        if key not in TOP_KEYS:
            check.fail(key, "unknown key", ", ".join(sorted(TOP_KEYS)))
    paper_text = check.text("paper_text", raw.get("paper_text"))
    specs = raw.get("claims")
    if not isinstance(specs, list) or not specs:
        check.fail("claims", "expected one or more [[claims]] tables")
    seen: set[str] = set()
    return Claims(paper_text, tuple(_claim(check, f"claims[{i}]", s, seen) for i, s in enumerate(specs)))


@cache
def declared() -> Claims:
    """The project's claims (``claims.toml`` beside this module), loaded once."""
    return load(PATH)
