"""A search study's invocation: the arms' trials through the executor, then each arm's best retrained.

Two stages under one parent run (:func:`suite.study.runner._execute`): the trials, a lazy stream that asks
Optuna for the next trial only when a slot frees (:func:`suite.study.search.trial_stream`), each outcome told
to Optuna as it arrives; then, for every arm whose budget is spent, its best configuration with the retrain
seeds, as plain points (finished ones skipped, as in a grid study). A rerun asks no trial beyond the budget,
reruns only killed trials, and retrains only what is not finished.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from suite.contract import Phase, PointState, Tag
from suite.study import search as S
from suite.study import tracking
from suite.study.plan import Plan
from suite.study.runner import Tally, _execute, _run, _task
from suite.study.search_spec import Search


def _searches(plan: Plan, search: Search, url: str) -> list[S.ArmSearch]:
    store = S.storage(url)  # here, in the main process, before any worker opens it
    points = [p for p in plan.points if plan.states[p.hash] != PointState.SKIPPED]  # no data, profile skip
    return [S.ArmSearch(arm, search, store) for arm in S.arms(plan.study, plan.profile, search, points)]


def _retrain_tasks(plan: Plan, searches: list[S.ArmSearch], parent_id: str, commit: str) -> tuple[list, int]:
    tasks, skipped = [], 0
    for s in searches:
        if not s.finished():
            continue
        points = s.retrain_points()
        states = S.retrain_states(points, plan.uri, plan.experiment_id)
        tags = {Tag.ARM: s.arm.name, Tag.PHASE: Phase.RETRAIN}
        tasks += [_task(plan, p, parent_id, commit, tags=tags) for p in points if states[p.hash].runs]
        skipped += sum(not states[p.hash].runs for p in points)
    return tasks, skipped


def _work(searches: list[S.ArmSearch], url: str, plan: Plan, pool, client, parent, commit: str, out) -> Tally:
    home = tracking.runs_home(plan.uri)
    by_name = {s.arm.name: s for s in searches}

    def make_task(s: S.ArmSearch, trial) -> dict:
        info = S.link_info(s, trial, url)
        return _task(plan, s.point(trial), parent.info.run_id, commit, tags=s.tags(trial), search=info)

    def told(task: dict, result) -> None:
        link = task["search"]
        S.tell(by_name[link["study"]], link["number"], task, result, client)

    tally = Tally()
    left = _left(searches)
    if left:
        stream = S.trial_stream(searches, home, make_task)
        tally = _run(stream, pool, client, parent, out, expected=left, on_result=told)
        for s in searches:
            out(s.lines()[0].strip())
    unfinished = [s.arm.label for s in searches if not s.finished()]
    if unfinished:
        out(
            f"search: not retraining {', '.join(unfinished)}: trials left unfinished; run the same command again"
        )
    tasks, skipped = _retrain_tasks(plan, searches, parent.info.run_id, commit)
    if tasks:
        out(f"retraining the best configuration of each arm: {len(tasks)} runs")
        tally = tally + _run(tasks, pool, client, parent, out)
    return tally + Tally(skipped=skipped)


def _left(searches: list[S.ArmSearch]) -> int:
    """Trials still to run: not yet asked, or asked and still running (killed ones are rerun)."""
    return sum(max(0, s.search.trials - len(s.trials())) + s.counts()["running"] for s in searches)


def run(
    plan: Plan, search: Search, pool, storage_url: str | None, *, dry_run: bool, out: Callable[[str], None]
) -> int:
    """Print the search's plan, then (unless ``dry_run``) run it; returns the runner's exit code."""
    url = storage_url or S.default_storage(plan.uri)
    searches = _searches(plan, search, url)
    left = _left(searches)
    head = plan.lines()[0]
    out(
        f"{head}; search: {len(searches)} arms x {search.trials} trials ({search.sampler} sampler, "
        f"{search.pruner} pruner, metric {search.metric}), then retrain seeds {list(search.retrain_seeds)}; "
        f"optuna storage {tracking.redact(url)}; {pool.plan(max(1, left))}"
    )
    for line in plan.lines()[1:]:
        if "skipp" in line:
            out(line)
    for s in searches:
        out(s.lines()[0])
    if dry_run:
        out(
            f"dry run: {left} trials would run, then up to {len(searches) * len(search.retrain_seeds)} retrains"
        )
        return 0
    return _execute(plan, pool, out, work=partial(_work, searches, url))
