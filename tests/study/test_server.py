"""``python -m suite server`` on a real PostgreSQL: its command line, and a study that outlives a restart."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

import pytest
from tiny import tiny

from suite.contract import Role, RunStatus, Tag, tag_filter
from suite.study import server
from suite.study.executor import ExecutorError

STUDY = tiny("served", epochs=3, n=1500, title="LIF vs KLIF on MNIST, tracked by a server on PostgreSQL")


def _args(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    server.add_parser(parser.add_subparsers())
    argv = ["server"] + [x for k, v in kw.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"backend_store_uri": "sqlite:///mlflow.db"}, "sqlite is not for a server many nodes write to"),
        (
            {"backend_store_uri": "postgresql://u@h/db", "workers": 8},
            "--workers 8 x (--pool-size 5 + --max-overflow 10) = 120 connections",
        ),
    ],
)
def test_bad_server_settings_are_one_line(kw, message):
    with pytest.raises(
        ExecutorError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")
    ):
        server.command(_args(**kw))


def test_the_server_binds_loopback_unless_told_and_then_allows_this_hosts_names():
    cmd, env = server.command(_args(backend_store_uri="postgresql://u@h:5432/mlflow"))
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and "--allowed-hosts" not in cmd
    assert cmd[cmd.index("--backend-store-uri") + 1] == "postgresql+psycopg2://u@h:5432/mlflow"
    assert "--serve-artifacts" in cmd and env["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"] == "5"
    cmd, _ = server.command(_args(backend_store_uri="postgresql://u@h/mlflow", host="0.0.0.0"))
    allowed = cmd[cmd.index("--allowed-hosts") + 1].split(",")
    assert f"{socket.gethostname()}:*" in allowed and "0.0.0.0" not in allowed


@pytest.mark.slow
def test_a_study_with_two_workers_outlives_a_server_restart(tracking_server, tmp_path, data_root):
    from mlflow.tracking import MlflowClient

    study = tmp_path / "served.toml"
    study.write_text(STUDY)
    home = tmp_path / "home"
    env = {**os.environ, "SUITE_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    cmd = [sys.executable, "-m", "suite", "study", str(study), "--profile", "smoke", "--workers", "2"]
    cmd += ["--tracking-uri", tracking_server.uri, "--data-root", str(data_root), "--no-report"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not list((home / "runs").glob("*/ckpt-0001.pt")):
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.2)
        tracking_server.stop()  # mid-study: the workers' MLflow clients retry while it is down
        time.sleep(3)
        tracking_server.start()
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    client = MlflowClient(tracking_server.uri)
    exp = client.get_experiment_by_name("served")
    runs = client.search_runs([exp.experiment_id], filter_string=tag_filter(ROLE=Role.CHILD))
    assert len(runs) == 2 and {r.data.tags[Tag.STATUS] for r in runs} == {RunStatus.FINISHED}
    for run in runs:
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "test_acc")) == [1, 2, 3]
        assert run.data.params["neuron"] in ("LIF", "KLIF") and "best_test_acc" in run.data.metrics
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"config.json", "epochs.csv"}
