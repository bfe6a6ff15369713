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
    """Datasets the study needs have no files (and the profile does not skip such datasets): one message
    naming every one of them, each with the loader's own account (folder, files, source, download)."""

    @classmethod
    def of(cls, missing: dict[str, str]) -> MissingData:
        head = f"no data for {len(missing)} dataset(s) the study needs: {', '.join(missing)}"
        return cls("\n".join([head, *missing.values()]))


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


def missing_data(points: list[spec.Point], data_root: str | None, download: bool = False) -> dict[str, str]:
    """dataset -> the loader's error message, for datasets whose files are not there.

    With ``download`` the missing datasets are fetched first (:func:`suite.data.fetch.fetch`, all hosts
    probed at once, so offline this takes one probe timeout), and a dataset still missing is reported with
    what its download said. The check itself is the smallest real read, one test sample, never a download.
    """
    from suite import data
    from suite.data.fetch import fetch

    names = sorted({p.config["dataset"] for p in points})
    out = {name: str(err) for name, err in fetch(names, data_root).items()} if download else {}
    for name in (n for n in names if n not in out):
        try:
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
    return dict(sorted(out.items()))


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
    download: bool = False,
) -> Plan:
    """Expand, create the store (here, once, before any worker starts), fetch missing data when
    ``download``, check the data, read the store."""
    data_root = data_root or os.environ.get("SUITE_DATA")
    points = spec.expand(study, profile, seeds=seeds, max_runs=max_runs)
    experiment_id = tracking.init_store(uri, study.name)
    missing = missing_data([p for p in points if not p.skip], data_root, download)
    if missing and not study.profiles[profile].get("skip_missing_data", False):
        raise MissingData.of(missing)
    children = tracking.children_by_hash(uri)
    states, reasons = {}, {}
    for p in points:
        if p.skip or p.config["dataset"] in missing:
            states[p.hash], reasons[p.hash] = PointState.SKIPPED, p.skip or "no data"
        else:
            states[p.hash] = _state(children.get(p.hash, []), experiment_id)
    return Plan(study, profile, uri, experiment_id, data_root, points, states, reasons, missing)
