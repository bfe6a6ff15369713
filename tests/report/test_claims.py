"""claims.toml and claims.md: the quotes are the paper's, the arms are runs a study makes, the verdict rule
holds on constructed intervals, a malformed file is one line, and claims.md is pinned by a golden file.

Regenerate the golden only on purpose: ``UPDATE_GOLDEN=1 python -m pytest tests/report -q``, then review.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from suite.report import claims, claims_report, layout, render_claims
from suite.report.build import build
from suite.report.claims import DIRECTIONS, ClaimsError, verdict
from suite.report.model import Text
from suite.report.runs import canonical
from suite.report.stats import PairedDiff

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
REPO = Path(__file__).resolve().parents[2]
PAPER_DIR = Path(os.environ.get("SUITE_PAPER", REPO.parent / "shared" / "paper"))
STUDIES = ("table2", "table3", "table4", "table5")
HEADING = re.compile(r"\d+(\.\d+)*\.? [A-Z][^.]*")  # "3.2. Ablation Study", "3.3 Biological ..."


def _frames(points, make_frames):
    return {s: make_frames(points(s)) for s in STUDIES}


def test_golden_claims_md(tmp_path, points, make_frames):
    path = render_claims(
        _frames(points, make_frames), profile="cpu", out_dir=tmp_path, command="nox -s report -- all"
    )
    assert path == tmp_path / "claims.md"
    golden = GOLDEN / "claims.md"
    if UPDATE:
        golden.write_bytes(path.read_bytes())
    assert golden.exists(), f"{golden} missing: run with UPDATE_GOLDEN=1 once and review it"
    assert path.read_text(encoding="utf-8") == golden.read_text(encoding="utf-8"), "claims.md differs"


def _diff(lo, hi, n=3):
    return PairedDiff((lo + hi) / 2, lo, hi, n)


@pytest.mark.parametrize(
    ("claimed", "margin", "lo", "hi", "expected"),
    [
        ("a > b", None, 0.1, 0.5, claims.SUPPORTED),
        ("a > b", None, -0.1, 0.5, claims.NOT_DETECTED),
        ("a > b", None, 0.0, 0.5, claims.NOT_DETECTED),  # touching 0 is not entirely above it
        ("a > b", None, -0.5, 0.0, claims.NOT_DETECTED),
        ("a > b", None, -0.5, -0.1, claims.CONTRADICTED),
        ("a < b", None, -0.5, -0.1, claims.SUPPORTED),
        ("a < b", None, -0.5, 0.2, claims.NOT_DETECTED),
        ("a < b", None, 0.1, 0.5, claims.CONTRADICTED),
        ("a ~ b", 1.0, -0.5, 0.5, claims.SUPPORTED),
        ("a ~ b", 1.0, 0.5, 1.5, claims.NOT_DETECTED),
        ("a ~ b", 1.0, 1.2, 2.0, claims.CONTRADICTED),
        ("a ~ b", 1.0, -2.0, -1.2, claims.CONTRADICTED),
        ("a >= b", 1.0, -0.5, 3.0, claims.SUPPORTED),
        ("a >= b", 1.0, -1.5, 0.0, claims.NOT_DETECTED),
        ("a >= b", 1.0, -3.0, -1.5, claims.CONTRADICTED),
    ],
)
def test_verdict_on_constructed_intervals(claimed, margin, lo, hi, expected):
    assert verdict(_diff(lo, hi), DIRECTIONS[claimed][1](margin)) == expected


def test_no_pair_is_no_runs_and_one_pair_has_no_interval():
    region = DIRECTIONS["a > b"][1](None)
    assert verdict(None, region) == claims.NO_RUNS
    assert verdict(PairedDiff(2.0, None, None, 1), region) == claims.ONE_PAIR


def test_a_study_without_runs_keeps_every_claim_as_no_runs():
    tested = claims_report.evaluate_all(claims.declared(), {})
    assert len(tested) == len(claims.declared().claims)
    assert {c.verdict for t in tested for c in t.cases} == {claims.NO_RUNS}
    assert [len(t.cases) for t in tested if t.claim.study == "table2"] == [6]  # every dataset, none dropped


@pytest.mark.parametrize(("study", "claim_id", "comparison", "sign"), [
    ("table2", "klif-vs-lif", "KLIF - LIF", 1),
    ("table3", "ablation-klif-vs-lif", "KLIF - LIF", 1),
    ("table3", "coding-layers", "KLIF with - without coding layers", 1),
    ("table5", "leaky-relu-vs-relu", "KLIF(ReLU) - KLIF(leaky ReLU)", -1),  # the table has b - a
])  # fmt: skip
def test_a_claims_difference_is_its_tables_paired_difference(
    study, claim_id, comparison, sign, points, make_frames
):
    """Same runs, same pairs, same interval: claims.md never recomputes a number the tables print."""
    runs, history = make_frames(points(study))
    report = build(layout.get(study), runs, history, profile="cpu", command="x")
    paired = next(s for s in report.sections if s.key == "best-paired")
    row = next(r for r in paired.rows if r[0] == Text(comparison))
    claim = next(c for c in claims.declared().claims if c.id == claim_id)
    cases = claims_report.evaluate(claim, runs, history).cases
    assert any(c.diff is not None for c in cases)
    for case in cases:
        table = row[paired.header.index(case.label)].diff
        if sign == 1 or case.diff is None:
            assert case.diff == table
        else:
            flipped = (-case.diff.mean, -case.diff.hi, -case.diff.lo)
            assert flipped == pytest.approx((table.mean, table.lo, table.hi)) and case.diff.n == table.n


# ---------------------------------------------------------------- the declarations against the paper
def _paper_lines() -> list[str]:
    text = PAPER_DIR / claims.declared().paper_text
    if not text.is_file():
        pytest.skip(f"paper text {text} not found (set SUITE_PAPER)")
    return text.read_text(encoding="utf-8").splitlines()


def _norm(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("claim", claims.declared().claims, ids=lambda c: c.id)
def test_quote_is_verbatim_at_its_line_and_section(claim):
    lines = _paper_lines()
    assert 1 <= claim.line <= len(lines)
    quote, here = _norm(claim.quote), _norm(" ".join(lines[claim.line - 1 :]))
    at = here.find(quote)
    assert at != -1, f"{claim.id}: quote not found from line {claim.line} on"
    assert at < len(_norm(lines[claim.line - 1])), f"{claim.id}: quote does not start on line {claim.line}"
    above = [s.strip() for s in lines[: claim.line] if HEADING.fullmatch(s.strip()) and len(s.strip()) < 60]
    assert above and above[-1] == claim.section, f"{claim.id}: the quote sits under {above[-1:]}"


# ---------------------------------------------------------------- the declarations against the studies
@pytest.fixture(scope="module")
def study_points():
    """study -> its points under the paper profile (the study's design, before any profile's skips)."""
    spec = pytest.importorskip("suite.study.spec")
    from suite.study import find_study

    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = list(spec.iter_points(spec.load(find_study(name)), "paper"))
        return cache[name]

    return get


def _matching(pts, where):
    return [p for p in pts if all(canonical(p.config.get(k)) == canonical(v) for k, v in where.items())]


@pytest.mark.parametrize("claim", claims.declared().claims, ids=lambda c: c.id)
def test_every_arm_is_a_config_its_study_runs_once_per_seed(claim, study_points):
    """A claim naming an arm no study runs would print "no runs" forever; one that matches two configs
    per seed would pool different experiments. Both fail here, for every case of the claim."""
    lay = claims_report.arms(claim)
    pts = study_points(claim.study)
    for value in lay.columns.values:
        seeds = {}
        for row in lay.rows:
            found = _matching(pts, lay.cell_where(row, value))
            assert found, (
                f"{claim.id}: study {claim.study} runs no {row.label} at {lay.columns.key} = {value}"
            )
            per_seed = [p.config["seed"] for p in found]
            assert len(per_seed) == len(set(per_seed)), (
                f"{claim.id}: {row.label} matches two configs per seed"
            )
            seeds[row.label] = set(per_seed)
        assert len(set(map(frozenset, seeds.values()))) == 1, f"{claim.id}: a and b run different seeds"


# ---------------------------------------------------------------- a malformed claims.toml is one line
GOOD = """\
paper_text = "paper.txt"

