"""One point of a study, executed anywhere: claim it, find or create its MLflow child run, train, finish.

A task is a plain dict (picklable, JSON-able) so that any executor, a local process pool or a cluster
job, can run :func:`execute`. Claiming is an exclusive ``flock`` on ``<home>/runs/<hash>/lock``: a point
is trained by one process at a time, however many runners share the store (the lock is released by the
OS when a worker dies, even by SIGKILL). Under the lock the worker looks the hash up in the store:

- finished in this study's experiment: nothing to do;
- finished in another study's (e.g. Table 2's KLIF runs, wanted by Table 4 too): copied into this one
  (params, tags, metric histories, ``suite.copied_from``), no training;
- unfinished in this study's experiment (a killed run): that run is resumed, from the last checkpoint;
- otherwise a new child run is created.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
from pathlib import Path
from typing import Any

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


def _copy_run(client, src, experiment_id: str, task: dict[str, Any]) -> str:
    tags = {k: v for k, v in src.data.tags.items() if k.startswith("suite.")}
    tags.update(
        _point_tags(task),
        **{"suite.copied_from": src.info.run_id, "mlflow.parentRunId": task["parent_run_id"]},
    )
    run = tracking.retry(client.create_run, experiment_id, tags=tags, run_name=src.info.run_name)
    rid = run.info.run_id
    from mlflow.entities import Param

    params = [Param(k, v) for k, v in src.data.params.items()]
    for i in range(0, len(params), 100):
        tracking.retry(client.log_batch, rid, params=params[i : i + 100])
    metrics = []
    for key in src.data.metrics:
        metrics += tracking.retry(client.get_metric_history, src.info.run_id, key)
    for i in range(0, len(metrics), 500):
        tracking.retry(client.log_batch, rid, metrics=metrics[i : i + 500])
    tracking.retry(client.set_tag, rid, "suite.status", tracking.FINISHED)
    tracking.retry(client.set_terminated, rid, "FINISHED")
    return rid


def _point_tags(task: dict[str, Any]) -> dict[str, str]:
    return {
        "suite.role": "child",
        "suite.study": task["study"],
        "suite.profile": task["profile"],
        "suite.config_hash": task["hash"],
        **{f"suite.axis.{k}": str(v) for k, v in task["axes"].items()},
    }


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


def execute(task: dict[str, Any], events: Any = None) -> dict[str, Any]:
    """Run one point; ``events`` (a queue or None) receives progress dicts. Returns a status dict."""
    from mlflow.tracking import MlflowClient

    from suite import train

    def emit(**kw) -> None:
        if events is not None:
            events.put({"hash": task["hash"], **kw})

    workdir = Path(task["home"]) / "runs" / task["hash"]
    fd = _claim(workdir)
    if fd is None:
        return {"hash": task["hash"], "status": "busy"}
    try:
        client = MlflowClient(task["tracking_uri"])
        exp = task["experiment_id"]
        found = tracking.find_child(client, task["hash"])
        done = [r for r in found if r.data.tags.get("suite.status") == tracking.FINISHED]
        if any(r.info.experiment_id == exp for r in done):
            return {"hash": task["hash"], "status": "done"}
        if done:
            rid = _copy_run(client, done[0], exp, task)
            return {"hash": task["hash"], "status": "copied", "run_id": rid}
        mine = [r for r in found if r.info.experiment_id == exp]
        if mine:
            rid = mine[0].info.run_id
            tracking.retry(client.update_run, rid, status="RUNNING")
        else:
            tags = {
                **_point_tags(task),
                "suite.status": "running",
                "mlflow.parentRunId": task["parent_run_id"],
            }
            tags.update(tracking.environment_tags(task["device"], task["commit"]))
            run = tracking.retry(client.create_run, exp, tags=tags, run_name=task["name"])
            rid = run.info.run_id
            from mlflow.entities import Param

            params = [Param(k, v) for k, v in tracking.params_of(task["config"]).items()]
            tracking.retry(client.log_batch, rid, params=params)

        # Epochs checkpointed before a kill but never logged are logged now, from the checkpoint.
        ckpt = train.load_checkpoint(workdir)
        if ckpt is not None:
            logged = tracking.logged_epochs(client, rid)
            for metrics in ckpt["history"]:
                if metrics["epoch"] not in logged:
                    tracking.log_epoch(client, rid, metrics)
            emit(kind="resume", epoch=ckpt["epoch"], run_id=rid)
        del ckpt

        def on_epoch(metrics: dict[str, Any]) -> None:
            tracking.log_epoch(client, rid, metrics)
            emit(
                kind="epoch", epoch=metrics["epoch"], test_acc=metrics["test_acc"], time=metrics["epoch_time"]
            )

        config = {**task["config"], **task.get("runtime", {})}
        try:
            result = train.train(config, workdir=workdir, callback=on_epoch)
        except BaseException as err:
            tracking.retry(client.set_tag, rid, "suite.status", "failed")
            tracking.retry(client.set_tag, rid, "suite.error", f"{type(err).__name__}: {err}"[:4000])
            tracking.retry(client.set_terminated, rid, "FAILED")
            raise
        finals = {
            k: result[k]
            for k in ("best_test_acc", "final_test_acc", "n_params", "n_train", "n_test", "wall_time_s")
        }
        tracking.log_epoch(client, rid, {"epoch": 0, **finals})
        tracking.retry(
            client.set_tag, rid, "suite.data_sizes", f"train={result['n_train']},test={result['n_test']}"
        )
        layers = [k.removeprefix("rate/") for k in result["history"][-1] if k.startswith("rate/")]
        tracking.retry(
            client.set_tag, rid, "suite.layers", ",".join(layers)
        )  # forward order, for the figures
        for path in _write_artifacts(workdir, result):
            tracking.retry(client.log_artifact, rid, str(path))
        tracking.retry(client.set_tag, rid, "suite.status", tracking.FINISHED)
        tracking.retry(client.set_terminated, rid, "FINISHED")
        return {"hash": task["hash"], "status": "trained", "run_id": rid, **finals}
    finally:
        os.close(fd)
