"""load_runs on a temporary MLflow store filled in the runner's schema."""

from __future__ import annotations

import pandas as pd
import pytest

from suite.report.runs import canonical, load_runs, parse_scalar, setting_columns


@pytest.fixture(scope="module")
def store(tmp_path_factory, points, log_runs):
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"
    pts = points("table3")[:4]  # LIF and KLIF (encoder 1), seeds 0 and 1, vgg16
    extra = [
        dict(
            pts[0], hash="h000", age=-100_000, base=1.0
        ),  # older run of LIF seed 0's config hash: superseded
        dict(pts[2], hash="h002", age=100_000, base=2.0),  # newer run of KLIF seed 0's hash: supersedes it
        dict(pts[1], hash="hX1", status="failed"),  # not finished: ignored
        dict(pts[1], hash="hX2", status="running"),
        dict(pts[1], hash="hX3", profile="gpu"),  # other profile
        dict(pts[1], hash="hX4", study="table5"),  # other study's experiment
    ]
    ids = log_runs(uri, pts + extra)
    return uri, ids


def test_load_runs_filters_and_types(store):
    uri, ids = store
    runs, history = load_runs("table3", "cpu", uri)
    # the older duplicate, the superseded KLIF seed 0, failed, running, gpu and table5: out
    assert sorted(runs["run_id"]) == sorted([ids[0], ids[1], ids[3], ids[5]])
    assert runs["config_hash"].is_unique
    assert runs["seed"].dtype == "int64" and sorted(runs["seed"]) == [0, 0, 1, 1]
    assert runs["encoder"].dtype == "int64" and runs["lr"].dtype == "float64"
    assert runs["detach_reset"].dtype == bool and runs["dataset"].tolist() == ["cifar10"] * 4
    for col in ("best_test_acc", "final_test_acc", "n_params", "n_train", "n_test", "wall_time_s"):
        assert runs[col].dtype == "float64" and runs[col].notna().all()
    assert set(runs["hardware"]) == {"cpu: 2 cores, Test CPU"} and set(runs["data_sizes"]) == {
        "train=512,test=256"
    }
    assert (
        set(runs["commit"]) == {"abc1234"}
        and set(runs["device"]) == {"cpu"}
        and set(runs["host"]) == {"testhost"}
    )
    lif0 = runs[(runs["neuron"] == "LIF") & (runs["seed"] == 0)].iloc[0]
    assert lif0["best_test_acc"] == pytest.approx(50.25)  # the newest run, not the superseded one (base 1.0)
    klif0 = runs[(runs["neuron"] == "KLIF") & (runs["seed"] == 0)].iloc[0]
    assert klif0["best_test_acc"] == pytest.approx(2.0)
    assert "data_root" in setting_columns(runs) and "best_test_acc" not in setting_columns(runs)
    assert "data_root" not in setting_columns(runs, ignore=["data_root"])
    assert runs["alpha"].isna().all()  # logged as "None"
    assert set(runs["param:device"]) == {"auto"} and "param:device" not in setting_columns(runs)
    assert set(runs["lr"]) == {0.001} and "lr" in setting_columns(runs)  # the param, not the per-epoch metric
    assert "metric:lr" in runs and "metric:lr" not in setting_columns(runs)


def test_history_has_one_row_per_run_and_epoch(store):
    uri, ids = store
    runs, history = load_runs("table3", "cpu", uri)
    assert len(history) == 4 * 3 and set(history["run_id"]) == set(runs["run_id"])
    assert sorted(set(history["epoch"])) == [1, 2, 3]
    for col in (
        "train_loss",
        "train_acc",
        "test_loss",
        "test_acc",
        "synops",
        "epoch_time",
        "rate/enc",
        "k/fc1",
    ):
        assert col in history
    assert "best_test_acc" not in history and history["lr"].notna().all()
    klif = runs.loc[runs["neuron"] == "KLIF", "run_id"]
    assert history.loc[history["run_id"].isin(klif), "k/fc1"].notna().all()
    assert history.loc[~history["run_id"].isin(klif), "k/fc1"].isna().all()  # LIF has no learnable k
    one = history[history["run_id"] == runs["run_id"].iloc[0]].set_index("epoch")
    best = runs["best_test_acc"].iloc[0]
    assert (
        one["test_acc"].max() == pytest.approx(best)
        and one.loc[3, "test_acc"] == runs["final_test_acc"].iloc[0]
    )