[[claims]]
id = "x"
title = "KLIF beats LIF"
study = "table2"
section = "3.1. Comparison of LIF and KLIF"
line = 201
quote = "KLIF is always higher."
a = { neuron = "KLIF" }
b = { neuron = "LIF" }
claimed = "a > b"
"""


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        (
            'study = "table2"',
            'study = "table9"',
            "claims[0].study",
            "unknown study 'table9'; allowed: controls, table2",
        ),
        ('a = { neuron = "KLIF" }', 'a = { neuronn = "KLIF" }', "claims[0].a.neuronn", "unknown setting"),
        ('claimed = "a > b"', 'claimed = "a >> b"', "claims[0].claimed", "allowed: 'a > b', 'a < b'"),
        ('claimed = "a > b"', 'claimed = "a ~ b"', "claims[0].margin", "needs a margin"),
        ('claimed = "a > b"', 'claimed = "a > b"\nmargin = 1', "claims[0].margin", "takes no margin"),
        ('claimed = "a > b"', 'claimed = "a > b"\nmetric = "loss"', "claims[0].metric", "unknown metric"),
        ('claimed = "a > b"', 'claimed = "a > b"\nbogus = 1', "claims[0].bogus", "unknown key"),
        ('quote = "KLIF is always higher."\n', "", "claims[0].quote", "missing"),
        ("line = 201", "line = 0", "claims[0].line", "expected a line number"),
        ('b = { neuron = "LIF" }', 'b = { neuron = "KLIF" }', "claims[0].b", "compares a with itself"),
        ('b = { neuron = "LIF" }', 'b = { dataset = "mnist" }', "claims[0].b.dataset", "table's column"),
        (
            'b = { neuron = "LIF" }',
            'b = { neuron = "LIF", encoder = 1 }',
            "claims[0].b.encoder",
            "encoder = 3",
        ),
        (
            'claimed = "a > b"',
            'claimed = "a > b"\nwhere = { neuron = "LIF" }',
            "claims[0].a.neuron",
            "also set",
        ),
        (
            'claimed = "a > b"',
            'claimed = "a > b"\nwhere = { dataset = "x" }',
            "claims[0].where.dataset",
            "not a column",
        ),
        ('paper_text = "paper.txt"', 'paper = "paper.txt"', "paper", "unknown key"),
        ('id = "x"', 'id = "X Y"', "claims[0].id", "is not an id"),
        ("line = 201", "line = = 201", "(file)", "not valid TOML"),
    ],
)
def test_a_malformed_claims_file_is_one_line_naming_file_and_key(tmp_path, old, new, key, problem):
    assert old in GOOD
    path = tmp_path / "claims.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ClaimsError) as err:
        claims.load(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert f": {key}" in message and problem in message, message


def test_duplicate_ids_are_refused(tmp_path):
    path = tmp_path / "claims.toml"
    path.write_text(GOOD + GOOD.split("\n", 2)[2], encoding="utf-8")
    with pytest.raises(ClaimsError, match=r"claims\[1\]\.id: 'x' is declared twice"):
        claims.load(path)


def test_a_good_file_loads_typed(tmp_path):
    path = tmp_path / "claims.toml"
    path.write_text(GOOD.replace('claimed = "a > b"', 'claimed = "a ~ b"\nmargin = 1'), encoding="utf-8")
    (claim,) = claims.load(path).claims
    assert (claim.study, claim.a, claim.b, claim.where) == (
        "table2",
        {"neuron": "KLIF"},
        {"neuron": "LIF"},
        {},
    )
    assert (claim.margin, claim.metric, claim.region()) == (1.0, "best_acc", (-1.0, 1.0))
    assert claim.statement() == "-1.00 < a - b < 1.00"
