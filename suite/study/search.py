"""Search studies on Optuna: one Optuna study per arm, trials as runs, pruning, then the best retrained.

What a trial is: a run like any other point (:mod:`suite.study.worker`): its config is the arm's with the
trial's parameters and ``trial_seed``, so it has a config hash, a checkpoint, an MLflow child run (tagged
``Tag.ARM``, ``Tag.TRIAL``, ``Tag.PHASE``) and resumes after a kill. The runner asks Optuna for a trial only
when the executor has a free slot (a lazy task stream, :mod:`suite.study.executor`), so each proposal knows
every trial finished before it, and tells Optuna each outcome; the worker only reports the per-epoch test
accuracy and asks the pruner (:class:`TrialLink`).

Why each rule:

- Equal budget: every arm's Optuna study gets exactly ``trials`` trials (complete, pruned or failed); the
  next trial goes to the arm with the fewest, so an interrupted search stays balanced.
- Reproducible proposals: the sampler is reseeded with ``seed + trial number`` before each ask, so a rerun
  that sees the same finished trials proposes the same next one, whatever happened in between. Every arm
  uses the same seeds: their random start-up trials are the same points (common random numbers), which
  makes the arms' budgets equal in what they explore as well as in how much. With parallel workers the
  history at each ask depends on timing, so TPE's later proposals may differ between runs (Optuna's too).
- Nothing lost, nothing twice: a trial Optuna still holds as RUNNING whose point no process has claimed
  (the worker's ``flock``, released by the OS when a process dies: our heartbeat) was killed; it is
  trained again with the same number and parameters, i.e. the same config hash, so its MLflow run resumes
  from its checkpoint. A trial whose worker died is left RUNNING (not FAIL) for that reason; FAIL is only a
  run that raised. A pruned run is final: the worker never resumes a run tagged pruned.
- The storage is created here, in the main process, before any worker (sqlite beside the MLflow sqlite
  store by default; any RDB URL, e.g. PostgreSQL on a cluster, in a database separate from MLflow's).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite import train
from suite.contract import Outcome, Phase, PointState, Result, RunStatus, Tag
from suite.study import spec, tracking
from suite.study.search_spec import Choice, Search

STORAGE_FILE = "optuna.db"


class SearchError(spec.StudyError):
    """A search that cannot start: one line naming what is missing."""


class Pruned(Exception):
    """Raised from a trial's epoch callback when the pruner stops it."""


def default_storage(tracking_uri: str) -> str:
    """The Optuna storage beside an MLflow sqlite store; a server store needs one given explicitly."""
    if tracking_uri.startswith("sqlite:///"):
        return f"sqlite:///{Path(tracking_uri.removeprefix('sqlite:///')).parent / STORAGE_FILE}"
    raise SearchError(
        f"--optuna-storage: required with the tracking store {tracking.redact(tracking_uri)}; allowed: an "
        "RDB URL reachable from every worker, e.g. postgresql://user@host/optuna (not MLflow's database)"
    )


