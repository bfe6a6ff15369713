"""One point of a study, executed anywhere: claim it, find or create its MLflow child run, train, finish.

A task is a plain dict (picklable, JSON-able) so that any executor, a local process pool or a cluster
job, can run :func:`execute`. Claiming is an exclusive ``flock`` on ``<home>/runs/<hash>/lock``: a point
is trained by one process at a time, however many runners share the store (the lock is released by the
OS when a worker dies, even by SIGKILL). Under the lock the worker looks the hash up in the store:

- finished in this study's experiment: nothing to do;
- finished in another study's (e.g. Table 2's KLIF runs, wanted by Table 4 too): copied into this one
  (params, tags, metric histories, dataset inputs, ``suite.copied_from``), no training;
- unfinished in this study's experiment (a killed run): that run is resumed, from the last checkpoint;
- otherwise a new child run is created.

The run's data is logged as its MLflow dataset input as soon as the trainer has loaded it (the trainer's
``on_data``: it stays MLflow-free, and the data is loaded once), before the first epoch; a resumed run logs
the same input again, which MLflow keeps once. The runner hears ``EventKind.START`` when a point begins to
train (its live display shows a line per running run), then an ``EPOCH`` per epoch.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
from pathlib import Path
from typing import Any

from suite.contract import FINAL_METRICS, EventKind, Outcome, Result, Role, RunStatus, Tag
from suite.study import tracking


def _claim(workdir: Path):
    workdir.mkdir(parents=True, exist_ok=True)
    fd = os.open(workdir / "lock", os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # who holds the point, for people (and the kill test)
    return fd


def _point_tags(task: dict[str, Any]) -> dict[str, str]:
    return {
        Tag.ROLE: Role.CHILD,
        Tag.STUDY: task["study"],
        Tag.PROFILE: task["profile"],
        Tag.CONFIG_HASH: task["hash"],
        Tag.PARENT_RUN: task["parent_run_id"],
        **{Tag.axis(k): str(v) for k, v in task["axes"].items()},
        **task.get("tags", {}),  # a search's arm, trial number and phase
    }


def _log_batches(client, run_id: str, *, params=(), metrics=()) -> None:
    params, metrics = list(params), list(metrics)
    for i in range(0, len(params), 100):
        tracking.retry(client.log_batch, run_id, params=params[i : i + 100])
    for i in range(0, len(metrics), 500):
        tracking.retry(client.log_batch, run_id, metrics=metrics[i : i + 500])


def _copy_run(client, src, task: dict[str, Any]) -> str:
    """A finished run of another study, copied into this study's experiment (no training)."""
    from mlflow.entities import Param

    own = (Tag.STATUS, Tag.ERROR)  # finished only once everything is copied (_finish, last)
    tags = {k: v for k, v in src.data.tags.items() if k.startswith(Tag.PREFIX) and k not in own}
    tags.update(_point_tags(task), **{Tag.COPIED_FROM: src.info.run_id, Tag.STATUS: RunStatus.RUNNING})
    run = tracking.retry(client.create_run, task["experiment_id"], tags=tags, run_name=src.info.run_name)
    rid = run.info.run_id
    metrics = []
    for key in src.data.metrics:
        metrics += tracking.retry(client.get_metric_history, src.info.run_id, key)
    _log_batches(client, rid, params=[Param(k, v) for k, v in src.data.params.items()], metrics=metrics)
    tracking.copy_inputs(client, src, rid)  # none on runs logged before datasets were: not rebuilt here
    _finish(client, rid)
    return rid


def _environment(task: dict[str, Any], device: str) -> dict[str, str]:
    import torch

    threads = task.get("runtime", {}).get("threads") or torch.get_num_threads()
    return tracking.environment_tags(
        device, task["commit"], threads=threads, workers=task.get("concurrency", 1)
    )


