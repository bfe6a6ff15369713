"""The runner end to end on real data: smoke studies, reruns, a SIGKILLed worker, two runners at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny import tiny

from suite.contract import Role, RunStatus, Tag, tag_filter
from suite.study import run_study, study_names

pytestmark = pytest.mark.slow


def _children(client, experiment: str):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], filter_string=tag_filter(ROLE=Role.CHILD))
    return runs


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{tmp_path}/home/mlflow.db"


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    """One store for all studies' smoke runs: points shared between studies are copied, not retrained."""
    home = tmp_path_factory.mktemp("smoke-home")
    return home, f"sqlite:///{home}/mlflow.db"


@pytest.mark.parametrize(
    "name",
    # table3 is the README's main job: its workers keep the compiled kernel, as a user's do (conftest.py)
    [pytest.param(n, marks=pytest.mark.compiled) if n == "table3" else n for n in study_names()],
)
def test_smoke_profile_runs_end_to_end_and_rerun_does_nothing(
    name, shared_store, data_root, monkeypatch, tmp_path
):
    from mlflow.tracking import MlflowClient

    home, uri = shared_store
    monkeypatch.setenv("SUITE_HOME", str(home))
    lines: list[str] = []
    code = run_study(
        name,
        profile="smoke",
        workers=2,
        data_root=str(data_root),
        tracking_uri=uri,
        results_dir=tmp_path / "results",
        out=lines.append,
    )
    assert code == 0, "\n".join(lines)
    runs = _children(MlflowClient(uri), name)
    finished = [r for r in runs if r.data.tags[Tag.STATUS] == RunStatus.FINISHED]
    assert finished and len(finished) == len(runs)
    hashes = [r.data.tags[Tag.CONFIG_HASH] for r in runs]
    assert len(hashes) == len(set(hashes)), "one child run per point"
    for r in finished:
        assert 0.0 <= r.data.metrics["best_test_acc"] <= 100.0
        assert r.data.params["neuron"] and r.data.tags[Tag.COMMIT]

    again: list[str] = []
    assert (
        run_study(
            name,
            profile="smoke",
            workers=1,
            data_root=str(data_root),
            tracking_uri=uri,
            report=False,
            out=again.append,
        )
        == 0
    )
    assert any("0 runs completed" in line for line in again), again
    assert len(_children(MlflowClient(uri), name)) == len(runs)


def _tiny(tmp_path: Path, epochs: int, n: int) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(tiny(epochs=epochs, n=n))
    return path


def _cli(study: Path, uri: str, data_root: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "suite",
        "study",
        str(study),
        "--profile",
        "smoke",
        "--tracking-uri",
        uri,
        "--data-root",
        str(data_root),
        "--no-report",
        *extra,
    ]


