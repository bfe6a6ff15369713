"""The runner end to end on real data: smoke studies, reruns, a SIGKILLed worker, two runners at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suite.contract import Role, RunStatus, Tag, tag_filter
from suite.study import run_study, study_names

pytestmark = pytest.mark.slow

TINY = """
name = "tiny"
title = "tiny: LIF vs KLIF on MNIST"
seeds = [0]
[base]
dataset = "mnist"
width = 0.125
T = 2
batch_size = 50
lr = 1e-3
[grid]
neuron = ["LIF", "KLIF"]
[profiles.smoke]
epochs = {epochs}
t_max = {epochs}
limit_train = {n}
limit_test = 100
"""


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


@pytest.mark.parametrize("name", study_names())
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
    path.write_text(TINY.format(epochs=epochs, n=n))
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


def test_two_runners_on_one_store_stay_consistent(tmp_path, store, data_root):
    from mlflow.tracking import MlflowClient

    study = _tiny(tmp_path, epochs=1, n=300)
    env = {**os.environ, "SUITE_HOME": str(tmp_path / "home")}
    # Create the store first, as the runner does, then start both at once.
    subprocess.run(_cli(study, store, data_root, "--dry-run"), env=env, check=True, capture_output=True)
    procs = [
        subprocess.Popen(
            _cli(study, store, data_root),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    runs = _children(MlflowClient(store), "tiny")
    assert len(runs) == 2, [r.data.tags for r in runs]
    assert {r.data.tags[Tag.STATUS] for r in runs} == {RunStatus.FINISHED}
    assert len({r.data.tags[Tag.CONFIG_HASH] for r in runs}) == 2
