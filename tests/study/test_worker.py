"""The worker on real MNIST: whatever interrupted a run, its history holds one value per epoch, its params all."""

from __future__ import annotations

from pathlib import Path

import pytest

from suite import train
from suite.contract import Outcome, Role, RunStatus, Tag
from suite.study import spec, tracking, worker

CONFIG = dict(dataset="mnist", neuron="KLIF", width=0.125, T=2, epochs=3, t_max=3, batch_size=50, lr=1e-3)
CONFIG |= dict(limit_train=300, limit_test=100, threads=2)


@pytest.fixture
def task(tmp_path, data_root):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    exp = tracking.init_store(uri, "tiny")
    client = tracking.MlflowClient(uri)
    parent = client.create_run(exp, tags={Tag.ROLE: Role.PARENT}).info.run_id
    config = train.resolve({**CONFIG, "data_root": str(data_root)})
    return {
        "study": "tiny",
        "profile": "smoke",
        "hash": spec.config_hash(config),
        "axes": {"neuron": "KLIF", "seed": 0},
        "name": "neuron=KLIF seed=0",
        "config": config,
        "runtime": {},
        "tracking_uri": uri,
        "experiment_id": exp,
        "parent_run_id": parent,
        "home": str(tmp_path / "home"),
        "commit": "test",
    }


def _history(client, rid, key):
    return sorted(m.step for m in client.get_metric_history(rid, key))


@pytest.mark.slow
def test_resume_after_a_corrupt_checkpoint_logs_each_epoch_once_and_the_missing_params(task):
    """A worker killed after epoch 2 was logged, whose run had no params yet, and whose ckpt-0002 is corrupt."""
    client = tracking.MlflowClient(task["tracking_uri"])
    tags = {Tag.ROLE: Role.CHILD, Tag.CONFIG_HASH: task["hash"], Tag.STATUS: RunStatus.RUNNING}
    rid = client.create_run(task["experiment_id"], tags=tags).info.run_id  # killed before logging params
    workdir = Path(task["home"]) / "runs" / task["hash"]
    train.train(
        task["config"], workdir=workdir, stop_after=2, callback=lambda m: tracking.log_epoch(client, rid, m)
    )
    (workdir / "ckpt-0002.pt").write_bytes(b"not a checkpoint")

    with pytest.warns(UserWarning, match="corrupt checkpoint"):
        result = worker.execute(task)
    assert result.outcome == Outcome.TRAINED and result.run_id == rid
    assert _history(client, rid, "test_acc") == [1, 2, 3]
    assert _history(client, rid, "best_test_acc") == [0]
    run = client.get_run(rid)
    assert set(run.data.params) == set(tracking.params_of(task["config"]))
    assert run.data.tags[Tag.STATUS] == RunStatus.FINISHED


@pytest.mark.slow
def test_a_kill_between_the_final_metrics_and_finished_logs_them_once(task, monkeypatch):
    client = tracking.MlflowClient(task["tracking_uri"])
    monkeypatch.setattr(worker, "_finish", lambda client, rid: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        worker.execute(task)
    monkeypatch.undo()
    result = worker.execute(task)
    assert result.outcome == Outcome.TRAINED
    assert _history(client, result.run_id, "best_test_acc") == [0]
    assert _history(client, result.run_id, "test_acc") == [1, 2, 3]


@pytest.mark.slow
def test_a_copy_cut_short_is_not_done_and_is_copied_again_whole(task, monkeypatch):
    client = tracking.MlflowClient(task["tracking_uri"])
    trained = worker.execute(task)
    assert trained.outcome == Outcome.TRAINED
    (data,) = client.get_run(trained.run_id).inputs.dataset_inputs  # logged before the first epoch
    assert data.dataset.name == "mnist" and '"train": 300' in data.dataset.profile
    other = {**task, "study": "other", "experiment_id": tracking.init_store(task["tracking_uri"], "other")}

    def cut(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(worker, "_log_batches", cut)
    with pytest.raises(KeyboardInterrupt):
        worker.execute(other)
    monkeypatch.undo()
    (short,) = client.search_runs([other["experiment_id"]])
    assert short.data.tags[Tag.STATUS] == RunStatus.RUNNING, "a copy cut short must not count as finished"

    assert worker.execute(other).outcome == Outcome.COPIED
    (copy,) = client.search_runs([other["experiment_id"]])
    assert copy.info.run_id != short.info.run_id and copy.data.tags[Tag.STATUS] == RunStatus.FINISHED
    assert _history(client, copy.info.run_id, "test_acc") == [1, 2, 3]
    assert [d.dataset.digest for d in copy.inputs.dataset_inputs] == [data.dataset.digest], "copied inputs"