def test_sigkilled_worker_is_resumed_without_duplicates(tmp_path, store, data_root):
    from mlflow.tracking import MlflowClient

    study = _tiny(tmp_path, epochs=3, n=2000)
    env = {**os.environ, "SUITE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        _cli(study, store, data_root), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    runs_dir = tmp_path / "home" / "runs"
    deadline = time.time() + 240
    ckpt = None
    while time.time() < deadline and ckpt is None:
        found = sorted(runs_dir.glob("*/ckpt-0001.pt")) if runs_dir.exists() else []
        ckpt = found[0] if found else None
        time.sleep(0.2)
    assert ckpt is not None, "no checkpoint appeared"
    pid = int((ckpt.parent / "lock").read_text())
    os.kill(pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode != 0, out

    client = MlflowClient(store)
    before = _children(client, "tiny")
    assert any(r.data.tags[Tag.STATUS] != RunStatus.FINISHED for r in before)

    rerun = subprocess.run(
        _cli(study, store, data_root), env=env, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "[resume]" in rerun.stdout
    after = _children(client, "tiny")
    assert len(after) == 2 and {r.data.tags[Tag.STATUS] for r in after} == {RunStatus.FINISHED}
    killed = {r.info.run_id for r in before if r.data.tags[Tag.STATUS] != RunStatus.FINISHED}
    assert killed <= {r.info.run_id for r in after}, "the killed run was resumed, not duplicated"
    for r in after:
        steps = [m.step for m in client.get_metric_history(r.info.run_id, "test_acc")]
        assert sorted(steps) == [1, 2, 3]
        (data,) = r.inputs.dataset_inputs  # logged again on resume, kept once
        assert data.dataset.name == "mnist" and '"train": 2000' in data.dataset.profile


def _one_value_per_epoch(client, runs, epochs):
    for r in runs:
        assert sorted(m.step for m in client.get_metric_history(r.info.run_id, "test_acc")) == list(
            range(1, epochs + 1)
        )
        assert [m.step for m in client.get_metric_history(r.info.run_id, "best_test_acc")] == [0]


@pytest.mark.parametrize("homes", ["one home", "two homes"])
def test_two_runners_on_one_store_stay_consistent(tmp_path, store, data_root, homes):
    """Claims hold per store: two runners with different SUITE_HOME (two users, two machines) never share a point."""
    from mlflow.tracking import MlflowClient

    study = _tiny(tmp_path, epochs=1, n=300)
    env = {**os.environ, "SUITE_HOME": str(tmp_path / "home")}
    # Create the store first, as the runner does, then start both at once.
    subprocess.run(_cli(study, store, data_root, "--dry-run"), env=env, check=True, capture_output=True)
    envs = [env, {**env, "SUITE_HOME": str(tmp_path / ("home" if homes == "one home" else "elsewhere"))}]
    procs = [
        subprocess.Popen(
            _cli(study, store, data_root, "--workers", "1"),
            env=e,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for e in envs
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    client = MlflowClient(store)
    runs = _children(client, "tiny")
    assert len(runs) == 2, [r.data.tags for r in runs]
    assert {r.data.tags[Tag.STATUS] for r in runs} == {RunStatus.FINISHED}
    assert len({r.data.tags[Tag.CONFIG_HASH] for r in runs}) == 2
    _one_value_per_epoch(client, runs, 1)


def _start_and_wait_for_a_checkpoint(tmp_path, store, data_root):
    study = _tiny(tmp_path, epochs=3, n=2000)
    env = {**os.environ, "SUITE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        _cli(study, store, data_root),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        # ...whose Ctrl-C is not ignored: a shell starts background jobs (CI under `cmd &`) with SIGINT ignored,
        # and a child keeps that, so the runner would never hear the Ctrl-C this test sends
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    runs_dir = tmp_path / "home" / "runs"
    deadline = time.time() + 240
    while time.time() < deadline:
        found = sorted(runs_dir.glob("*/ckpt-0001.pt")) if runs_dir.exists() else []
        if found:
            return study, env, proc, int((found[0].parent / "lock").read_text())
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("no checkpoint appeared")


def _gone(pid: int, seconds: float = 30) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_everything_resumably(tmp_path, store, data_root, sig):
    from mlflow.tracking import MlflowClient

    study, env, proc, worker_pid = _start_and_wait_for_a_checkpoint(tmp_path, store, data_root)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # a terminal's Ctrl-C reaches the whole foreground group
    else:
        os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err and out.strip().splitlines()[-1].startswith("study tiny: interrupted")
    assert _gone(worker_pid), "a worker outlived its runner"

    client = MlflowClient(store)
    exp = client.get_experiment_by_name("tiny").experiment_id
    parents = client.search_runs([exp], filter_string=tag_filter(ROLE=Role.PARENT))
    assert [p.info.status for p in parents] == ["KILLED"]
    stopped = _children(client, "tiny")
    statuses = [r.data.tags[Tag.STATUS] for r in stopped]
    assert RunStatus.INTERRUPTED in statuses and set(statuses) <= {RunStatus.INTERRUPTED, RunStatus.FINISHED}
    assert {r.info.status for r in stopped if r.data.tags[Tag.STATUS] == RunStatus.INTERRUPTED} == {"KILLED"}

    rerun = subprocess.run(
        _cli(study, store, data_root), env=env, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    after = _children(client, "tiny")
    assert len(after) == 2 and {r.data.tags[Tag.STATUS] for r in after} == {RunStatus.FINISHED}
    _one_value_per_epoch(client, after, 3)


def test_a_sigkilled_runner_takes_its_workers_and_its_parent_is_closed_later(tmp_path, store, data_root):
    from mlflow.tracking import MlflowClient

    study, env, proc, worker_pid = _start_and_wait_for_a_checkpoint(tmp_path, store, data_root)
    os.kill(proc.pid, signal.SIGKILL)  # the runner only
    proc.wait(timeout=60)
    assert _gone(worker_pid), "the worker was orphaned"
    proc.communicate(timeout=60)  # EOF: no process of the runner's (workers, queue server) holds its pipes

    client = MlflowClient(store)
    exp = client.get_experiment_by_name("tiny").experiment_id
    (stale,) = client.search_runs([exp], filter_string=tag_filter(ROLE=Role.PARENT))
    assert stale.info.status == "RUNNING"
    rerun = subprocess.run(
        _cli(study, store, data_root), env=env, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert client.get_run(stale.info.run_id).info.status == "KILLED"
    after = _children(client, "tiny")
    assert len(after) == 2 and {r.data.tags[Tag.STATUS] for r in after} == {RunStatus.FINISHED}
    _one_value_per_epoch(client, after, 3)


def _server(db: Path, port: int) -> subprocess.Popen:
    import urllib.request

    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}"]
    cmd += ["--default-artifact-root", (db.parent / "art").as_uri(), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("the MLflow server did not start")


def test_a_tracking_server_outage_stops_the_study_in_one_line_and_everything_resumes(tmp_path, data_root):
    import socket

    from mlflow.tracking import MlflowClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db, uri = tmp_path / "server" / "mlflow.db", f"http://127.0.0.1:{port}"
    db.parent.mkdir()
    server = _server(db, port)
    study = _tiny(tmp_path, epochs=3, n=2000)
    # MLflow's retry budget, made short: the outage below outlasts it.
    env = {**os.environ, "SUITE_HOME": str(tmp_path / "home"), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1"}
    env["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "5"
    try:
        proc = subprocess.Popen(
            _cli(study, uri, data_root, "--workers", "1"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        runs_dir = tmp_path / "home" / "runs"
        deadline = time.time() + 240
        while time.time() < deadline and not list(runs_dir.glob("*/ckpt-0001.pt")):
            time.sleep(0.2)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 75, out + err
        assert "Traceback" not in out + err
        assert "is unreachable" in out.strip().splitlines()[-1]

        server = _server(db, port)
        rerun = subprocess.run(
            _cli(study, uri, data_root, "--workers", "1"),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        client = MlflowClient(uri)
        after = _children(client, "tiny")
        assert len(after) == 2 and {r.data.tags[Tag.STATUS] for r in after} == {RunStatus.FINISHED}
        _one_value_per_epoch(client, after, 3)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