def storage(url: str):
    """The RDB storage (creating its tables once: call in the main process before workers start)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the plan lines say what Optuna would log
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def distributions(search: Search) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for key, dim in search.space.items():
        if isinstance(dim, Choice):
            out[key] = CategoricalDistribution(list(dim.values))
        elif dim.integer:
            out[key] = IntDistribution(int(dim.low), int(dim.high), log=dim.log, step=int(dim.step or 1))
        else:
            out[key] = FloatDistribution(float(dim.low), float(dim.high), log=dim.log, step=dim.step)
    return out


def _tpe(search: Search, seed: int):
    import optuna

    # half the budget explores at random before TPE models it: Optuna's default of 10 start-up trials would
    # leave a 12-trial search almost all random
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(1, search.trials // 2)))


def _grid(search: Search, seed: int):
    import optuna

    space = {k: list(d.values) if isinstance(d, Choice) else d.grid() for k, d in search.space.items()}
    return optuna.samplers.GridSampler(space, seed=seed)


def _random(search: Search, seed: int):
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


SAMPLERS = {"tpe": _tpe, "random": _random, "grid": _grid}


def _median(search: Search, epochs: int):
    import optuna

    # no decision on the first epoch (its test accuracy says little), nor before a few trials have finished
    # epochs count from 1: the earliest decision is at epoch 2 (Optuna prunes from step == n_warmup_steps)
    return optuna.pruners.MedianPruner(n_startup_trials=min(5, max(1, search.trials // 3)), n_warmup_steps=2)


def _hyperband(search: Search, epochs: int):
    import optuna

    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, epochs))


def _none(search: Search, epochs: int):
    import optuna

    return optuna.pruners.NopPruner()


PRUNERS = {"median": _median, "hyperband": _hyperband, "none": _none}


@dataclass(frozen=True)
class Arm:
    """One arm: a point of the grid (at ``trial_seed``) and the name of its Optuna study."""

    point: spec.Point
    name: str

    @property
    def axes(self) -> dict[str, Any]:
        return {k: v for k, v in self.point.axes.items() if k != "seed"}

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.axes.items()) or "(one arm)"

    def config(self, params: dict[str, Any], seed: int) -> tuple[dict[str, Any], str]:
        cfg = train.resolve({**self.point.config, **params, "seed": seed})
        return cfg, spec.config_hash(cfg)


def arms(study: spec.Study, profile: str, search: Search, points: list[spec.Point]) -> list[Arm]:
    """``points`` (the study expanded at ``trial_seed``) as arms; the Optuna study name says the study,
    profile, arm and search space, so a changed space starts a fresh search instead of mixing two."""
    return [Arm(p, f"{study.name}.{profile}.{p.hash}.{search.digest()}") for p in points]


def open_study(arm: Arm, search: Search, store, epochs: int | None = None):
    import optuna

    return optuna.create_study(
        storage=store,
        study_name=arm.name,
        direction=search.direction,
        sampler=SAMPLERS[search.sampler](search, search.seed),
        pruner=PRUNERS[search.pruner](search, epochs or arm.point.config["epochs"]),
        load_if_exists=True,
    )


def held(home: Path, config_hash: str) -> bool:
    """Whether a live process holds the point's claim (the worker's flock; see suite.study.worker)."""
    path = home / "runs" / config_hash / "lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


class ArmSearch:
    """An arm's Optuna study as the runner drives it: ask (reseeded), the trial's point, tell."""

    def __init__(self, arm: Arm, search: Search, store):
        self.arm, self.search = arm, search
        self.study = open_study(arm, search, store)

    def trials(self):
        return self.study.get_trials(deepcopy=False)

    def counts(self) -> dict[str, int]:
        from optuna.trial import TrialState

        states = [t.state for t in self.trials()]
        return {s.name.lower(): states.count(s) for s in TrialState}

    def best(self):
        from optuna.trial import TrialState

        done = [t for t in self.trials() if t.state == TrialState.COMPLETE]
        if not done:
            return None
        if self.search.direction == "maximize":  # ties: the earlier trial, as Optuna's best_trial
            return max(done, key=lambda t: (t.value, -t.number))
        return min(done, key=lambda t: (t.value, t.number))

    def ask(self):
        self.study.sampler = SAMPLERS[self.search.sampler](self.search, self.search.seed + len(self.trials()))
        return self.study.ask(distributions(self.search))

    def point(self, trial) -> spec.Point:
        cfg, h = self.arm.config(dict(trial.params), self.search.trial_seed)
        return spec.Point(cfg, h, {**self.arm.axes, "trial": trial.number})

    def tags(self, trial) -> dict[str, str]:
        return {Tag.ARM: self.arm.name, Tag.TRIAL: str(trial.number), Tag.PHASE: Phase.TRIAL}

    def finished(self) -> bool:
        """Every trial of the budget asked and none still running."""
        trials = self.trials()
        return len(trials) >= self.search.trials and all(t.state.is_finished() for t in trials)

    def retrain_points(self) -> list[spec.Point]:
        best = self.best()
        if best is None:
            return []
        out = []
        for seed in self.search.retrain_seeds:
            cfg, h = self.arm.config(dict(best.params), seed)
            out.append(spec.Point(cfg, h, {**self.arm.axes, "seed": seed}))
        return out

    def lines(self) -> list[str]:
        c = self.counts()
        best = self.best()
        value = f"; best {best.value:.2f} (trial {best.number})" if best is not None else ""
        return [
            f"  {self.arm.label}: {len(self.trials())}/{self.search.trials} trials asked, {c['complete']} complete, "
            f"{c['pruned']} pruned, {c['fail']} failed, {c['running']} running{value}"
        ]


def trial_stream(searches: list[ArmSearch], home: Path, make_task) -> Iterator[dict[str, Any]]:
    """The trials to run, lazily: first the killed ones (RUNNING, unclaimed), then new ones, arm by arm
    with the fewest trials first, until every arm has its budget. ``make_task(search, trial)`` builds the task."""
    from optuna.trial import TrialState

    for s in searches:
        for trial in [t for t in s.trials() if t.state == TrialState.RUNNING]:
            if not held(home, s.point(trial).hash):
                yield make_task(s, trial)
    while True:
        open_ = [s for s in searches if len(s.trials()) < s.search.trials]
        if not open_:
            return
        s = min(open_, key=lambda s: len(s.trials()))
        yield make_task(s, s.ask())


def _metric_of(client, experiment_id: str, config_hash: str, metric: str) -> float | None:
    for run in tracking.find_child(client, config_hash, [experiment_id]):
        if tracking.is_finished(run) and metric in run.data.metrics:
            return run.data.metrics[metric]
    return None


def _failed(client, experiment_id: str, config_hash: str) -> bool:
    runs = tracking.find_child(client, config_hash, [experiment_id])
    return any(r.data.tags.get(Tag.STATUS) == RunStatus.FAILED for r in runs)


def tell(search: ArmSearch, number: int, task: dict, result, client) -> None:
    """Tell Optuna a trial's outcome; a trial whose worker died (no run that raised) stays RUNNING."""
    from optuna.trial import TrialState

    trial = search.study.trials[number] if number < len(search.study.trials) else None
    if trial is None or trial.state.is_finished():
        return
    metric = search.search.metric
    if isinstance(result, Result):
        if result.outcome == Outcome.PRUNED:
            search.study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)
            return
        value = result.metrics.get(metric) if result.outcome == Outcome.TRAINED else None
        if value is None and result.outcome in (Outcome.TRAINED, Outcome.DONE, Outcome.COPIED):
            value = _metric_of(client, task["experiment_id"], task["hash"], metric)
        if value is not None:
            search.study.tell(number, value, skip_if_finished=True)
        return  # BUSY: another process trains it and its runner tells
    if not isinstance(result, tracking.StoreUnreachable) and _failed(
        client, task["experiment_id"], task["hash"]
    ):
        search.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)


