"""The study runner: expand a study into runs, skip what is finished, execute the rest, report.

Each run is identified by the hash of its resolved config (:func:`suite.study.spec.config_hash`), so a
rerun skips finished runs, resumes interrupted ones from their last checkpoint, and a point that two
studies share trains once. Runs go to an executor (:mod:`suite.study.executor`; a local process pool by
default, torch threads divided among the workers); progress is printed as runs advance.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite.study import spec, tracking
from suite.study.executor import EXECUTORS

PROJECT = Path(__file__).resolve().parents[2]


def find_study(name: str) -> Path:
    """A path to a TOML file, or a study name looked up in ./studies then the project's studies/."""
    path = Path(name)
    if path.suffix == ".toml":
        return path
    for folder in (Path.cwd() / "studies", PROJECT / "studies"):
        if (folder / f"{name}.toml").exists():
            return folder / f"{name}.toml"
    known = sorted(p.stem for p in (PROJECT / "studies").glob("*.toml"))
    raise spec.StudyError(f"unknown study {name!r}; known studies: {', '.join(known)}")


def study_names() -> list[str]:
    return sorted(p.stem for p in (PROJECT / "studies").glob("*.toml"))


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
class Progress:
    """Runs done/total, the running runs' epochs, and an ETA from the epoch times seen so far."""

    total_epochs: dict[str, int]
    names: dict[str, str]
    workers: int
    out: Callable[[str], None]
    epochs_done: dict[str, int] = field(default_factory=dict)
    epoch_times: list[float] = field(default_factory=list)
    finished: int = 0
    t0: float = field(default_factory=time.time)

    def eta(self) -> str:
        left = sum(self.total_epochs[h] - self.epochs_done.get(h, 0) for h in self.total_epochs)
        if not self.epoch_times or left <= 0:
            return "?"
        secs = left * (sum(self.epoch_times) / len(self.epoch_times)) / self.workers
        return (
            f"{int(secs // 3600)}h{int(secs % 3600 // 60):02d}m"
            if secs >= 3600
            else f"{int(secs // 60)}m{int(secs % 60):02d}s"
        )

    def event(self, ev: dict[str, Any]) -> None:
        h = ev["hash"]
        self.epochs_done[h] = ev.get("epoch", 0)
        if ev.get("kind") == "epoch":
            self.epoch_times.append(ev["time"])
            self.out(
                f"[{self.finished}/{len(self.total_epochs)} done] {self.names[h]}: epoch {ev['epoch']}/"
                f"{self.total_epochs[h]} test_acc {ev['test_acc']:.2f}% ({ev['time']:.1f}s/epoch, ETA {self.eta()})"
            )
        elif ev.get("kind") == "resume":
            self.out(f"[resume] {self.names[h]}: from the checkpoint of epoch {ev['epoch']}")

    def complete(self, h: str, result: Any) -> None:
        self.finished += 1
        self.epochs_done[h] = self.total_epochs[h]
        if isinstance(result, BaseException):
            what = f"FAILED: {type(result).__name__}: {result}"
        elif result["status"] == "trained":
            what = f"best {result['best_test_acc']:.2f}% final {result['final_test_acc']:.2f}%"
        else:
            what = result["status"]
        self.out(f"[{self.finished}/{len(self.total_epochs)} done] {self.names[h]}: {what}")


