"""A study's ``[search]`` table: an equal-budget Optuna search per arm, validated like the rest of the file.

A search study is a grid study whose points are *arms*: each arm (a grid point or include, without seeds)
gets its own Optuna study with the same budget, then its best configuration is retrained with fresh seeds::

    [grid]
    neuron = ["LIF", "KLIF"]             # each point is an arm

    [search]
    trials = 12                          # per arm: every arm gets the same budget
    metric = "best_test_acc"             # best_test_acc | final_test_acc
    direction = "maximize"               # maximize | minimize
    sampler = "tpe"                      # tpe | random | grid (seeded: a rerun proposes the same trials)
    pruner = "median"                    # median | hyperband | none, on the per-epoch test accuracy
    retrain_seeds = [0, 1, 2]            # then each arm's best config with these seeds
    trial_seed = 100                     # the training seed of every trial (default 100)
    seed = 0                             # the sampler's seed (default 0)

    [search.space]                       # any hashed trainer setting that is not an axis
    lr = { low = 1e-4, high = 1e-2, log = true }
    alpha = { low = 1.0, high = 8.0 }    # optional: step = 0.5 (a grid sampler needs lists or steps)
    surrogate = ["atan", "sigmoid"]

Profiles override any key, e.g. ``[profiles.smoke.search] trials = 2``; a profile's ``space`` replaces the
study's whole space (a space is one design, not a merge of two).

Why a separate ``trial_seed``: the trial that wins the search is the one with the luckiest draw as much as
the best settings; retraining its configuration with seeds no trial used gives an unbiased mean, so
``trial_seed`` may not be one of ``retrain_seeds``. The search metric is the test accuracy, as in the paper
and the PLIF reference code (there is no validation split in either); the report says so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from suite import settings
from suite.contract import FINAL_METRICS

KEYS = ("trials", "metric", "direction", "sampler", "pruner", "retrain_seeds", "trial_seed", "seed", "space")
METRICS = tuple(m for m in FINAL_METRICS if m.endswith("_acc"))
DIRECTIONS = ("maximize", "minimize")
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
DEFAULTS = {
    "metric": "best_test_acc",
    "direction": "maximize",
    "sampler": "tpe",
    "pruner": "median",
    "retrain_seeds": [0, 1, 2],
    "trial_seed": 100,
    "seed": 0,
}
NOT_SEARCHABLE = ("seed", "dataset")  # the seed is the search's own; a dataset is an arm, never a knob


@dataclass(frozen=True)
class Range:
    """A numeric dimension: ``low``..``high``, on a log scale or in steps; ints for integer settings."""

    low: float
    high: float
    log: bool = False
    step: float | None = None
    integer: bool = False

    def grid(self) -> list:
        n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return [(int if self.integer else float)(self.low + i * self.step) for i in range(n)]


@dataclass(frozen=True)
class Choice:
    values: tuple


Dim = Range | Choice


@dataclass(frozen=True)
class Search:
    trials: int
    metric: str
    direction: str
    sampler: str
    pruner: str
    retrain_seeds: tuple[int, ...]
    trial_seed: int
    seed: int
    space: dict[str, Dim]

    def digest(self) -> str:
        """Names the search space: a changed space is a new search (its trials are not comparable)."""
        dims = {k: [type(v).__name__, dataclasses.asdict(v)] for k, v in sorted(self.space.items())}
        text = json.dumps(dims, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    def grid_size(self) -> int:
        return math.prod(
            len(d.values) if isinstance(d, Choice) else len(d.grid()) for d in self.space.values()
        )


def _dim(check, where: str, key: str, spec: Any) -> Dim:
    if key not in settings.BY_NAME:
        check.fail(where, f"unknown setting {key!r}", ", ".join(settings.DEFAULTS))
    setting = settings.BY_NAME[key]
    if not setting.hashed or key in NOT_SEARCHABLE:
        searchable = [s.name for s in settings.SETTINGS if s.hashed and s.name not in NOT_SEARCHABLE]
        check.fail(where, f"{key} cannot be searched", ", ".join(searchable))
    if isinstance(spec, list):
        if not spec:
            check.fail(where, "a choice needs at least one value")
        for i, value in enumerate(spec):
            check.setting(f"{where}[{i}]", key, value)
        return Choice(tuple(spec))
    if not isinstance(spec, dict):
        check.fail(where, f"expected a list of values or a {{ low, high }} table, got {spec!r}")
    check.keys(where, spec, {"low", "high", "log", "step"})
    if float not in setting.types and int not in setting.types:
        check.fail(where, f"{key} is not numeric: give a list of values", "a list")
    for bound in ("low", "high"):
        if bound not in spec:
            check.fail(f"{where}.{bound}", "required number")
        check.setting(f"{where}.{bound}", key, spec[bound])
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    if not low < high:
        check.fail(where, f"low {low!r} must be below high {high!r}")
    if not isinstance(log, bool):
        check.fail(f"{where}.log", f"expected true or false, got {log!r}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int | float) or not step > 0):
        check.fail(f"{where}.step", f"expected a number > 0, got {step!r}")
    if log and step is not None:
        check.fail(where, "log and step exclude each other (Optuna samples one or the other)")
    if log and low <= 0:
        check.fail(f"{where}.low", f"a log scale needs low > 0, got {low!r}")
    integer = float not in setting.types
    if integer and step is not None and type(step) is not int:
        check.fail(f"{where}.step", f"{key} is an integer setting: the step is an integer, got {step!r}")
    return Range(low, high, log, step, integer)


def resolve(
    check, raw: dict[str, Any], profile_raw: dict[str, Any] | None, axes: set[str], profile_where: str = ""
) -> Search:
    """``[search]`` with the profile's ``search`` table over it, checked; one-line errors via ``check``.

    A value the profile sets is reported under the profile's key path (``profiles.<name>.search.<key>``).
    """
    check.keys("search", raw, set(KEYS))
    if profile_raw is not None:
        check.keys(profile_where, profile_raw, set(KEYS))
    merged = {**DEFAULTS, **raw, **(profile_raw or {})}
    where = "search"

    def at(key: str) -> str:
        return f"{profile_where}.{key}" if profile_raw and key in profile_raw else f"{where}.{key}"

    trials = merged.get("trials")
    if type(trials) is not int or trials < 1:
        check.fail(at("trials"), f"expected an integer >= 1, got {trials!r}")
    for key, allowed in (
        ("metric", METRICS),
        ("direction", DIRECTIONS),
        ("sampler", SAMPLERS),
        ("pruner", PRUNERS),
    ):
        if merged[key] not in allowed:
            check.fail(at(key), f"unknown {key} {merged[key]!r}", ", ".join(allowed))
    check.seeds(at("retrain_seeds"), merged["retrain_seeds"])
    for key in ("trial_seed", "seed"):
        check.setting(at(key), "seed", merged[key])
    if merged["trial_seed"] in merged["retrain_seeds"]:
        check.fail(
            at("trial_seed"),
            f"{merged['trial_seed']} is also a retrain seed: the retrained mean would include the draw that "
            "won the search",
            "a seed not in retrain_seeds",
        )
    space_raw = merged.get("space")
    if not isinstance(space_raw, dict) or not space_raw:
        check.fail(
            at("space"), "required table: the settings to search, e.g. lr = { low = 1e-4, high = 1e-2 }"
        )
    space = {}
    for key, spec in space_raw.items():
        if key in axes:
            check.fail(
                f"{at('space')}.{key}", f"{key} is an axis (each value is an arm)", "a setting that is not"
            )
        space[key] = _dim(check, f"{at('space')}.{key}", key, spec)
    search = Search(
        trials,
        merged["metric"],
        merged["direction"],
        merged["sampler"],
        merged["pruner"],
        tuple(merged["retrain_seeds"]),
        merged["trial_seed"],
        merged["seed"],
        space,
    )
    if search.sampler == "grid":
        for key, dim in space.items():
            if isinstance(dim, Range) and dim.step is None:
                check.fail(
                    f"{at('space')}.{key}", "the grid sampler needs a list of values or a step", "step = ..."
                )
        if trials > search.grid_size():
            check.fail(
                at("trials"),
                f"{trials} is more than the grid's {search.grid_size()} points",
                f"at most {search.grid_size()}",
            )
    return search


def describe(d: Dim) -> str:
    """A dimension as the report and check-paper print it: ``{atan, sigmoid}``, ``[0.0001, 0.01, log]``."""
    if isinstance(d, Choice):
        return "{" + ", ".join(map(str, d.values)) + "}"
    scale = ", log" if d.log else (f", step {d.step:g}" if d.step else "")
    return f"[{d.low:g}, {d.high:g}{scale}]"