class TrialLink:
    """The worker's side of a trial: report each epoch's test accuracy, stop when the pruner says so."""

    def __init__(self, info: dict[str, Any]):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.info = info
        study = optuna.load_study(study_name=info["study"], storage=storage(info["storage"]))
        search_like = _PrunerArgs(info["trials"])
        study.pruner = PRUNERS[info["pruner"]](search_like, info["epochs"])
        self.trial = optuna.trial.Trial(study, info["trial_id"])

    def epoch(self, metrics: dict[str, Any]) -> None:
        import warnings

        with warnings.catch_warnings():  # a resumed trial reports its replayed epochs again: ignored
            warnings.simplefilter("ignore")
            self.trial.report(float(metrics["test_acc"]), int(metrics["epoch"]))
        if self.trial.should_prune():
            raise Pruned(f"pruned at epoch {metrics['epoch']} (test accuracy {metrics['test_acc']:.2f}%)")


@dataclass(frozen=True)
class _PrunerArgs:
    trials: int


def link_info(search: ArmSearch, trial, url: str) -> dict[str, Any]:
    """What a worker needs to reach its trial (JSON-able, part of the task)."""
    return {
        "storage": url,
        "study": search.arm.name,
        "trial_id": trial._trial_id,
        "number": trial.number,
        "pruner": search.search.pruner,
        "trials": search.search.trials,
        "epochs": search.arm.point.config["epochs"],
    }


def retrain_states(points: list[spec.Point], uri: str, experiment_id: str) -> dict[str, PointState]:
    from suite.study.plan import _state

    children = tracking.children_by_hash(uri)
    return {p.hash: _state(children.get(p.hash, []), experiment_id) for p in points}