def _set_tags(client, rid: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    tracking.retry(client.log_batch, rid, tags=[RunTag(k, v) for k, v in tags.items()])


def _create_run(client, task: dict[str, Any], device: str) -> str:
    tags = {**_point_tags(task), Tag.STATUS: RunStatus.RUNNING, **_environment(task, device)}
    run = tracking.retry(client.create_run, task["experiment_id"], tags=tags, run_name=task["name"])
    _log_params(client, run.info.run_id, task, have={})
    return run.info.run_id


def _log_params(client, rid: str, task: dict[str, Any], have: dict[str, str]) -> None:
    """The config as planned and hashed (device "auto" stays "auto"); on resume, what a kill left unlogged."""
    from mlflow.entities import Param

    params = tracking.params_of(task["config"])
    _log_batches(client, rid, params=[Param(k, v) for k, v in params.items() if k not in have])


def _log_backlog(client, rid: str, workdir: Path, emit) -> set[int]:
    """Epochs checkpointed before a kill but never logged are logged now, from the checkpoint.

    Returns every epoch the run has logged (step 0: the final metrics), so that nothing is logged twice: an
    epoch retrained after falling back from a corrupt checkpoint was logged before it was lost, with the same
    numbers (resume is exact).
    """
    from suite import train

    logged = tracking.logged_epochs(client, rid)
    ckpt = train.load_checkpoint(workdir)
    if ckpt is None:
        return logged
    for metrics in ckpt["history"]:
        if metrics["epoch"] not in logged:
            tracking.log_epoch(client, rid, metrics)
            logged.add(metrics["epoch"])
    emit(kind=EventKind.RESUME, epoch=ckpt["epoch"], run_id=rid)
    return logged


def _write_artifacts(workdir: Path, result: dict[str, Any]) -> list[Path]:
    cfg_path = workdir / "config.json"
    cfg_path.write_text(json.dumps(result["config"], indent=2, sort_keys=True, default=str))
    csv_path = workdir / "epochs.csv"
    keys = sorted({k for h in result["history"] for k in h}, key=lambda k: (k != "epoch", k))
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(result["history"])
    return [cfg_path, csv_path] + ([Path(result["final_checkpoint"])] if result["final_checkpoint"] else [])


def _record_result(client, rid: str, workdir: Path, result: dict[str, Any], logged: set[int]) -> dict:
    finals = {k: result[k] for k in FINAL_METRICS}
    if 0 not in logged:  # a kill between these and FINISHED must not log them twice
        tracking.log_epoch(client, rid, {"epoch": 0, **finals})
    tracking.retry(client.set_tag, rid, Tag.DATA_SIZES, f"train={result['n_train']},test={result['n_test']}")
    layers = [k.removeprefix("rate/") for k in result["history"][-1] if k.startswith("rate/")]
    tracking.retry(client.set_tag, rid, Tag.LAYERS, ",".join(layers))
    for path in _write_artifacts(workdir, result):
        tracking.retry(client.log_artifact, rid, str(path))
    return finals


def _finish(client, rid: str) -> None:
    tracking.retry(client.set_tag, rid, Tag.STATUS, RunStatus.FINISHED)
    tracking.retry(client.set_terminated, rid, "FINISHED")


def _fail(client, rid: str, err: BaseException) -> None:
    tracking.retry(client.set_tag, rid, Tag.STATUS, RunStatus.FAILED)
    tracking.retry(client.set_tag, rid, Tag.ERROR, f"{type(err).__name__}: {err}"[:4000])
    tracking.retry(client.set_terminated, rid, "FAILED")


class Requeued(SystemExit):
    """The job running this point is being requeued (a time limit, a preemption: see
    :mod:`suite.study.executor.node`): the run is marked interrupted, never failed, and resumes there."""


def _interrupt(client, rid: str) -> None:
    tracking.retry(client.set_tag, rid, Tag.STATUS, RunStatus.INTERRUPTED)
    tracking.retry(client.set_terminated, rid, "KILLED")


def _prune(client, rid: str, err: BaseException) -> None:
    tracking.retry(client.set_tag, rid, Tag.STATUS, RunStatus.PRUNED)
    tracking.retry(client.set_tag, rid, Tag.ERROR, str(err)[:4000])
    tracking.retry(client.set_terminated, rid, "KILLED")


def _train(client, rid: str, task: dict, workdir: Path, device: str, emit, logged: set[int]) -> dict | None:
    """Train the point; returns its final metrics, or None when a search's pruner stopped it."""
    from suite import train
    from suite.study import search

    link = search.TrialLink(task["search"]) if task.get("search") else None

    def on_epoch(metrics: dict[str, Any]) -> None:
        if metrics["epoch"] not in logged:
            tracking.log_epoch(client, rid, metrics)
        if link is not None:
            link.epoch(metrics)  # may raise Pruned: after the epoch is logged, so the curve shows it
        emit(
            kind=EventKind.EPOCH,
            epoch=metrics["epoch"],
            test_acc=metrics["test_acc"],
            time=metrics["epoch_time"],
        )

    def on_data(summary) -> None:
        tracking.log_dataset(client, rid, summary)

    config = {**task["config"], **task.get("runtime", {}), "device": device}
    try:
        result = train.train(config, workdir=workdir, callback=on_epoch, on_data=on_data)
    except search.Pruned as err:
        _prune(client, rid, err)
        return None
    except Requeued:
        _interrupt(client, rid)
        raise
    except BaseException as err:
        if not tracking.unreachable(
            err, task["tracking_uri"]
        ):  # else nothing can be recorded: the run stays resumable as it is
            _fail(client, rid, err)
        raise
    finals = _record_result(client, rid, workdir, result, logged)
    _finish(client, rid)
    return finals


def execute(task: dict[str, Any], events: Any = None) -> Result:
    """Run one point; ``events`` (a queue or None) receives progress dicts."""
    from mlflow.tracking import MlflowClient

    from suite import train

    def emit(**kw) -> None:
        if events is not None:
            events.put({"hash": task["hash"], **kw})

    workdir = Path(task["home"]) / "runs" / task["hash"]
    fd = _claim(workdir)
    if fd is None:
        return Result(task["hash"], Outcome.BUSY)
    try:
        client = MlflowClient(task["tracking_uri"])
        found = tracking.find_child(client, task["hash"])
        here = [r for r in found if r.info.experiment_id == task["experiment_id"]]
        done = [r for r in found if tracking.is_finished(r)]
        if any(tracking.is_finished(r) for r in here):
            return Result(task["hash"], Outcome.DONE)
        pruned = [r for r in here if r.data.tags.get(Tag.STATUS) == RunStatus.PRUNED]
        if pruned:  # final: a pruned trial is never resumed into a full one
            return Result(task["hash"], Outcome.PRUNED, pruned[0].info.run_id)
        if done:
            for cut_short in (r for r in here if Tag.COPIED_FROM in r.data.tags):
                tracking.retry(client.delete_run, cut_short.info.run_id)  # copied again, whole
            return Result(task["hash"], Outcome.COPIED, _copy_run(client, done[0], task))
        device = train.pick_device(task["config"]["device"])  # here, on the machine that trains
        if here:
            rid = here[0].info.run_id
            tracking.retry(client.update_run, rid, status="RUNNING")
            tracking.retry(client.set_tag, rid, Tag.STATUS, RunStatus.RUNNING)
            tracking.retry(client.set_tag, rid, Tag.PARENT_RUN, task["parent_run_id"])  # this invocation's
            _set_tags(client, rid, _environment(task, device))  # the footer shows where the run ended
            _log_params(client, rid, task, have=here[0].data.params)
        else:
            rid = _create_run(client, task, device)
        emit(kind=EventKind.START, epochs=task["config"]["epochs"], run_id=rid)
        logged = _log_backlog(client, rid, workdir, emit)
        finals = _train(client, rid, task, workdir, device, emit, logged)
        if finals is None:
            return Result(task["hash"], Outcome.PRUNED, rid)
        return Result(task["hash"], Outcome.TRAINED, rid, finals)
    except Exception as err:
        if tracking.unreachable(err, task["tracking_uri"]):
            raise tracking.StoreUnreachable(
                f"tracking server {tracking.redact(task['tracking_uri'])} is unreachable "
                f"({type(err).__name__}); every run stays resumable"
            ) from None
        raise
    finally:
        os.close(fd)
