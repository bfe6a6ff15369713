"""The study runner: plan -> execute -> report.

Each run is identified by the hash of its resolved config (:func:`suite.study.spec.config_hash`), so a
rerun skips finished runs, resumes interrupted ones from their last checkpoint, and a point that two
studies share trains once. :mod:`suite.study.plan` says what will run; an executor
(:mod:`suite.study.executor`, a local process pool by default) runs it, the workers tracking each run
themselves; the runner tracks the invocation (the parent run), shows progress (:mod:`suite.study.progress`:
live bars on a terminal, plain lines elsewhere), and renders the report.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from suite.contract import Outcome, Result, Role, Tag
from suite.study import executor as executors
from suite.study import spec, tracking
from suite.study.plan import MissingData, Plan, find_study, make_plan, study_names
from suite.study.progress import Progress, display

__all__ = ["Progress", "find_study", "run_study", "study_names"]


def _task(plan: Plan, p: spec.Point, parent_run_id: str, commit: str, **extra: Any) -> dict[str, Any]:
    """One JSON-able task (what :func:`suite.study.worker.execute` takes); ``extra``: e.g. a search's
    ``tags`` and ``search`` link."""
    return {
        "study": plan.study.name,
        "profile": plan.profile,
        "hash": p.hash,
        "axes": p.axes,
        "name": p.label,
        "config": p.config,
        "runtime": {"data_root": plan.data_root},  # threads and device: decided where the task runs
        "tracking_uri": plan.uri,
        "experiment_id": plan.experiment_id,
        "parent_run_id": parent_run_id,
        "home": str(tracking.runs_home(plan.uri)),
        "commit": commit,
        **extra,
    }


@dataclass
class Tally:
    completed: int = 0
    failed: int = 0
    busy: int = 0
    skipped: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(astuple(self), astuple(other))))


INTERRUPTED = 130  # the shell's code for a process ended by Ctrl-C
UNREACHABLE = 75  # EX_TEMPFAIL: the tracking server went away; try again later


def _sigterm(signum, frame):
    raise KeyboardInterrupt  # SIGTERM (a scheduler, `kill`) ends a study the way Ctrl-C does


def _execute(plan: Plan, pool: executors.Executor, out: Callable[[str], None], work=None) -> int:
    """Run the plan's points (or ``work``: a search's stages) under a parent run, one per invocation;
    returns the exit code.

    0: every run completed; 1: a run failed; 130: interrupted (Ctrl-C, SIGTERM): the workers are stopped,
    the parent is KILLED and the unfinished children are marked interrupted; 75: the tracking server stopped
    answering, nothing more could be recorded. After 130 or 75 the same command resumes every run.
    """
    client = tracking.MlflowClient(plan.uri)
    commit = tracking.git_commit()
    tracking.close_stale_parents(client, plan.experiment_id)
    parent = tracking.retry(
        client.create_run,
        plan.experiment_id,
        tags={
            Tag.ROLE: Role.PARENT,
            Tag.STUDY: plan.study.name,
            Tag.PROFILE: plan.profile,
            Tag.COMMIT: commit,
            Tag.COMMAND: tracking.redact(" ".join(shlex.quote(a) for a in sys.argv)),
            Tag.HOST: socket.gethostname(),
            Tag.PID: str(os.getpid()),
        },
        run_name=f"{plan.study.name}-{plan.profile}-{time.strftime('%Y%m%d-%H%M%S')}",
    )
    main = threading.current_thread() is threading.main_thread()
    previous = (signal.getsignal(signal.SIGINT), signal.signal(signal.SIGTERM, _sigterm)) if main else None
    t0 = time.time()
    try:
        tally = (work or _grid)(plan, pool, client, parent, commit, out)
        tracking.retry(client.log_metric, parent.info.run_id, "wall_time_s", time.time() - t0)
        tracking.retry(client.set_terminated, parent.info.run_id, "FAILED" if tally.failed else "FINISHED")
        out(
            f"study {plan.study.name}: {tally.completed} runs completed, {tally.failed} failed, "
            f"{tally.busy} running elsewhere, {tally.skipped} skipped; wall time {time.time() - t0:.0f}s"
        )
        return 1 if tally.failed else 0
    except KeyboardInterrupt:
        if previous is not None:  # a second Ctrl-C must not cut the cleanup short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stopped = tracking.interrupt_children(client, plan.experiment_id, parent.info.run_id)
        tracking.retry(client.set_terminated, parent.info.run_id, "KILLED")
        out(
            f"study {plan.study.name}: interrupted; {stopped} running runs stopped and marked interrupted; "
            f"run the same command again to resume them"
        )
        return INTERRUPTED
    except tracking.StoreUnreachable as err:
        out(f"study {plan.study.name}: stopped: {err}; start the server and run the same command again")
        return UNREACHABLE
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])


def _grid(plan: Plan, pool, client, parent, commit: str, out: Callable[[str], None]) -> Tally:
    tasks = [_task(plan, p, parent.info.run_id, commit) for p in plan.todo]
    return _run(tasks, pool, client, parent, out) + Tally(skipped=len(plan.points) - len(tasks))


def _run(
    tasks: Iterable[dict],
    pool,
    client,
    parent,
    out: Callable[[str], None],
    *,
    expected: int = 0,
    on_result=None,
) -> Tally:
    """Run ``tasks`` (a list, or a lazy stream announcing ``expected`` runs) on ``pool``, showing progress;
    ``on_result(task, result)`` hears each outcome before the executor takes the next task."""
    tally = Tally()
    known = tasks if isinstance(tasks, list) else []
    epochs = {t["hash"]: t["config"]["epochs"] for t in known}
    with display(epochs, {t["hash"]: t["name"] for t in known}, pool.slots, out) as progress:
        progress.planned = max(len(known), expected)

        def announced() -> Iterator[dict]:
            for task in tasks:
                progress.add(task["hash"], task["config"]["epochs"], task["name"])
                yield task

        stream = tasks if known else announced()
        for task, result in pool.run(stream, progress.event):
            if isinstance(result, tracking.StoreUnreachable):
                raise result  # every other run would wait out the same outage: stop them all, resumably
            if on_result is not None:
                on_result(task, result)
            progress.complete(task["hash"], result)
            if isinstance(result, Result) and result.run_id:  # the parent lists the datasets of its runs
                tracking.copy_inputs(
                    client, tracking.retry(client.get_run, result.run_id), parent.info.run_id
                )
            tally.failed += isinstance(result, BaseException)
            tally.busy += isinstance(result, Result) and result.outcome == Outcome.BUSY
            tally.completed += isinstance(result, Result) and result.outcome != Outcome.BUSY
    return tally


def _render(
    study: spec.Study,
    profile: str,
    uri: str,
    out_dir: Path,
    out: Callable[[str], None],
    optuna: str | None = None,
) -> None:
    from suite import report

    paths = report.render(
        study,  # the loaded study: a file of one's own outside studies/ is reported too
        profile=profile,
        tracking_uri=uri,
        out_dir=out_dir,
        command=f"nox -s report -- {report.ref(study)} --profile {profile}",
        optuna_storage=optuna,
    )
    for path in paths:
        if path.suffix == ".md":
            out(path.read_text())


def _share_compiled(plan: Plan, pool, executor: str, out: Callable[[str], None]) -> None:
    """Where each run is a fresh process (the cluster executors' jobs), compile the neuron kernels once, here,
    into ``<home>/compile-cache``, which the jobs read (:mod:`suite.neurons.warm`): a job then pays seconds of
    compile instead of tens. The local pool's workers live for the whole study and compile each kernel once
    themselves, in parallel, so warming first would only add the runner's compile to the wall time."""
    if executor == "pool" or not plan.todo:
        return
    from suite.neurons import warm

    home = tracking.runs_home(plan.uri)
    threads = getattr(pool.settings, "cpus_per_run", None)  # the cache key includes the thread count
    seconds = warm.warm([p.config for p in plan.todo], home, threads=threads)
    if seconds:
        out(
            f"compiled the neuron kernels once for every job: {seconds:.0f}s, cached in {warm.cache_dir(home)}"
        )


def run_study(
    name: str,
    *,
    profile: str = "cpu",
    seeds: list[int] | None = None,
    workers: int | str = "auto",
    data_root: str | None = None,
    dry_run: bool = False,
    tracking_uri: str | None = None,
    executor: str = "pool",
    executor_settings: Mapping[str, Any] | None = None,
    executor_config: str | Path | None = None,
    max_runs: int | None = spec.MAX_RUNS,
    report: bool = True,
    results_dir: str | Path = "results",
    optuna_storage: str | None = None,
    out: Callable[[str], None] = print,
    download: bool = True,
) -> int:
    """Run (or with ``dry_run`` list) a study's runs; returns a process exit code. With ``download``
    (not in a dry run) the datasets the study lacks are fetched into the data root before planning.

    A study with ``[search]`` runs its search (:mod:`suite.study.search_runner`): ``optuna_storage`` is
    the Optuna RDB URL (default: beside an MLflow sqlite store).
    """
    study = spec.load(find_study(name))
    pool = executors.make(executor, executor_settings, config=executor_config, workers=workers)
    search = study.search_of(profile)
    if search is not None:
        seeds = [search.trial_seed]  # the plan's points are the arms, at the trials' seed
    try:
        uri = tracking_uri or tracking.default_uri()
        pool.check(uri, str(tracking.runs_home(uri)), data_root)  # a cluster: http(s) store, shared paths
        plan = make_plan(
            study,
            profile,
            uri=uri,
            seeds=seeds,
            data_root=data_root,
            max_runs=max_runs,
            download=download and not dry_run,
        )
    except MissingData as err:
        out(str(err))
        return 2
    if not dry_run:
        _share_compiled(plan, pool, executor, out)
    if search is not None:
        from suite.study import search_runner

        code = search_runner.run(plan, search, pool, optuna_storage, dry_run=dry_run, out=out)
        if report and code == 0 and not dry_run:
            _render(study, profile, plan.uri, Path(results_dir) / profile, out, optuna_storage)
        return code
    lines = plan.lines()
    lines[0] += f"; {pool.plan(len(plan.todo))}"
    for line in lines:
        out(line)
    if dry_run:
        out(f"dry run: {len(plan.todo)} of {len(plan.points)} runs would execute")
        out(executors.estimate(plan, pool))
        return 0
    code = _execute(plan, pool, out)
    if report and code == 0:
        _render(study, profile, plan.uri, Path(results_dir) / profile, out)
    return code
