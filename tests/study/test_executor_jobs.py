"""submitit-local end to end on real data: a preempted job requeues and resumes under the same run, a
SIGKILLed job is one failed line and resumes on the rerun, and the runs equal the local pool's."""

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

pytestmark = pytest.mark.slow

TINY = tiny(epochs=4, n=1000)


def _study(tmp_path: Path, home: Path, data_root: Path, executor: str) -> list[str]:
    study = tmp_path / "tiny.toml"
    study.write_text(TINY)
    cmd = [sys.executable, "-m", "suite", "study", str(study), "--profile", "smoke", "--no-report"]
    cmd += ["--tracking-uri", f"sqlite:///{home}/mlflow.db", "--data-root", str(data_root)]
    return cmd + ["--executor", executor, "--workers", "2"]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "SUITE_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}


def _runs(home: Path) -> dict[str, object]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{home}/mlflow.db")
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id], filter_string=tag_filter(ROLE=Role.CHILD))
    out = {}
    for run in runs:
        h = run.data.tags[Tag.CONFIG_HASH]
        assert h not in out, "one run per point"
        history = {
            k: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, k)]
            for k in ("test_acc", "train_loss")
        }
        out[h] = (run, {k: sorted(v) for k, v in history.items()})
    return out


def _training(home: Path) -> set[str]:
    """Points past their first epoch (a checkpoint) and not finished (not the last one yet)."""
    return {p.parent.name for p in home.glob("runs/*/ckpt-000[1-2].pt")} - {
        p.parent.name for p in home.glob("runs/*/ckpt-0004.pt")
    }


def _holder(home: Path, h: str) -> int:
    return int((home / "runs" / h / "lock").read_text().split()[0])


def test_submitit_local_requeues_resumes_and_matches_the_pool(tmp_path, data_root):
    a = tmp_path / "a"
    proc = subprocess.Popen(
        _study(tmp_path, a, data_root, "submitit-local"),
        env=_env(a),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 300
        signalled: dict[str, signal.Signals] = {}
        while time.time() < deadline and len(signalled) < 2:
            assert proc.poll() is None, proc.stdout.read()
            for h in sorted(_training(a) - set(signalled)):
                # the first: what Slurm sends at a time limit or a preemption; the second: a lost node, OOM
                signalled[h] = signal.SIGKILL if signalled else signal.SIGUSR2
                os.kill(_holder(a, h), signalled[h])
            time.sleep(0.1)
        (preempted,) = [h for h, sig in signalled.items() if sig == signal.SIGUSR2]
        (killed,) = [h for h, sig in signalled.items() if sig == signal.SIGKILL]
        before = {h: run.info.run_id for h, (run, _) in _runs(a).items()}
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1, out
    assert "ended without a result" in out and "1 failed" in out, out
    after = _runs(a)
    run, history = after[preempted]
    assert run.info.run_id == before[preempted], "the requeued job resumed the same MLflow run"
    assert run.data.tags[Tag.STATUS] == RunStatus.FINISHED
    assert [s for s, _ in history["test_acc"]] == [1, 2, 3, 4]
    logs = "".join(p.read_text() for p in (a / "jobs").glob("*/*.err"))
    assert "Caught signal SIGUSR2" in logs and "preempted" in logs, (
        logs
    )  # finished in this invocation: requeued
    assert after[killed][0].data.tags[Tag.STATUS] != RunStatus.FAILED

    rerun = subprocess.run(
        _study(tmp_path, a, data_root, "submitit-local"),
        env=_env(a),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "1 runs completed, 0 failed" in rerun.stdout, rerun.stdout
    local = _runs(a)
    assert {h: r.info.run_id for h, (r, _) in local.items()} == before, "no run duplicated or lost"
    assert {r.data.tags[Tag.STATUS] for r, _ in local.values()} == {RunStatus.FINISHED}

    b = tmp_path / "b"
    pool = subprocess.run(
        _study(tmp_path, b, data_root, "pool"), env=_env(b), capture_output=True, text=True, timeout=600
    )
    assert pool.returncode == 0, pool.stdout + pool.stderr
    pooled = _runs(b)
    assert set(pooled) == set(local), "the same config hashes"
    for h in local:
        assert local[h][1] == pooled[h][1], f"{h}: the same metrics for the same seed"
        assert local[h][0].data.metrics["best_test_acc"] == pooled[h][0].data.metrics["best_test_acc"]
