"""The store: created once under a lock, whoever races to create it; experiments of the right kind, datasets."""

from __future__ import annotations

import subprocess
import sys

import pytest

CREATE = "import sys; from suite.study import tracking; print(tracking.init_store(sys.argv[1], 'race'))"


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(5))
def test_two_runners_creating_one_new_store_at_once(tmp_path, trial):
    uri = f"sqlite:///{tmp_path}/new/mlflow.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE, uri], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    ids = {o[0].strip().splitlines()[-1] for o in outs}
    assert len(ids) == 1, "both runners see the same experiment"


def _summary(digest="0123456789abcdef", train=300):
    from suite.data import DataSummary

    return DataSummary("mnist", {"train": train, "test": 100}, digest, "/data/shared")


def test_experiments_are_model_training_experiments_old_ones_too(tmp_path):
    from suite.contract import MlflowTag
    from suite.study import tracking

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = tracking.MlflowClient(uri)
    exp = tracking.init_store(uri, "new")
    assert client.get_experiment(exp).tags[MlflowTag.EXPERIMENT_KIND] == "custom_model_development"
    old = client.create_experiment("old")  # as created before experiments had a kind
    assert tracking.init_store(uri, "old") == old
    assert client.get_experiment(old).tags[MlflowTag.EXPERIMENT_KIND] == MlflowTag.TRAINING_KIND


def test_a_runs_data_is_its_dataset_input_logged_once_and_copied(tmp_path):
    import json

    from suite.contract import MlflowTag
    from suite.study import tracking

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = tracking.MlflowClient(uri)
    exp = tracking.init_store(uri, "tiny")
    rid = client.create_run(exp).info.run_id
    tracking.log_dataset(client, rid, _summary())
    tracking.log_dataset(client, rid, _summary())  # a resume logs it again
    (logged,) = client.get_run(rid).inputs.dataset_inputs
    assert (logged.dataset.name, logged.dataset.digest) == ("mnist", "0123456789abcdef")
    assert json.loads(logged.dataset.profile) == {"splits": {"train": 300, "test": 100}}
    assert json.loads(logged.dataset.source) == {"uri": "file:///data/shared"}
    assert [(t.key, t.value) for t in logged.tags] == [(MlflowTag.DATASET_CONTEXT, "training")]

    other = client.create_run(exp).info.run_id
    tracking.log_dataset(client, other, _summary("fedcba9876543210", train=200))
    parent = client.create_run(tracking.init_store(uri, "elsewhere")).info.run_id
    for child in (rid, other, rid):
        tracking.copy_inputs(client, client.get_run(child), parent)
    names = sorted((d.dataset.name, d.dataset.digest) for d in client.get_run(parent).inputs.dataset_inputs)
    assert names == [("mnist", "0123456789abcdef"), ("mnist", "fedcba9876543210")]


def test_ui_links_open_the_runs_table():
    from suite.study import tracking

    assert tracking.ui_link("http://127.0.0.1:5000/", "3") == (
        "http://127.0.0.1:5000/#/experiments/3?workflowType=machine_learning"
    )
    assert tracking.ui_link("http://h:1").endswith("/#/experiments?workflowType=machine_learning")


def test_retry_rides_out_a_lost_dataset_insert_race_and_nothing_else():
    """Two workers logging one new dataset at once: the loser's insert violates the unique key; its second
    attempt finds the winner's row. Any other constraint error is a real error and is raised at once."""
    from suite.study import tracking

    race = "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name, datasets.digest"
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(race)
        return "logged"

    assert tracking.retry(flaky) == "logged" and len(calls) == 2

    def other():
        calls.append(2)
        raise RuntimeError("(sqlite3.IntegrityError) UNIQUE constraint failed: runs.run_uuid")

    with pytest.raises(RuntimeError, match="runs.run_uuid"):
        tracking.retry(other)
    assert calls.count(2) == 1
