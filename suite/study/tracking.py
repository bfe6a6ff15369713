"""MLflow tracking: the store, one experiment per study, a parent run per invocation, a child per point.

The default store is embedded: ``<home>/mlflow.db`` (sqlite) and ``<home>/mlartifacts`` with ``home`` =
``$SUITE_HOME`` or ``./.suite`` (git-ignored). :func:`init_store` creates the database and the experiment
in the main process before any worker starts: several processes creating a sqlite store at once corrupt it.
``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` points at a server instead.

Schema (what the reporter reads; the names are :mod:`suite.contract`'s): child runs carry the tags role,
study, profile, config hash, status (finished only after the last epoch), commit, host, hardware, torch,
device, data sizes and one per axis; every resolved setting as a param; per-epoch metrics with
``step = epoch``; the final metrics (:data:`suite.contract.FINAL_METRICS`) at step 0.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from mlflow.tracking import MlflowClient  # noqa: E402

from suite.contract import Role, RunStatus, Tag, tag_filter  # noqa: E402


def home() -> Path:
    return Path(os.environ.get("SUITE_HOME", ".suite")).resolve()


def default_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home() / 'mlflow.db'}"


def init_store(uri: str, experiment: str) -> str:
    """Create the store (tables, migrations) and the study's experiment; returns the experiment id."""
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is not None:
        return exp.experiment_id
    artifacts = None
    if uri.startswith("sqlite:///"):
        artifacts = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts" / experiment).as_uri()
    try:
        return client.create_experiment(experiment, artifact_location=artifacts)
    except Exception:  # created by a concurrent runner in the meantime
        return client.get_experiment_by_name(experiment).experiment_id


def retry(call, *args, attempts: int = 8, **kwargs):
    """sqlite under concurrent writers may answer 'database is locked': wait and try again."""
    for i in range(attempts):
        try:
            return call(*args, **kwargs)
        except Exception as err:
            if "locked" not in str(err).lower() or i == attempts - 1:
                raise
            time.sleep(0.2 * 2**i)


def find_child(client: MlflowClient, config_hash: str, experiment_ids: list[str] | None = None):
    """Child runs with this config hash, finished ones first, newest first within each group."""
    ids = experiment_ids or [e.experiment_id for e in client.search_experiments()]
    if not ids:
        return []
    runs = retry(
        client.search_runs,
        ids,
        filter_string=tag_filter(CONFIG_HASH=config_hash, ROLE=Role.CHILD),
        max_results=100,
    )
    return sorted(runs, key=lambda r: (not is_finished(r), -(r.info.start_time or 0)))


def children_by_hash(uri: str) -> dict[str, list]:
    """Every child run in the store, grouped by config hash (finished first, newest first): one paged query."""
    client = MlflowClient(uri)
    ids = [e.experiment_id for e in retry(client.search_experiments)]
    found, token = [], None
    while ids:
        page = retry(
            client.search_runs,
            ids,
            filter_string=tag_filter(ROLE=Role.CHILD),
            max_results=5000,
            page_token=token,
        )
        found.extend(page)
        token = page.token
        if not token:
            break
    out: dict[str, list] = {}
    for run in sorted(found, key=lambda r: (not is_finished(r), -(r.info.start_time or 0))):
        out.setdefault(run.data.tags.get(Tag.CONFIG_HASH, ""), []).append(run)
    return out


def is_finished(run) -> bool:
    return run.data.tags.get(Tag.STATUS) == RunStatus.FINISHED


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        sha = out.stdout.strip() or "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return sha + ("-dirty" if dirty and sha != "unknown" else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def hardware(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {os.cpu_count()} cores, {cpu_model()}"


def environment_tags(device: str, commit: str, *, threads: int, workers: int) -> dict[str, str]:
    import torch

    return {
        Tag.COMMIT: commit,
        Tag.HOST: socket.gethostname(),
        Tag.HARDWARE: hardware(device),
        Tag.CPU: cpu_model(),
        Tag.THREADS: str(threads),
        Tag.WORKERS: str(workers),
        Tag.TORCH: torch.__version__,
        Tag.DEVICE: device,
    }


def params_of(config: dict[str, Any]) -> dict[str, str]:
    return {k: "None" if v is None else str(v) for k, v in sorted(config.items())}


def log_epoch(client: MlflowClient, run_id: str, metrics: dict[str, Any]) -> None:
    from mlflow.entities import Metric

    ts = int(time.time() * 1000)
    step = int(metrics["epoch"])
    batch = [Metric(k, float(v), ts, step) for k, v in metrics.items() if k != "epoch" and v is not None]
    retry(client.log_batch, run_id, metrics=batch)


def logged_epochs(client: MlflowClient, run_id: str) -> set[int]:
    return {m.step for m in retry(client.get_metric_history, run_id, "test_acc")}
