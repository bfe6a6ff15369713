"""The command line: ``python -m suite ui`` serves the store's runs on loopback; bad input is one line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from suite.contract import Role, RunStatus, Tag


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ui_serves_the_store_on_loopback(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    exp = client.create_experiment("table3")
    client.create_run(exp, tags={Tag.ROLE: Role.CHILD, Tag.STATUS: RunStatus.FINISHED})
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "suite", "ui", "--tracking-uri", uri, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        start_new_session=True,  # the server starts workers: stop the whole group
    )
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        body = None
        deadline = time.time() + 60
        while time.time() < deadline and body is None:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/search",
                    data=json.dumps({"experiment_ids": [exp]}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                body = json.loads(urllib.request.urlopen(req, timeout=5).read())
            except OSError:
                time.sleep(0.5)
        assert body is not None, "the UI did not answer within 60 s"
        assert len(body["runs"]) == 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_unknown_study_lists_the_known_ones(capsys):
    from suite.cli import main

    assert main(["study", "table9", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "unknown study 'table9'; known studies: controls, table2, table3, table4, table5" in err


@pytest.mark.parametrize("profile", ["..", "../x", "a/b", ""])
def test_report_refuses_a_profile_that_is_not_a_name(tmp_path, capsys, monkeypatch, profile):
    from suite.cli import main

    monkeypatch.chdir(tmp_path)  # where sqlite:///x.db would be created

    out = tmp_path / "results"
    assert (
        main(
            ["report", "table3", "--profile", profile, "--out", str(out), "--tracking-uri", "sqlite:///x.db"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: --profile") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [], "nothing written: no results folder, no store"


def test_an_unreachable_server_is_one_line_in_seconds(tmp_path, capsys):
    from suite.cli import main

    uri = f"http://127.0.0.1:{_free_port()}"
    assert main(["report", "table3", "--profile", "cpu", "--out", str(tmp_path), "--tracking-uri", uri]) == 2
    assert main(["study", "table3", "--profile", "cpu", "--dry-run", "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and err.count(f"tracking server {uri} is unreachable") == 2


def test_credentials_never_reach_a_tag():
    from suite.study.tracking import redact

    assert (
        redact(
            "python -m suite study t --tracking-uri https://alice:s3cret@mlflow.lab:5000 --x postgresql://u:p@db/x"
        )
        == "python -m suite study t --tracking-uri https://***@mlflow.lab:5000 --x postgresql://***@db/x"
    )
    assert redact("sqlite:////home/a/mlflow.db") == "sqlite:////home/a/mlflow.db"


@pytest.mark.parametrize("workers", ["0", "-3", "many"])
def test_a_bad_worker_count_is_one_line_before_the_store(tmp_path, capsys, workers):
    from suite.cli import main

    store = tmp_path / "store" / "mlflow.db"
    args = [
        "study",
        "table3",
        "--profile",
        "smoke",
        "--workers",
        workers,
        "--tracking-uri",
        f"sqlite:///{store}",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: pool: workers: {workers if workers == 'many' else int(workers)!r}")
    assert err.count("\n") == 1 and not store.parent.exists()


def test_only_the_tracking_clients_errors_mean_an_unreachable_server():
    import urllib.error

    from mlflow.exceptions import MlflowException

    from suite.data import DatasetNotFound
    from suite.study.tracking import unreachable

    http = "http://127.0.0.1:5000"
    server_gone = MlflowException(f"API request to {http}/api/2.0/mlflow/runs/log-batch failed: Max retries")
    assert unreachable(server_gone, http)
    assert not unreachable(server_gone, "sqlite:///m.db")
    try:  # a dataset whose download is refused, as offline: the data's problem, never the tracking server's
        try:
            raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
        except urllib.error.URLError as err:
            raise DatasetNotFound("cifar10: could not download ... (Connection refused)") from err
    except DatasetNotFound as err:
        assert not unreachable(err, http)