def run_study(
    name: str,
    *,
    profile: str = "cpu",
    seeds: list[int] | None = None,
    workers: int = 1,
    data_root: str | None = None,
    dry_run: bool = False,
    tracking_uri: str | None = None,
    executor: str = "local",
    report: bool = True,
    results_dir: str | Path = "results",
    out: Callable[[str], None] = print,
) -> int:
    """Run (or with ``dry_run`` list) a study's runs; returns a process exit code."""
    study = spec.load(find_study(name))
    data_root = data_root or os.environ.get("SUITE_DATA")
    points = spec.expand(study, profile, seeds=seeds)
    uri = tracking_uri or tracking.default_uri()
    exp_id = tracking.init_store(uri, study.name)  # here, once, before any worker starts
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    skip = missing_data([p for p in points if not p.skip], data_root)
    prof = study.profiles[profile]
    if skip and not prof.get("skip_missing_data", False):
        out(next(iter(skip.values())))
        return 2

    state: dict[str, str] = {}
    for p in points:
        if p.skip or p.config["dataset"] in skip:
            state[p.hash] = f"skipped ({p.skip or 'no data'})"
            continue
        found = tracking.find_child(client, p.hash)
        if any(
            r.data.tags.get("suite.status") == tracking.FINISHED and r.info.experiment_id == exp_id
            for r in found
        ):
            state[p.hash] = "done"
        elif any(r.data.tags.get("suite.status") == tracking.FINISHED for r in found):
            state[p.hash] = "done elsewhere (will be copied)"
        elif any(r.info.experiment_id == exp_id for r in found):
            state[p.hash] = "interrupted (will resume)"
        else:
            state[p.hash] = "to run"
    out(f"study {study.name} ({study.title}), profile {profile}: {len(points)} runs, store {uri}")
    for ds, msg in skip.items():
        out(f"  skipping dataset {ds}: {msg.splitlines()[0]}")
    width = max(len(p.label) for p in points) if points else 0
    for p in points:
        out(f"  {p.hash}  {p.label:<{width}}  {state[p.hash]}")
    todo = [p for p in points if state[p.hash] not in ("done",) and not state[p.hash].startswith("skipped")]
    if dry_run:
        out(f"dry run: {len(todo)} of {len(points)} runs would execute")
        return 0

    commit = tracking.git_commit()
    command = " ".join(shlex.quote(a) for a in sys.argv)
    parent = tracking.retry(
        client.create_run,
        exp_id,
        tags={
            "suite.role": "parent",
            "suite.study": study.name,
            "suite.profile": profile,
            "suite.commit": commit,
            "suite.command": command,
        },
        run_name=f"{study.name}-{profile}-{time.strftime('%Y%m%d-%H%M%S')}",
    )
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    tasks = [
        {
            "study": study.name,
            "profile": profile,
            "hash": p.hash,
            "axes": p.axes,
            "name": p.label,
            "config": p.config,
            "runtime": {"data_root": data_root, "threads": threads},
            "tracking_uri": uri,
            "experiment_id": exp_id,
            "parent_run_id": parent.info.run_id,
            "home": str(tracking.home()),
            "commit": commit,
            "device": device if p.config["device"] == "auto" else p.config["device"],
        }
        for p in todo
    ]
    progress = Progress(
        {t["hash"]: t["config"]["epochs"] for t in tasks}, {t["hash"]: t["name"] for t in tasks}, workers, out
    )
    failed = busy = 0
    t0 = time.time()
    for task, result in EXECUTORS[executor](workers).run(tasks, progress.event):
        progress.complete(task["hash"], result)
        failed += isinstance(result, BaseException)
        busy += not isinstance(result, BaseException) and result["status"] == "busy"
    status = "FAILED" if failed else "FINISHED"
    tracking.retry(client.log_metric, parent.info.run_id, "wall_time_s", time.time() - t0)
    tracking.retry(client.set_terminated, parent.info.run_id, status)
    out(
        f"study {study.name}: {len(tasks) - failed - busy} runs completed, {failed} failed, "
        f"{busy} running elsewhere, {len(points) - len(tasks)} skipped; wall time {time.time() - t0:.0f}s"
    )
    if report and not failed:
        _render(study, profile, uri, Path(results_dir) / profile, out)
    return 1 if failed else 0


def _render(study: spec.Study, profile: str, uri: str, out_dir: Path, out: Callable[[str], None]) -> None:
    try:
        from suite import report
    except ImportError:  # the reporter is optional at this layer
        return
    paths = report.render(
        study.name,
        profile=profile,
        tracking_uri=uri,
        out_dir=out_dir,
        command=f"nox -s report -- {study.name} --profile {profile}",
    )
    for path in paths:
        if path.suffix == ".md":
            out(path.read_text())