def test_missing_experiment_and_profile_give_empty_frames(store):
    uri, _ = store
    for study, profile in (("table4", "cpu"), ("table3", "tiny")):
        runs, history = load_runs(study, profile, uri)
        assert len(runs) == 0 and len(history) == 0
        assert {"run_id", "seed", "best_test_acc"} <= set(runs.columns) and {"run_id", "epoch"} <= set(
            history
        )
    with pytest.raises(ValueError):
        load_runs("table3", "cpu' OR 1=1", uri)


def test_typed_columns_treat_none_as_missing():
    from suite.report.runs import _typed

    col = _typed(["3", "None", None, "5"])
    assert str(col.dtype) == "Int64" and col.isna().tolist() == [False, True, True, False]
    assert _typed(["0.5", "1"]).dtype == "float64" and _typed(["a", "1"]).tolist() == ["a", "1"]


def test_parsing_and_canonical_forms():
    assert parse_scalar("3") == 3 and parse_scalar("1e-4") == 1e-4 and parse_scalar("False") is False
    assert parse_scalar("cifar10") == "cifar10" and parse_scalar("dvs-gesture") == "dvs-gesture"
    assert canonical("3") == canonical(3) == canonical(3.0) == 3
    assert canonical(pd.NA) is None and canonical(float("nan")) is None and canonical("None") is None


def test_per_neuron_rate_percentiles_travel_as_last_epoch_history(tmp_path, points, log_runs):
    """``rate_q/<layer>/pNN`` (logged at the last epoch only) reaches the history, not the settings, and
    Fig. 6 reads its boxes from there; the layers tag orders them."""
    from mlflow.entities import Metric, RunTag
    from mlflow.tracking import MlflowClient

    from suite.contract import Tag
    from suite.report import layout
    from suite.report.cells import assign
    from suite.report.figures import layer_distributions

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    pts = [p for p in points("table2") if p["dataset"] == "cifar10"]
    ids = log_runs(uri, pts)
    client = MlflowClient(tracking_uri=uri)
    qs = [
        Metric(f"rate_q/{layer}/p{p:02d}", p / 200, 0, 3)
        for layer in ("enc", "fc1")
        for p in (5, 25, 50, 75, 95)
    ]
    for rid in ids:
        client.log_batch(rid, metrics=qs, tags=[RunTag(Tag.LAYERS, "enc,conv1,fc1,vote")])
    runs, history = load_runs("table2", "cpu", uri)
    assert "rate_q/enc/p50" in history and "rate_q/enc/p50" not in setting_columns(runs)
    assert not any(c.startswith("metric:rate_q") for c in runs)
    last = history[history["epoch"] == 3]
    assert last["rate_q/fc1/p95"].tolist() == [0.475] * len(ids)
    assert history.loc[history["epoch"] < 3, "rate_q/fc1/p95"].isna().all()
    lay = layout.get("table2")
    fig6 = next(f for f in lay.figures if f.name == "fig6")
    layers, series = layer_distributions(fig6, lay, assign(lay, runs), history, runs)["cifar10"]
    assert layers == ["enc", "conv1", "fc1"]
    want = {p: p / 200 for p in (5, 25, 50, 75, 95)}
    assert series["Ours (with KLIF)"]["fc1"].percentiles == pytest.approx(want)
    assert series["Ours (with KLIF)"]["conv1"].percentiles == {}  # no percentiles logged: its mean only
