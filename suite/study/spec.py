"""Study files: TOML, validated against a schema, expanded into flat run configs.

A study file holds::

    name = "table3"                      # must equal the file's stem
    title = "Table 3: ablation of KLIF on CIFAR-10"
    report = "table3"                    # the reporter's layout (default: name)
    seeds = [0, 1, 2]
    [base]                               # settings every run shares (any key the trainer takes)
    [grid]                               # axes: setting -> list of values, expanded as a Cartesian product
    [[include]]                          # extra points: settings (a list value expands within the point)
    [profiles.<name>]                    # overrides of settings (never of axes), and optionally seeds;
    [[profiles.<name>.where]]            #   conditional overrides: match = {...}, set = {...}
    [[profiles.<name>.skip]]             #   points this profile leaves out: match = {...}, why = "..."
    skip_missing_data = true             # profile key: skip datasets with no files instead of failing

Every setting is a key of :data:`suite.train.DEFAULTS`, so any trainer setting can be an axis. Errors are
one line: ``<file>: <key path>: <problem>; allowed: <values>``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from suite import data, models, neurons, train
from suite.neurons import surrogates

TOP_KEYS = {"name", "title", "report", "seeds", "base", "grid", "include", "profiles", "description", "notes"}
PROFILE_KEYS = {"seeds", "where", "skip", "skip_missing_data", "notes"}
# Settings that say where or how fast a run executes, not what it computes: left out of the config hash.
NOT_HASHED = ("data_root", "workers", "threads")

# Allowed types per setting, derived from the trainer's defaults (None = optional, type from usage).
_TYPES: dict[str, tuple[type, ...]] = {
    "dataset": (str,),
    "network": (str,),
    "neuron": (str,),
    "surrogate": (str,),
    "alpha": (int, float),
    "detach_reset": (bool,),
    "tau": (int, float),
    "v_th": (int, float),
    "encoder": (int,),
    "width": (int, float),
    "T": (int,),
    "epochs": (int,),
    "batch_size": (int,),
    "lr": (int, float),
    "t_max": (int,),
    "weight_decay": (int, float),
    "seed": (int,),
    "limit_train": (int,),
    "limit_test": (int,),
    "augment": (bool,),
    "data_root": (str,),
    "device": (str,),
    "amp": (bool,),
    "workers": (int,),
    "threads": (int,),
}
assert set(_TYPES) == set(train.DEFAULTS), "every trainer setting needs a type here"


def _names(key: str) -> list[str] | None:
    return {
        "neuron": neurons.names,
        "dataset": data.names,
        "surrogate": surrogates.names,
        "network": lambda: ["auto", *models.names()],  # auto: the dataset's Table 1 network
    }.get(key, lambda: None)()


class StudyError(ValueError):
    """A malformed study file: the message names the file, the key path and what is allowed."""


@dataclass
class Study:
    name: str
    title: str
    path: Path
    report: str
    seeds: list[int]
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    include: list[dict[str, Any]]
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def axes(self) -> list[str]:
        keys = list(self.grid)
        for point in self.include:
            keys += [k for k in point if k not in keys and k not in self.base]
        return keys


class _Check:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, problem: str, allowed: Any = None) -> None:
        tail = f"; allowed: {allowed}" if allowed is not None else ""
        raise StudyError(f"{self.path}: {where}: {problem}{tail}")

    def keys(self, where: str, table: Any, allowed: set[str]) -> None:
        if not isinstance(table, dict):
            self.fail(where, f"expected a table, got {type(table).__name__}")
        for key in table:
            if key not in allowed:
                self.fail(f"{where}.{key}" if where else key, "unknown key", ", ".join(sorted(allowed)))

    def setting(self, where: str, key: str, value: Any) -> None:
        if key not in _TYPES:
            self.fail(where, f"unknown setting {key!r}", ", ".join(train.DEFAULTS))
        types = _TYPES[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            names = " or ".join("float" if t is float else t.__name__ for t in types)
            self.fail(where, f"expected {names}, got {type(value).__name__} {value!r}")
        known = _names(key)
        if known is not None and value not in known and not (key == "network" and _parses(value)):
            self.fail(where, f"unknown {key} {value!r}", ", ".join(known))

    def settings(self, where: str, table: Any, *, lists: bool) -> None:
        if not isinstance(table, dict):
            self.fail(where, f"expected a table, got {type(table).__name__}")
        for key, value in table.items():
            if lists:
                if not isinstance(value, list) or not value:
                    self.fail(f"{where}.{key}", f"an axis needs a non-empty list, got {value!r}")
                for i, v in enumerate(value):
                    self.setting(f"{where}.{key}[{i}]", key, v)
            else:
                for i, v in enumerate(value if isinstance(value, list) else [value]):
                    self.setting(f"{where}.{key}" + (f"[{i}]" if isinstance(value, list) else ""), key, v)

    def seeds(self, where: str, value: Any) -> None:
        if not isinstance(value, list) or not value or not all(type(s) is int for s in value):
            self.fail(where, f"expected a non-empty list of integers, got {value!r}")


def _parses(network: str) -> bool:
    """A network may also be written in Table 1's notation."""
    try:
        models.parse(network)
        return True
    except Exception:
        return False


