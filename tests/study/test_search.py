"""Search studies end to end on real data: equal budgets, a rerun that adds nothing, pruning marked in Optuna
and MLflow, a killed worker's trial completed once, and the report of a search study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suite.contract import Phase, Role, RunStatus, Tag, tag_filter
from suite.study import search, spec

pytestmark = pytest.mark.slow

STUDY = """
name = "srch"
title = "search: LIF vs KLIF, lr tuned"
[base]
dataset = "fashion-mnist"
width = 0.0625
T = 2
batch_size = 50
[grid]
neuron = {neurons}
[search]
trials = {trials}
retrain_seeds = [0]
[search.space]
lr = {{ low = 1e-4, high = 1e-2, log = true }}
[profiles.smoke]
epochs = {epochs}
t_max = {epochs}
limit_train = {n}
limit_test = 100
[report]
reference = {{ neuron = "LIF" }}
"""


def _write(tmp_path: Path, *, neurons=("LIF", "KLIF"), trials=2, epochs=1, n=200) -> Path:
    path = tmp_path / "srch.toml"
    path.write_text(STUDY.format(neurons=list(neurons), trials=trials, epochs=epochs, n=n).replace("'", '"'))
    return path


def _cli(study: Path, tmp_path: Path, data_root, *extra: str) -> list[str]:
    uri = f"sqlite:///{tmp_path}/home/mlflow.db"
    return [sys.executable, "-m", "suite", "study", str(study), "--profile", "smoke", "--tracking-uri", uri,
            "--data-root", str(data_root), "--workers", "2", *extra]  # fmt: skip


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "SUITE_HOME": str(tmp_path / "home"), "MLFLOW_DISABLE_TELEMETRY": "true"}


def _arms(study_path: Path, tmp_path: Path) -> list[search.ArmSearch]:
    study = spec.load(study_path)
    s = study.search_of("smoke")
    store = search.storage(f"sqlite:///{tmp_path}/home/optuna.db")
    points = spec.expand(study, "smoke", seeds=[s.trial_seed])
    return [search.ArmSearch(a, s, store) for a in search.arms(study, "smoke", s, points)]


def _children(tmp_path: Path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/home/mlflow.db")
    exp = client.get_experiment_by_name("srch")
    return client, client.search_runs([exp.experiment_id], filter_string=tag_filter(ROLE=Role.CHILD))


def test_equal_budgets_then_retrain_and_a_rerun_adds_nothing(tmp_path, data_root):
    study = _write(tmp_path)
    done = subprocess.run(_cli(study, tmp_path, data_root), cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    arms = _arms(study, tmp_path)
    assert [len(a.trials()) for a in arms] == [2, 2]  # the same budget per arm
    assert all(t.state.is_finished() for a in arms for t in a.trials())
    _, runs = _children(tmp_path)
    trials = [r for r in runs if r.data.tags.get(Tag.PHASE) == Phase.TRIAL]
    retrains = [r for r in runs if r.data.tags.get(Tag.PHASE) == Phase.RETRAIN]
    assert sorted((r.data.tags[Tag.ARM], r.data.tags[Tag.TRIAL]) for r in trials) == sorted(
        (a.arm.name, str(n)) for a in arms for n in (0, 1)
    ), "one MLflow run per trial, tagged with its arm and number"
    for a in arms:  # the retrain is the best trial's lr with seed 0
        best = a.best()
        (r,) = [r for r in retrains if r.data.tags[Tag.ARM] == a.arm.name]
        assert float(r.data.params["lr"]) == pytest.approx(best.params["lr"])
        assert r.data.params["seed"] == "0" and r.data.tags[Tag.STATUS] == RunStatus.FINISHED
    md = (tmp_path / "results" / "smoke" / "srch.md").read_text(encoding="utf-8")
    assert "| neuron=LIF " in md and "| neuron=KLIF " in md and "(reference)" in md
    assert (tmp_path / "results" / "smoke" / "srch-history.png").exists()

    again = subprocess.run(_cli(study, tmp_path, data_root, "--no-report"), cwd=tmp_path, env=_env(tmp_path),
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert [len(a.trials()) for a in _arms(study, tmp_path)] == [2, 2], "a rerun asks no new trial"
    assert len(_children(tmp_path)[1]) == len(runs), "a rerun trains nothing"
    assert "0 runs completed" in again.stdout


def test_pruned_trials_are_marked_in_optuna_mlflow_and_the_report(tmp_path, data_root):
    """Three finished trials that reached 100% at every epoch: any real trial falls below their median at
    epoch 2 (the first epoch the median pruner decides on) and is pruned there."""
    import optuna
    from optuna.distributions import FloatDistribution

    study = _write(tmp_path, neurons=("LIF",), trials=4, epochs=3, n=200)
    (arm,) = _arms(study, tmp_path)
    for lr in (1e-3, 2e-3, 3e-3):
        arm.study.add_trial(
            optuna.trial.create_trial(
                params={"lr": lr},
                distributions={"lr": FloatDistribution(1e-4, 1e-2, log=True)},
                value=100.0,
                intermediate_values={1: 100.0, 2: 100.0, 3: 100.0},
            )
        )
    done = subprocess.run(_cli(study, tmp_path, data_root), cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    trials = arm.trials()
    assert len(trials) == 4 and trials[3].state == optuna.trial.TrialState.PRUNED
    assert sorted(trials[3].intermediate_values) == [1, 2]
    client, runs = _children(tmp_path)
    (pruned,) = [r for r in runs if r.data.tags.get(Tag.PHASE) == Phase.TRIAL]
    assert pruned.data.tags[Tag.STATUS] == RunStatus.PRUNED and pruned.info.status == "KILLED"
    assert sorted(m.step for m in client.get_metric_history(pruned.info.run_id, "test_acc")) == [1, 2]
    assert "1 pruned" in done.stdout
    md = (tmp_path / "results" / "smoke" / "srch.md").read_text(encoding="utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| neuron=LIF "))
    assert [c.strip() for c in row.split("|")[2:6]] == [
        "4",
        "3",
        "1",
        "0",
    ]  # trials, complete, pruned, failed


def test_a_killed_trial_is_completed_once_by_the_rerun(tmp_path, data_root):
    study = _write(tmp_path, neurons=("LIF",), trials=1, epochs=3, n=2000)
    proc = subprocess.Popen(_cli(study, tmp_path, data_root, "--no-report"), cwd=tmp_path, env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    runs_dir, ckpt, deadline = tmp_path / "home" / "runs", None, time.time() + 300
    while time.time() < deadline and ckpt is None:
        found = sorted(runs_dir.glob("*/ckpt-0001.pt")) if runs_dir.exists() else []
        ckpt = found[0] if found else None
        time.sleep(0.2)
    assert ckpt is not None, "no checkpoint appeared"
    os.kill(int((ckpt.parent / "lock").read_text()), signal.SIGKILL)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, out
    (arm,) = _arms(study, tmp_path)
    (trial,) = arm.trials()
    assert trial.state.name == "RUNNING", "a killed worker's trial is neither failed nor lost"
    _, before = _children(tmp_path)

    rerun = subprocess.run(_cli(study, tmp_path, data_root, "--no-report"), cwd=tmp_path, env=_env(tmp_path),
                           capture_output=True, text=True, timeout=900)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "[resume]" in rerun.stdout
    (trial,) = arm.trials()
    assert trial.state.name == "COMPLETE" and trial.number == 0
    client, after = _children(tmp_path)
    trials = [r for r in after if r.data.tags.get(Tag.PHASE) == Phase.TRIAL]
    assert [r.info.run_id for r in trials] == [r.info.run_id for r in before], "resumed, not duplicated"
    assert sorted(m.step for m in client.get_metric_history(trials[0].info.run_id, "test_acc")) == [1, 2, 3]
    assert trial.value == pytest.approx(trials[0].data.metrics["best_test_acc"])
