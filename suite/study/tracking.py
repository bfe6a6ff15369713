"""MLflow tracking: the store, one experiment per study, a parent run per invocation, a child per point.

The default store is embedded: ``<home>/mlflow.db`` (sqlite) and ``<home>/mlartifacts`` with ``home`` =
``$SUITE_HOME`` or ``./.suite`` (git-ignored). :func:`init_store` creates the database and the experiment
in the main process before any worker starts: several processes creating a sqlite store at once corrupt it.
``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` points at a server instead.

Schema (what the reporter reads; the names are :mod:`suite.contract`'s): child runs carry the tags role,
study, profile, config hash, status (finished only after the last epoch), commit, host, hardware, torch,
device, data sizes and one per axis; every resolved setting as a param; per-epoch metrics with
``step = epoch``; the final metrics (:data:`suite.contract.FINAL_METRICS`) at step 0; the data as an MLflow
dataset input (name, split sizes in the profile, a digest of the files: :mod:`suite.data.summary`), so the
UI's Dataset column says what each run saw. Experiments are created as model-training experiments
(:class:`suite.contract.MlflowTag`), so the UI opens them on the runs table.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from mlflow.tracking import MlflowClient  # noqa: E402

from suite.contract import MlflowTag, Role, RunStatus, Tag, tag_filter  # noqa: E402


def home() -> Path:
    return Path(os.environ.get("SUITE_HOME", ".suite")).resolve()


def runs_home(uri: str) -> Path:
    """Where points are claimed and checkpointed (``<here>/runs/<hash>``): the claim must hold per store.

    Beside a sqlite store, so every runner on that store shares the claims whatever its ``SUITE_HOME``;
    for a server, ``SUITE_HOME``, which every machine sharing that server must share (a cluster's working
    folder).
    """
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).resolve().parent
    return home()


def default_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home() / 'mlflow.db'}"


class StoreUnreachable(RuntimeError):
    """The tracking server does not answer: one line naming it."""


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not after MLflow's minutes of retries, when an http(s) store does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.request

    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout).close()
    except OSError as err:
        raise StoreUnreachable(
            f"tracking server {redact(uri)} is unreachable ({getattr(err, 'reason', err)}); start it, or pass "
            f"--tracking-uri; every run stays resumable"
        ) from None


def unreachable(err: BaseException, uri: str) -> bool:
    """Whether an error is an http(s) tracking server not answering, after MLflow's own retries.

    Only the tracking client's errors count (MLflow's REST client, requests, urllib3): a dataset download
    that fails with "connection refused" is the data's problem, and a sqlite store has no server.
    """
    if not uri.startswith(("http://", "https://")):
        return False
    seen = err
    while seen is not None:
        module = type(seen).__module__.split(".")[0]
        if module in ("requests", "urllib3"):
            return True
        if module == "mlflow" and "API request to" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def redact(text: str) -> str:
    """``scheme://user:password@host`` -> ``scheme://***@host``: credentials never reach a tag or a log."""
    return re.sub(r"(\w[\w+.-]*://)[^/@\s]+@", r"\1***@", text)


@contextlib.contextmanager
def _creation_lock(uri: str):
    """Several processes creating one sqlite store at once corrupt its schema migration: one at a time."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".create-lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def init_store(uri: str, experiment: str) -> str:
    """Create the store (tables, migrations) and the study's experiment; returns the experiment id."""
    check_reachable(uri)
    with _creation_lock(uri):
        return _init_store(uri, experiment)


def _init_store(uri: str, experiment: str) -> str:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is not None:
        if exp.tags.get(MlflowTag.EXPERIMENT_KIND) is None:  # created before experiments had a kind
            retry(client.set_experiment_tag, exp.experiment_id, *_KIND)
        return exp.experiment_id
    artifacts = None
    if uri.startswith("sqlite:///"):
        artifacts = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts" / experiment).as_uri()
    try:
        return client.create_experiment(experiment, artifact_location=artifacts, tags=dict([_KIND]))
    except Exception:  # created by a concurrent runner in the meantime
        return client.get_experiment_by_name(experiment).experiment_id


_KIND = (MlflowTag.EXPERIMENT_KIND, MlflowTag.TRAINING_KIND)


TRANSIENT = (
    "locked",  # sqlite under concurrent writers: 'database is locked'
    # two runs logging one new dataset at once: both look it up, both insert, one loses; tried again, it
    # finds the row the other wrote (MLflow's get-or-create is not atomic across processes)
    "unique constraint failed: datasets.",
)


