"""How faithful the ``paper`` profiles are: each resolved setting beside the paper's value and the reference's.

Why: the paper leaves much unsaid (batch size, augmentation, normalisation, the reset's gradient, ...), and
KLIF says it follows Fang et al.'s PLIF networks (Sec. 3.1). The ``paper`` profiles therefore mix three
sources: the paper's text, the reference code where the paper is silent, and a few choices of our own.
``python -m suite check-paper`` makes that mix visible and keeps it honest: it resolves every point of each
study's ``paper`` profile exactly as the runner does (:func:`suite.study.spec.iter_points`, so ``network =
"auto"`` and the per-dataset T / epochs / batch size of :mod:`suite.data` are filled in) and prints, per
study, one row per setting and dataset group, flagging every difference from either source. A difference
passes only with a reason bound to it in :file:`suite/fidelity.toml` (see its header), where every paper
and reference value is declared with its source line or file (the tags of docs/reference-protocol.md).
An unexplained difference, a study without a declared protocol, or a hashed setting that is neither
compared nor listed as not compared, makes the check fail (exit 1), so a new setting or an edited study
file cannot drift from the paper silently.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from suite import data, settings
from suite.neurons import surrogates

TOML = Path(__file__).with_name("fidelity.toml")
PROFILE = "paper"
SIDES = ("paper", "reference")
UNSTATED = object()  # a side (paper, reference) that gives no value
ANY = object()  # a deviation without a value explains any value
_ITEM_KEYS = {
    "key",
    "protocols",
    "paper",
    "paper_source",
    "reference",
    "reference_source",
    "why",
    "deviation",
}


@dataclass(frozen=True)
class Derived:
    """A compared quantity that is not a setting as such: computed from the resolved config."""

    value: Callable[[dict[str, Any]], Any]
    covers: tuple[str, ...] = ()  # the settings it stands for in the coverage check


def _limit(key: str) -> Derived:
    return Derived(lambda cfg: "all" if cfg[key] is None else cfg[key], (key,))


DERIVED: dict[str, Derived] = {
    "augmentation": Derived(
        lambda cfg: (cfg["augment"] and data.augmentation(cfg["dataset"])) or "none", ("augment",)
    ),
    "normalisation": Derived(lambda cfg: data.normalisation(cfg["dataset"])),
    "alpha": Derived(
        lambda cfg: (
            cfg["alpha"] if cfg["alpha"] is not None else surrogates.get(cfg["surrogate"]).default_alpha
        ),
        ("alpha",),
    ),
    "limit_train": _limit("limit_train"),
    "limit_test": _limit("limit_test"),
}


@dataclass(frozen=True)
class Deviation:
    against: str  # "paper" or "reference"
    why: str
    value: Any = ANY


@dataclass(frozen=True)
class Item:
    key: str
    protocols: tuple[str, ...] | None
    values: dict[str, Any]  # side -> value, list (any of) or {dataset: value}; a missing side: not stated
    sources: dict[str, str]
    why: Any = None  # str or {dataset: str}
    deviations: tuple[Deviation, ...] = ()

    def stated(self, side: str, dataset: str) -> Any:
        v = self.values.get(side, UNSTATED)
        return v.get(dataset, UNSTATED) if isinstance(v, dict) else v

    def reason(self, dataset: str) -> str | None:
        return self.why.get(dataset) if isinstance(self.why, dict) else self.why


@dataclass(frozen=True)
class Declared:
    protocols: dict[str, str]  # study -> protocol
    not_compared: dict[str, str]
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Row:
    key: str
    datasets: tuple[str, ...]
    suite: str
    paper: str
    reference: str
    differs: str  # "", "paper", "reference", "paper, reference"
    reason: str
    explained: bool


@dataclass
class Outcome:
    text: str
    problems: list[str] = field(default_factory=list)


def load(path: Path = TOML) -> Declared:
    """The declared values; a malformed entry is one line naming the item."""
    raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    items = []
    for i, it in enumerate(raw.get("item", [])):
        where = f"{path}: item[{i}] ({it.get('key')!r})"
        if set(it) - _ITEM_KEYS:
            raise ValueError(f"{where}: unknown field(s) {sorted(set(it) - _ITEM_KEYS)}")
        if it.get("key") not in settings.BY_NAME and it.get("key") not in DERIVED:
            raise ValueError(f"{where}: neither a setting nor a derived quantity ({', '.join(DERIVED)})")
        devs = []
        for d in it.get("deviation", []):
            if d.get("against") not in SIDES or not isinstance(d.get("why"), str):
                raise ValueError(f"{where}: a deviation needs against = paper|reference and a why")
            devs.append(Deviation(d["against"], d["why"], d.get("value", ANY)))
        items.append(
            Item(
                it["key"],
                tuple(it["protocols"]) if "protocols" in it else None,
                {s: it[s] for s in SIDES if s in it},
                {s: it.get(f"{s}_source", "") for s in SIDES},
                it.get("why"),
                tuple(devs),
            )
        )
    return Declared(dict(raw.get("protocols", {})), dict(raw.get("not_compared", {})), tuple(items))


def value(key: str, cfg: dict[str, Any]) -> Any:
    return DERIVED[key].value(cfg) if key in DERIVED else cfg[key]


def same(suite: Any, stated: Any) -> bool:
    """Equal as settings: a list is any of its values; bools only equal bools; floats to rounding."""
    if isinstance(stated, list):
        return any(same(suite, s) for s in stated)
    if isinstance(suite, bool) or isinstance(stated, bool):
        return isinstance(suite, bool) and isinstance(stated, bool) and suite == stated
    if isinstance(suite, (int, float)) and isinstance(stated, (int, float)):
        return math.isclose(suite, stated, rel_tol=1e-9, abs_tol=0.0)
    return suite == stated


def fmt(v: Any) -> str:
    if v is UNSTATED:
        return "—"
    if isinstance(v, list):
        return " or ".join(fmt(x) for x in v)
    if isinstance(v, bool):
        return "`true`" if v else "`false`"
    if isinstance(v, float):
        return f"`{v:g}`"
    return f"`{v}`"


def _judge(item: Item, dataset: str, v: Any) -> tuple[list[str], list[str], bool]:
    """(sides it differs from, reasons, explained) for one suite value."""
    differs, reasons, ok = [], [], True
    paper, ref = item.stated("paper", dataset), item.stated("reference", dataset)
    for side, stated in (("paper", paper), ("reference", ref)):
        if stated is UNSTATED or same(v, stated):
            continue
        differs.append(side)
        dev = next(
            (d for d in item.deviations if d.against == side and (d.value is ANY or same(v, d.value))), None
        )
        if dev is not None:
            reasons.append(dev.why)
        elif side == "reference" and paper is not UNSTATED and same(v, paper) and item.reason(dataset):
            reasons.append(item.reason(dataset))
        else:
            ok = False
    if not differs and paper is UNSTATED and ref is not UNSTATED:
        reasons.append("the paper is silent: the reference's value")
    return differs, reasons, ok


def _rows_for(item: Item, by_dataset: dict[str, list[dict]]) -> list[Row]:
    per = []
    for ds, cfgs in by_dataset.items():
        values = sorted({fmt(value(item.key, c)): value(item.key, c) for c in cfgs}.items())
        differs, reasons, ok = set(), [], True
        for _, v in values:
            d, r, good = _judge(item, ds, v)
            differs |= set(d)
            reasons += [x for x in r if x not in reasons]
            ok &= good
        reason = (
            "; ".join(reasons) if ok else "**UNEXPLAINED**" + (f" ({'; '.join(reasons)})" if reasons else "")
        )
        per.append(
            (
                ds,
                ", ".join(t for t, _ in values),
                fmt(item.stated("paper", ds)),
                fmt(item.stated("reference", ds)),
                ", ".join(s for s in SIDES if s in differs),
                reason,
                ok,
            )
        )
    groups: dict[tuple, list[str]] = {}
    for ds, *rest in per:
        groups.setdefault(tuple(rest), []).append(ds)
    everything = list(by_dataset)
    return [
        Row(item.key, ("all",) if len(group) == len(everything) > 1 else tuple(group), *rest)
        for rest, group in groups.items()
    ]


def _covered(declared: Declared) -> set[str]:
    keys = {it.key for it in declared.items}
    return keys | {s for k in keys if k in DERIVED for s in DERIVED[k].covers} | set(declared.not_compared)


def check_study(path: Path, declared: Declared, profile: str = PROFILE) -> tuple[list[str], list[str]]:
    """(Markdown lines, problems) for one study file's ``profile``."""
    from suite.study import spec

    study = spec.load(path)
    protocol = declared.protocols.get(study.name)
    problems = []
    if protocol is None:
        problems.append(f"{study.name}: no paper protocol declared in {TOML.name} [protocols]")
    by_dataset: dict[str, list[dict]] = {}
    search = study.search_of(profile)
    seeds = list(search.retrain_seeds) if search is not None else None  # the runs the report shows
    for point in spec.iter_points(study, profile, seeds=seeds):
        if point.skip is None:
            by_dataset.setdefault(point.config["dataset"], []).append(point.config)
    items = [it for it in declared.items if it.protocols is None or protocol in it.protocols]
    rows = [row for it in items for row in _rows_for(it, by_dataset)]
    lines = [
        f"## {study.name}: profile `{profile}`, protocol `{protocol}`",
        "",
        study.title,
        "",
        "| setting | datasets | suite | paper | reference | differs from | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = (r.key, ", ".join(r.datasets), r.suite, r.paper, r.reference, r.differs, r.reason)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if not r.explained:
            problems.append(
                f"{study.name}: {r.key} [{', '.join(r.datasets)}]: suite {r.suite}, paper {r.paper}, "
                f"reference {r.reference}"
            )
    if search is not None:
        from suite.study.search_spec import describe

        space = "; ".join(f"`{k}` in {describe(d)}" for k, d in search.space.items())
        lines += [
            "",
            f"Searched per arm ({search.trials} trials at seed {search.trial_seed}, the best retrained with the "
            f"seeds above): {space}. The rows of searched settings show the value before the search.",
        ]
    return lines + [""], problems


def _sources(declared: Declared) -> list[str]:
    lines = ["## Sources", "", "| setting | protocols | paper | reference |", "|---|---|---|---|"]
    for it in declared.items:
        cells = (
            it.key,
            ", ".join(it.protocols) if it.protocols else "all",
            it.sources["paper"] or "not stated",
            it.sources["reference"] or "no counterpart",
        )
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", "Not compared:", ""]
    lines += [f"- `{k}`: {why}" for k, why in sorted(declared.not_compared.items())]
    return lines + [""]


HEADER = """# Fidelity of the `{profile}` profiles

Generated by `python -m suite check-paper` from the study files and `suite/fidelity.toml`. Each study's
points are resolved as the runner resolves them. "paper": the KLIF paper (P, by line of the stored text);
"reference": Fang et al.'s PLIF code and published runs (Fm, Ft, FR, FL; docs/reference-protocol.md).
"—": not stated (paper) or no counterpart (reference). A difference passes only with a reason declared
for it in `suite/fidelity.toml`.
"""


def run(paths: Iterable[Path], profile: str = PROFILE, declared: Declared | None = None) -> Outcome:
    """The whole check over ``paths`` (study files): the Markdown text and the unexplained differences."""
    declared = declared or load()
    lines, problems = [HEADER.format(profile=profile)], []
    missing = sorted(s.name for s in settings.SETTINGS if s.hashed and s.name not in _covered(declared))
    problems += [
        f"setting {m!r} is neither compared nor listed in [not_compared] of {TOML.name}" for m in missing
    ]
    for path in paths:
        study_lines, study_problems = check_study(path, declared, profile)
        lines += study_lines
        problems += study_problems
    lines += _sources(declared)
    if problems:
        lines += ["## Unexplained", ""] + [f"- {p}" for p in problems] + [""]
        lines.append(f"FAIL: {len(problems)} unexplained difference(s).")
    else:
        lines.append("OK: every difference from the paper or the reference is explained.")
    return Outcome("\n".join(lines) + "\n", problems)
