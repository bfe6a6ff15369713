"""Study + profile -> the plan: every point, what the store already holds of it, and what will run.

The store is read once (all child runs, paged), not once per point, and the plan is a value: the runner
prints it (:meth:`Plan.lines`), a dry run stops there, and tests look at :attr:`Plan.states` rather than
at printed text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from suite.contract import PointState
from suite.study import spec, tracking

STUDIES = spec.STUDIES


class MissingData(RuntimeError):
    """A dataset the study needs has no files (and the profile does not skip such datasets)."""


def study_names() -> list[str]:
    """The project's studies (files starting with ``_`` are shared fragments, not studies)."""
    return sorted(p.stem for p in STUDIES.glob("*.toml") if not p.stem.startswith("_"))


def find_study(name: str) -> Path:
    """A path to a TOML file, or a study name looked up in ./studies then the project's studies/."""
    path = Path(name)
    if path.suffix == ".toml":
        return path
    for folder in (Path.cwd() / "studies", STUDIES):
        if (folder / f"{name}.toml").exists() and not name.startswith("_"):
            return folder / f"{name}.toml"
    raise spec.StudyError(f"unknown study {name!r}; known studies: {', '.join(study_names())}")


def missing_data(points: list[spec.Point], data_root: str | None) -> dict[str, str]:
    """dataset -> the loader's error message, for datasets whose files are not there."""
    from suite import data

    out: dict[str, str] = {}
    for name in sorted({p.config["dataset"] for p in points}):
        try:  # the smallest real read: one test sample, never a download attempt
            known = data.options(name)
            data.load(
                name,
                "test",
                T=1,
                root=data_root,
                limit=1,
                **{k: False for k in ("download", "cache") if k in known},
            )
        except FileNotFoundError as err:
            out[name] = str(err)
    return out


@dataclass
class Plan:
    study: spec.Study
    profile: str
    uri: str
    experiment_id: str
    data_root: str | None
    points: list[spec.Point]
    states: dict[str, PointState]  # config hash -> state
    reasons: dict[str, str]  # config hash -> why skipped
    missing: dict[str, str]  # dataset -> why it is skipped

    @property
    def todo(self) -> list[spec.Point]:
        return [p for p in self.points if self.states[p.hash].runs]

    def lines(self) -> list[str]:
        out = [
            f"study {self.study.name} ({self.study.title}), profile {self.profile}: "
            f"{len(self.points)} runs, store {self.uri}"
        ]
        out += [f"  skipping dataset {ds}: {msg.splitlines()[0]}" for ds, msg in self.missing.items()]
        width = max((len(p.label) for p in self.points), default=0)
        for p in self.points:
            state = self.states[p.hash]
            what = f"{state} ({self.reasons[p.hash]})" if p.hash in self.reasons else str(state)
            out.append(f"  {p.hash}  {p.label:<{width}}  {what}")
        return out


def _state(runs: list, experiment_id: str) -> PointState:
    here = [r for r in runs if r.info.experiment_id == experiment_id]
    if any(tracking.is_finished(r) for r in here):
        return PointState.DONE
    if any(tracking.is_finished(r) for r in runs):
        return PointState.DONE_ELSEWHERE
    return PointState.INTERRUPTED if here else PointState.TO_RUN


def make_plan(
    study: spec.Study,
    profile: str,
    *,
    uri: str,
    seeds: list[int] | None = None,
    data_root: str | None = None,
    max_runs: int | None = spec.MAX_RUNS,
) -> Plan:
    """Expand, create the store (here, once, before any worker starts), check the data, read the store."""
    data_root = data_root or os.environ.get("SUITE_DATA")
    points = spec.expand(study, profile, seeds=seeds, max_runs=max_runs)
    experiment_id = tracking.init_store(uri, study.name)
    missing = missing_data([p for p in points if not p.skip], data_root)
    if missing and not study.profiles[profile].get("skip_missing_data", False):
        raise MissingData(next(iter(missing.values())))
    children = tracking.children_by_hash(uri)
    states, reasons = {}, {}
    for p in points:
        if p.skip or p.config["dataset"] in missing:
            states[p.hash], reasons[p.hash] = PointState.SKIPPED, p.skip or "no data"
        else:
            states[p.hash] = _state(children.get(p.hash, []), experiment_id)
    return Plan(study, profile, uri, experiment_id, data_root, points, states, reasons, missing)
