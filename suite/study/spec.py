"""Study files: TOML, validated against a schema, expanded into flat run configs.

A study file holds::

    name = "table3"                      # must equal the file's stem
    extends = "_shared"                  # optional: start from another file in the folder (see below)
    title = "Table 3: ablation of KLIF on CIFAR-10"
    seeds = [0, 1, 2]
    [base]                               # settings every run shares (any key the trainer takes)
    [grid]                               # axes: setting -> list of values, expanded as a Cartesian product
    [[include]]                          # extra points: settings (a list value expands within the point)
    [profiles.<name>]                    # overrides of settings (never of axes), and optionally seeds;
    [[profiles.<name>.where]]            #   conditional overrides: match = {...}, set = {...}
    [[profiles.<name>.skip]]             #   points this profile leaves out: match = {...}, why = "..."
    skip_missing_data = true             # profile key: skip datasets with no files instead of failing
    [report]                             # optional: how the table looks (rows, columns, reference arm,
                                         #   metrics, paper table, figures); see suite.report.declare
    [search]                             # optional: an Optuna search per point (an arm), then retrains;
                                         #   see suite.study.search_spec

Every setting is one of :data:`suite.settings.SETTINGS` (type and range checked here), so any trainer
setting can be an axis. ``extends`` applies the named file first: tables merge key by key, any other value
(an array included) replaces the parent's; ``name``, ``report`` and ``extends`` are never inherited. A
file whose name starts with ``_`` is a fragment (e.g. ``studies/_shared.toml``, the common ``smoke``
profile), not a study. Errors are one line: ``<file>: <key path>: <problem>; allowed: <values>``, naming
the file of the chain that set the key.

Every study is reportable: without ``[report]`` the reporter derives a table from the axes. ``[report]`` is
the reporter's vocabulary, so :func:`load` has the reporter check it (:func:`suite.report.declare.layout`)
before any run, and a typo there is the same one-line error, not a table that fails after training.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import tomllib

from suite import settings, train
from suite.contract import PROFILE_NAME

TOP_KEYS = {
    "name",
    "title",
    "extends",
    "report",
    "seeds",
    "base",
    "grid",
    "include",
    "profiles",
    "description",
    "notes",
    "search",
}
PROFILE_KEYS = {"seeds", "where", "skip", "skip_missing_data", "notes", "search"}
NOT_INHERITED = ("name", "report", "extends")  # a study's own identity, never its parent's
NOT_HASHED = settings.NOT_HASHED
STUDIES = Path(__file__).resolve().parents[2] / "studies"  # the project's study files


class StudyError(ValueError):
    """A malformed study file: the message names the file, the key path and what is allowed."""


@dataclass
class Study:
    name: str
    title: str
    path: Path
    report: dict[str, Any]  # the [report] table, as written (validated by the reporter, see load)
    seeds: list[int]
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    include: list[dict[str, Any]]
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    search: dict[str, Any] | None = None  # the [search] table as written; see search_of

    def search_of(self, profile: str):
        """The :class:`~suite.study.search_spec.Search` under ``profile`` (None for a grid study)."""
        if self.search is None:
            return None
        from suite.study import search_spec

        prof = _profile(self, profile)
        axes = set(self.grid) | {k for point in self.include for k in point}
        return search_spec.resolve(
            Check(self.path), self.search, prof.get("search"), axes, f"profiles.{profile}.search"
        )

    @property
    def axes(self) -> list[str]:
        keys = list(self.grid)
        for point in self.include:
            keys += [k for k in point if k not in keys and k not in self.base]
        return keys


class Check:
    """Raises the one-line errors; ``origin`` says which file (of an ``extends`` chain) set a key.

    Also raises the reporter's errors about a study's ``[report]`` table (:mod:`suite.report.declare`).
    """

    def __init__(self, path: Path, origin: dict[str, Path] | None = None):
        self.path, self.origin = path, origin or {}

    def file_of(self, where: str) -> Path:
        key = re.sub(r"\[\d+\]", "", where)
        while key:
            if key in self.origin:
                return self.origin[key]
            key = key.rpartition(".")[0]
        return self.path

    def fail(self, where: str, problem: str, allowed: Any = None) -> NoReturn:
        tail = f"; allowed: {allowed}" if allowed else ""
        raise StudyError(f"{self.file_of(where)}: {where}: {problem}{tail}")

    def keys(self, where: str, table: Any, allowed: set[str]) -> None:
        if not isinstance(table, dict):
            self.fail(where, f"expected a table, got {type(table).__name__}")
        for key in table:
            if key not in allowed:
                self.fail(f"{where}.{key}" if where else key, "unknown key", ", ".join(sorted(allowed)))

    def setting(self, where: str, key: str, value: Any) -> None:
        if key not in settings.BY_NAME:
            self.fail(where, f"unknown setting {key!r}", ", ".join(settings.DEFAULTS))
        bad = settings.BY_NAME[key].problem(value)
        if bad is not None:
            self.fail(where, *bad)

    def settings(self, where: str, table: Any, *, lists: bool) -> None:
        if not isinstance(table, dict):
            self.fail(where, f"expected a table, got {type(table).__name__}")
        for key, value in table.items():
            if lists and (not isinstance(value, list) or not value):
                self.fail(f"{where}.{key}", f"an axis needs a non-empty list, got {value!r}")
            if isinstance(value, list):
                for i, v in enumerate(value):
                    self.setting(f"{where}.{key}[{i}]", key, v)
            else:
                self.setting(f"{where}.{key}", key, value)

    def seeds(self, where: str, value: Any) -> None:
        if not isinstance(value, list) or not value or not all(type(s) is int for s in value):
            self.fail(where, f"expected a non-empty list of integers, got {value!r}")
        for i, seed in enumerate(value):
            self.setting(f"{where}[{i}]", "seed", seed)

    def array(self, where: str, value: Any, what: str) -> list:
        if not isinstance(value, list):
            self.fail(where, f"expected an array of tables {what}")
        return value


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudyError(f"{path}: no such study file") from None
    except UnicodeDecodeError as err:
        raise StudyError(
            f"{path}: not UTF-8 text (byte {err.start}: {err.object[err.start : err.start + 1]!r})"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise StudyError(f"{path}: not valid TOML: {err}") from None


def _origin(table: dict, path: Path, prefix: str = "") -> dict[str, Path]:
    """Every leaf key path of ``table`` (tables are recursed into, arrays are leaves) -> ``path``."""
    out: dict[str, Path] = {}
    for key, value in table.items():
        if isinstance(value, dict) and value:
            out.update(_origin(value, path, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = path
    return out


def _merge(base: dict, top: dict) -> dict:
    """``top`` over ``base``: tables merge key by key, anything else (arrays included) is replaced."""
    out = dict(base)
    for key, value in top.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both else value
    return out


def _resolve_extends(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any], dict[str, Path]]:
    """The study's text with its ``extends`` chain applied (parent first), and the file that set each key.

    ``extends = "<study>"`` names a file in the same folder, else in the project's ``studies/``: another
    study (table4 states only what differs from table2; a researcher's own file may extend a paper study) or
    a fragment whose name starts with ``_`` (shared profiles, never a study of its own).
    """
    raw = _read(path)
    parent_name = raw.get("extends")
    if parent_name is None:
        return raw, _origin(raw, path)
    if not isinstance(parent_name, str):
        Check(path).fail("extends", f"expected a study name, got {parent_name!r}")
    candidates = [folder / f"{parent_name}.toml" for folder in (path.parent, STUDIES)]
    parent = next((c for c in candidates if c.exists()), None)
    if parent is None:
        known = sorted(
            {p.stem for folder in (path.parent, STUDIES) for p in folder.glob("*.toml")} - {path.stem}
        )
        Check(path).fail(
            "extends", f"no study {parent_name!r} beside this file or in {STUDIES}", ", ".join(known)
        )
    if parent.resolve() in chain or parent.resolve() == path.resolve():
        Check(path).fail("extends", f"{parent_name!r} extends this file again (a cycle)")
    base, origin = _resolve_extends(parent, (*chain, path.resolve()))
    base = {k: v for k, v in base.items() if k not in NOT_INHERITED}
    origin = {k: v for k, v in origin.items() if k.split(".")[0] not in NOT_INHERITED}
    return _merge(base, raw), {**origin, **_origin(raw, path)}


def _check_top(check: Check, raw: dict[str, Any], path: Path) -> None:
    check.keys("", raw, TOP_KEYS)
    for key in ("name", "title"):
        if not isinstance(raw.get(key), str):
            check.fail(key, f"required string, got {raw.get(key)!r}")
    if raw["name"] != path.stem:
        check.fail("name", f"{raw['name']!r} must equal the file name {path.stem!r}")
    if "seeds" in raw or "search" not in raw:  # a search study's seeds are in [search]
        check.seeds("seeds", raw.get("seeds"))
    if not isinstance(raw.get("report", {}), dict):
        check.fail(
            "report", f"expected a table, got {raw['report']!r}", "a [report] table of the study's own"
        )


def _check_points(check: Check, base: Any, grid: Any, include: Any) -> None:
    check.settings("base", base, lists=False)
    for key, value in base.items():
        if isinstance(value, list):
            check.fail(f"base.{key}", "a list belongs in [grid], base settings are single values")
    check.settings("grid", grid, lists=True)
    for key in set(base) & set(grid):
        check.fail(f"grid.{key}", "is both a base setting and an axis")
    for i, point in enumerate(check.array("include", include, "[[include]]")):
        check.settings(f"include[{i}]", point, lists=False)


def _check_profile(check: Check, where: str, prof: Any, axes: set[str]) -> None:
    if not isinstance(prof, dict):
        check.fail(where, "expected a table")
    overrides = {k: v for k, v in prof.items() if k not in PROFILE_KEYS}
    check.settings(where, overrides, lists=False)
    for key, value in overrides.items():
        if key in axes:
            check.fail(f"{where}.{key}", "profiles override settings, never axes")
        if isinstance(value, list):
            check.fail(f"{where}.{key}", "a profile sets single values")
    if "seeds" in prof:
        check.seeds(f"{where}.seeds", prof["seeds"])
    if not isinstance(prof.get("skip_missing_data", False), bool):
        check.fail(f"{where}.skip_missing_data", f"expected bool, got {prof['skip_missing_data']!r}")
    for j, cond in enumerate(check.array(f"{where}.skip", prof.get("skip", []), f"[[{where}.skip]]")):
        check.keys(f"{where}.skip[{j}]", cond, {"match", "why"})
        if not cond.get("match"):
            check.fail(f"{where}.skip[{j}].match", "required table: which points the profile leaves out")
        check.settings(f"{where}.skip[{j}].match", cond["match"], lists=False)
        if not isinstance(cond.get("why"), str):
            check.fail(
                f"{where}.skip[{j}].why", "required string: say why the profile leaves these points out"
            )
    for j, cond in enumerate(check.array(f"{where}.where", prof.get("where", []), f"[[{where}.where]]")):
        check.keys(f"{where}.where[{j}]", cond, {"match", "set"})
        check.settings(f"{where}.where[{j}].match", cond.get("match", {}), lists=False)
        check.settings(f"{where}.where[{j}].set", cond.get("set", {}), lists=False)


def load(path: str | Path) -> Study:
    """Read, apply ``extends``, validate; every error is one line naming the file that holds the key."""
    path = Path(path)
    raw, origin = _resolve_extends(path)
    check = Check(path, origin)
    _check_top(check, raw, path)
    base, grid, include = raw.get("base", {}), raw.get("grid", {}), raw.get("include", [])
    _check_points(check, base, grid, include)
    profiles = raw.get("profiles", {})
    check.keys("profiles", profiles, set(profiles))
    axes = set(grid) | {k for point in include for k in point}
    for pname, prof in profiles.items():
        if not PROFILE_NAME.fullmatch(pname):
            check.fail(f"profiles.{pname}", "a profile name is a folder name too", PROFILE_NAME.pattern)
        _check_profile(check, f"profiles.{pname}", prof, axes)
    report = raw.get("report", {})
    search = raw.get("search")
    seeds = raw.get("seeds", [0])
    study = Study(raw["name"], raw["title"], path, report, seeds, base, grid, include, profiles, search)
    if search is not None:
        from suite.study import search_spec

        search_spec.resolve(check, search, None, axes)  # the study's own [search], then each profile's
        for pname in profiles:  # checked now, not when the profile is first run
            study.search_of(pname)
        from suite.report import search_report

        search_report.check(study)
        return study
    for pname, prof in profiles.items():
        if "search" in prof:
            check.fail(
                f"profiles.{pname}.search", "the study has no [search] table", "a [search] table first"
            )
    from suite.report import declare  # here, not at the top: the reporter imports this module

    declare.layout(study)
    return study


def _product(table: dict[str, Any]) -> list[dict[str, Any]]:
    keys = list(table)
    values = [v if isinstance(v, list) else [v] for v in table.values()]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def config_hash(config: dict[str, Any]) -> str:
    """Stable id of a resolved config: sha256 of its canonical JSON, without where/how-fast settings."""
    payload = {k: v for k, v in sorted(config.items()) if k not in NOT_HASHED}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Point:
    """One run of a study: its resolved config, its hash and the axis values that name it."""

    config: dict[str, Any]
    hash: str
    axes: dict[str, Any]
    skip: str | None = None  # why the profile leaves this point out

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.axes.items())


MAX_RUNS = 10_000  # a larger grid is refused unless asked for (--max-runs): it is usually a typo


def _profile(study: Study, profile: str) -> dict[str, Any]:
    if profile not in study.profiles:
        raise StudyError(
            f"{study.path}: profiles.{profile}: unknown profile; allowed: {', '.join(study.profiles) or '(none)'}"
        )
    return study.profiles[profile]


def count(study: Study, profile: str, *, seeds: list[int] | None = None) -> int:
    """How many points :func:`expand` yields at most (before shared points merge), without expanding."""
    n_seeds = len(seeds or _profile(study, profile).get("seeds", study.seeds))
    grid = math.prod(len(v) for v in study.grid.values()) if study.grid else 1
    included = sum(
        math.prod(len(v) if isinstance(v, list) else 1 for v in inc.values()) for inc in study.include
    )
    return (grid + included) * n_seeds


def _combinations(study: Study):
    yield from itertools.product(*study.grid.values()) if study.grid else [()]


def iter_points(study: Study, profile: str, *, seeds: list[int] | None = None, overrides=None):
    """Grid product plus includes, times seeds, with the profile's overrides; lazily, in a stable order."""
    prof = _profile(study, profile)
    settings = {k: v for k, v in prof.items() if k not in PROFILE_KEYS}
    grid = (dict(zip(study.grid, combo)) for combo in _combinations(study))
    points = itertools.chain(grid, (p for inc in study.include for p in _product(inc)))
    seen = set()
    for axes in points:
        for seed in seeds or prof.get("seeds", study.seeds):
            cfg = {**study.base, **settings, **axes}
            for cond in prof.get("where", []):
                if all(cfg.get(k) == v for k, v in cond.get("match", {}).items()):
                    cfg.update(cond.get("set", {}))
            cfg.update(overrides or {})
            cfg["seed"] = seed
            resolved = train.resolve(cfg)
            h = config_hash(resolved)
            why = next(
                (
                    c["why"]
                    for c in prof.get("skip", [])
                    if all(cfg.get(k) == v for k, v in c["match"].items())
                ),
                None,
            )
            if h not in seen:
                seen.add(h)
                yield Point(resolved, h, {**axes, "seed": seed}, why)


def expand(
    study: Study,
    profile: str,
    *,
    seeds: list[int] | None = None,
    overrides=None,
    max_runs: int | None = MAX_RUNS,
) -> list[Point]:
    """Every point of the study under ``profile``; more than ``max_runs`` is one line, before expanding."""
    if seeds is not None:
        Check(study.path).seeds("--seeds", seeds)
    n = count(study, profile, seeds=seeds)
    if max_runs is not None and n > max_runs:
        raise StudyError(
            f"{study.path}: grid: {n:,} runs under profile {profile!r}, more than the cap of {max_runs:,}; "
            f"allowed: pass --max-runs {n} to run them all"
        )
    return list(iter_points(study, profile, seeds=seeds, overrides=overrides))
