"""The plan: what the store holds of each point, read in one query, as states (not printed text)."""

from __future__ import annotations

import pytest

from suite.contract import PointState, Role, RunStatus, Tag
from suite.study import executor, spec
from suite.study.plan import make_plan

STUDY = """
name = "planned"
title = "t"
seeds = [0]
[base]
dataset = "mnist"
[grid]
neuron = ["LIF", "KLIF", "k-only", "ReLU-only", "PLIF"]
[profiles.smoke]
epochs = 1
[[profiles.smoke.skip]]
match = { neuron = "PLIF" }
why = "left out on purpose"
"""


def test_states_from_the_store(tmp_path, data_root):
    from mlflow.tracking import MlflowClient

    path = tmp_path / "planned.toml"
    path.write_text(STUDY)
    study = spec.load(path)
    uri = f"sqlite:///{tmp_path}/m.db"
    plan = make_plan(study, "smoke", uri=uri, data_root=str(data_root))
    assert [plan.states[p.hash] for p in plan.points] == [PointState.TO_RUN] * 4 + [PointState.SKIPPED]

    client = MlflowClient(uri)
    other = client.create_experiment("other")
    by_neuron = {p.config["neuron"]: p.hash for p in plan.points}

    def child(exp, neuron, status):
        tags = {Tag.ROLE: Role.CHILD, Tag.CONFIG_HASH: by_neuron[neuron], Tag.STATUS: status}
        client.create_run(exp, tags=tags)

    child(plan.experiment_id, "LIF", RunStatus.FINISHED)
    child(other, "KLIF", RunStatus.FINISHED)
    child(plan.experiment_id, "k-only", RunStatus.RUNNING)
    plan = make_plan(study, "smoke", uri=uri, data_root=str(data_root))
    assert [plan.states[p.hash] for p in plan.points] == [
        PointState.DONE,
        PointState.DONE_ELSEWHERE,
        PointState.INTERRUPTED,
        PointState.TO_RUN,
        PointState.SKIPPED,
    ]
    assert [p.config["neuron"] for p in plan.todo] == ["KLIF", "k-only", "ReLU-only"]
    assert "skipped (left out on purpose)" in plan.lines()[-1]


@pytest.mark.parametrize(
    "name,settings,message",
    [
        ("kubernetes", {}, "unknown executor .kubernetes.; allowed: pool, submitit-local, slurm"),
        ("pool", {"workers": 0}, "pool: workers: 0 is out of range; allowed: auto, an integer >= 1"),
        ("pool", {"workers": -3}, "pool: workers: -3 is out of range"),
        (
            "pool",
            {"partition": "gpu"},
            "pool: partition: unknown executor setting; allowed: workers, threads",
        ),
    ],
)
def test_executors_are_built_from_validated_settings(name, settings, message):
    with pytest.raises(executor.ExecutorError, match=message):
        executor.make(name, settings)


@pytest.mark.parametrize(
    "machine,tasks,workers,threads,split",
    [
        (executor.Machine(2, 20.0, 0), 30, "auto", None, (2, 1)),  # this machine: a run per core
        (executor.Machine(16, 20.0, 0), 30, "auto", None, (13, 1)),  # memory-bound: 20 GB / 1.5 GB
        (executor.Machine(2, 20.0, 0), 1, "auto", None, (1, 2)),  # one run left gets both cores
        (executor.Machine(16, 500.0, 4), 30, "auto", None, (4, 4)),  # a run per GPU
        (executor.Machine(2, 20.0, 0), 30, 1, None, (1, 2)),  # an explicit number wins
        (executor.Machine(8, 20.0, 0), 30, 2, 3, (2, 3)),
    ],
)
def test_the_pool_divides_the_machine(machine, tasks, workers, threads, split):
    assert executor.split(machine, tasks, workers, threads) == split


def test_the_plan_line_says_the_split():
    pool = executor.LocalPool(executor.PoolSettings(), executor.Machine(2, 20.0, 0))
    assert pool.plan(30) == "2 workers × 1 thread" and pool.slots == 2
    assert pool.plan(1) == "1 worker × 2 threads"