def retry(call, *args, attempts: int = 8, **kwargs):
    """Call, and on a transient store error (:data:`TRANSIENT`) wait and try again."""
    for i in range(attempts):
        try:
            return call(*args, **kwargs)
        except Exception as err:
            if not any(t in str(err).lower() for t in TRANSIENT) or i == attempts - 1:
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def interrupt_children(client: MlflowClient, experiment_id: str, parent_run_id: str) -> int:
    """Mark the unfinished children of a parent interrupted (resumable); returns how many."""
    running = retry(
        client.search_runs,
        [experiment_id],
        filter_string=tag_filter(ROLE=Role.CHILD, PARENT_RUN=parent_run_id, STATUS=RunStatus.RUNNING),
        max_results=5000,
    )
    for run in running:
        retry(client.set_tag, run.info.run_id, Tag.STATUS, RunStatus.INTERRUPTED)
        retry(client.set_terminated, run.info.run_id, "KILLED")
    return len(running)


def close_stale_parents(client: MlflowClient, experiment_id: str) -> int:
    """Parents left RUNNING by a runner on this host that is gone (SIGKILL, power cut): KILLED, with their
    unfinished children marked interrupted. Runners on other hosts cannot be checked from here."""
    parents = retry(
        client.search_runs,
        [experiment_id],
        filter_string=tag_filter(ROLE=Role.PARENT) + " AND attributes.status = 'RUNNING'",
        max_results=5000,
    )
    closed = 0
    for run in parents:
        pid, host = run.data.tags.get(Tag.PID), run.data.tags.get(Tag.HOST)
        if host == socket.gethostname() and pid and pid.isdigit() and not _alive(int(pid)):
            interrupt_children(client, experiment_id, run.info.run_id)
            retry(client.set_terminated, run.info.run_id, "KILLED")
            closed += 1
    return closed


def is_finished(run) -> bool:
    return run.data.tags.get(Tag.STATUS) == RunStatus.FINISHED


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        sha = out.stdout.strip() or "unknown"
        dirty = subprocess.run(
            # results/ is the reporter's own output (a study renders its tables when it ends), not code:
            # a rerun of several studies would otherwise tag every study after the first "-dirty".
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"],
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
    """Epochs with metrics logged, and 0 once the final metrics are."""
    epochs = {m.step for m in retry(client.get_metric_history, run_id, "test_acc")}
    return epochs | ({0} if retry(client.get_metric_history, run_id, "best_test_acc") else set())


def dataset_input(summary):
    """A :class:`suite.data.DataSummary` as an MLflow dataset input: the name and digest the UI's Dataset
    column shows, the split sizes as the profile, the data root as a local source (where, not what)."""
    import json

    from mlflow.entities import Dataset, DatasetInput, InputTag

    dataset = Dataset(
        name=summary.name,
        digest=summary.digest,
        source_type="local",
        source=json.dumps({"uri": Path(summary.root).absolute().as_uri()}),
        profile=json.dumps(
            {"splits": summary.sizes} | ({"layout": summary.layout} if summary.layout else {})
        ),
    )
    return DatasetInput(dataset, tags=[InputTag(MlflowTag.DATASET_CONTEXT, MlflowTag.TRAINING_CONTEXT)])


def log_dataset(client: MlflowClient, run_id: str, summary) -> None:
    """Log the run's data as its dataset input; logging the same summary again (a resume) adds nothing."""
    retry(client.log_inputs, run_id, datasets=[dataset_input(summary)])


def copy_inputs(client: MlflowClient, run, to_run_id: str) -> None:
    """``run``'s dataset inputs also on ``to_run_id``: a copied run keeps them, and a parent lists its
    children's datasets (the UI shows parents with their children folded, so its Dataset column is the
    parents'). Inputs it already has are kept once."""
    if run.inputs.dataset_inputs:
        retry(client.log_inputs, to_run_id, datasets=run.inputs.dataset_inputs)


# MLflow 3.17's UI ignores the experiment kind for the page it opens: a per-browser switch decides
# (GenAI by default, the overview and traces pages); this URL parameter opens the runs table instead.
UI_WORKFLOW = "workflowType=machine_learning"


def ui_link(base: str, experiment_id: str | None = None) -> str:
    """The UI's address of an experiment (or of the experiment list) on its runs table."""
    page = f"experiments/{experiment_id}" if experiment_id is not None else "experiments"
    return f"{base.rstrip('/')}/#/{page}?{UI_WORKFLOW}"