def load(path: str | Path) -> Study:
    path = Path(path)
    check = _Check(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise StudyError(f"{path}: no such study file") from None
    except tomllib.TOMLDecodeError as err:
        raise StudyError(f"{path}: not valid TOML: {err}") from None
    check.keys("", raw, TOP_KEYS)
    for key in ("name", "title"):
        if not isinstance(raw.get(key), str):
            check.fail(key, f"required string, got {raw.get(key)!r}")
    if raw["name"] != path.stem:
        check.fail("name", f"{raw['name']!r} must equal the file name {path.stem!r}")
    check.seeds("seeds", raw.get("seeds"))
    base, grid = raw.get("base", {}), raw.get("grid", {})
    check.settings("base", base, lists=False)
    if any(isinstance(v, list) for v in base.values()):
        key = next(k for k, v in base.items() if isinstance(v, list))
        check.fail(f"base.{key}", "a list belongs in [grid], base settings are single values")
    check.settings("grid", grid, lists=True)
    for key in set(base) & set(grid):
        check.fail(f"grid.{key}", "is both a base setting and an axis")
    include = raw.get("include", [])
    if not isinstance(include, list):
        check.fail("include", "expected an array of tables [[include]]")
    for i, point in enumerate(include):
        check.settings(f"include[{i}]", point, lists=False)
    profiles = raw.get("profiles", {})
    check.keys("profiles", profiles, set(profiles))
    for pname, prof in profiles.items():
        where = f"profiles.{pname}"
        if not isinstance(prof, dict):
            check.fail(where, "expected a table")
        settings = {k: v for k, v in prof.items() if k not in PROFILE_KEYS}
        check.settings(where, settings, lists=False)
        for key in settings:
            if key in grid or any(key in p for p in include):
                check.fail(
                    f"{where}.{key}", "profiles override settings, never axes", ", ".join(sorted(base))
                )
            if isinstance(settings[key], list):
                check.fail(f"{where}.{key}", "a profile sets single values")
        if "seeds" in prof:
            check.seeds(f"{where}.seeds", prof["seeds"])
        if "skip_missing_data" in prof and not isinstance(prof["skip_missing_data"], bool):
            check.fail(f"{where}.skip_missing_data", f"expected bool, got {prof['skip_missing_data']!r}")
        where_list = prof.get("where", [])
        if not isinstance(where_list, list):
            check.fail(f"{where}.where", "expected an array of tables [[profiles.X.where]]")
        skips = prof.get("skip", [])
        if not isinstance(skips, list):
            check.fail(f"{where}.skip", "expected an array of tables [[profiles.X.skip]]")
        for j, cond in enumerate(skips):
            w = f"{where}.skip[{j}]"
            check.keys(w, cond, {"match", "why"})
            check.settings(f"{w}.match", cond.get("match", {}), lists=False)
            if not isinstance(cond.get("why"), str):
                check.fail(f"{w}.why", "required string: say why the profile leaves these points out")
        for j, cond in enumerate(where_list):
            w = f"{where}.where[{j}]"
            check.keys(w, cond, {"match", "set"})
            check.settings(f"{w}.match", cond.get("match", {}), lists=False)
            check.settings(f"{w}.set", cond.get("set", {}), lists=False)
    report = raw.get("report", raw["name"])
    if not isinstance(report, str):
        check.fail("report", f"expected a string, got {report!r}")
    return Study(raw["name"], raw["title"], path, report, raw["seeds"], base, grid, include, profiles)


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


def expand(study: Study, profile: str, *, seeds: list[int] | None = None, overrides=None) -> list[Point]:
    """Grid product plus includes, times seeds, with the profile's overrides; in a stable order."""
    if profile not in study.profiles:
        raise StudyError(
            f"{study.path}: profiles.{profile}: unknown profile; allowed: {', '.join(study.profiles) or '(none)'}"
        )
    prof = study.profiles[profile]
    settings = {k: v for k, v in prof.items() if k not in PROFILE_KEYS}
    points = _product(study.grid) if study.grid else [{}]
    points += [p for inc in study.include for p in _product(inc)]
    out, seen = [], set()
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
                out.append(Point(resolved, h, {**axes, "seed": seed}, why))
    return out
