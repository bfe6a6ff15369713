"""Fixture runs for the reporter: DataFrames in load_runs' shape, and an MLflow store in the runner's schema.

The numbers are made up but fixed, chosen so that each cell's mean, std and paired difference can be worked
out by hand (see the tests). Fixture runs differ in data_root and threads, which the layouts ignore for
pairing and replicates: a test fails if that rule breaks.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

from suite.contract import Role, RunStatus, Tag

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# best test accuracy of seed 0 per (study point); seed s adds DELTA[s]; final accuracy is best - 0.4 - 0.1 s
DELTA = {0: 0.0, 1: 0.6, 2: -0.3}
NETWORK = {"mnist": "mnist-net", "fashion-mnist": "mnist-net", "cifar10": "cifar10-net"}
LAYERS = ("enc", "conv1", "fc1")


def point(study, dataset, network, neuron, encoder, seed, base, epochs=3, jitter=0.0, **settings):
    """One grid point; ``jitter`` adds jitter * seed to its accuracy so that paired differences vary;
    ``settings`` set any other setting of the run (``alpha = 2.0``: an axis of a study of one's own)."""
    return dict(
        study=study,
        dataset=dataset,
        network=network,
        neuron=neuron,
        encoder=encoder,
        seed=seed,
        base=base,
        epochs=epochs,
        jitter=jitter,
        settings=settings,
    )


def table2_points():
    pts = []
    for ds, lif, klif in (("mnist", 98.10, 98.55), ("cifar10", 61.20, 64.05)):
        for s in (0, 1, 2):
            pts.append(point("table2", ds, NETWORK[ds], "LIF", 3, s, lif))
            pts.append(point("table2", ds, NETWORK[ds], "KLIF", 3, s, klif + (0.5 if s == 2 else 0.0)))
    pts.append(point("table2", "fashion-mnist", "mnist-net", "KLIF", 3, 0, 85.00))  # n=1, its LIF missing
    pts.append(point("table2", "mnist", "mnist-net", "KLIF", 1, 0, 10.0))  # encoder 1: not a Table 2 point
    return pts


def table3_points():
    pts = []
    rows = (
        ("LIF", 1, 50.25),
        ("KLIF", 1, 55.10),
        ("k-only", 1, 53.00),
        ("ReLU-only", 1, 52.40),
        ("KLIF", 3, 56.00),
    )
    for k, (neuron, enc, base) in enumerate(rows):
        for s in (0, 1):
            pts.append(point("table3", "cifar10", "vgg16", neuron, enc, s, base, jitter=0.15 * k))
    return pts  # no resnet18 run: that column is all "—"


def table4_points():
    """MNIST: KLIF* within a few tenths of KLIF; CIFAR-10: about 4 points below it (the claims' goldens)."""
    pts = []
    for ds, klif_star, jitter in (("mnist", 98.40, 0.05), ("cifar10", 60.00, 0.2)):
        for s in (0, 1, 2):
            pts.append(point("table4", ds, NETWORK[ds], "KLIF", 3, s, 98.55 if ds == "mnist" else 64.05))
            pts.append(point("table4", ds, NETWORK[ds], "KLIF*", 3, s, klif_star, jitter=jitter))
    return pts


def table5_points():
    """VGG-16 only; KLIF(CELU) clearly above KLIF(ReLU), against the paper (a contradicted claim)."""
    pts = []
    rows = (
        ("LIF", 50.25, 0.0),
        ("KLIF", 55.10, 0.15),
        ("KLIF-CELU", 56.50, 0.1),
        ("KLIF-LeakyReLU", 55.0, 0.4),
    )
    for neuron, base, jitter in rows:
        for s in (0, 1, 2):
            pts.append(point("table5", "cifar10", "vgg16", neuron, 1, s, base, jitter=jitter))
    return pts


def controls_points():
    pts = []
    for k, (neuron, base) in enumerate((("LIF", 97.0), ("LIF-vth", 97.3), ("PLIF", 97.2), ("KLIF", 97.5))):
        for s in (0, 1, 2):
            pts.append(point("controls", "mnist", "mnist-net", neuron, 3, s, base, jitter=0.1 * k))
    return pts


def config(p, i):
    return {
        "dataset": p["dataset"],
        "network": p["network"],
        "neuron": p["neuron"],
        "encoder": p["encoder"],
        "T": 8 if p["dataset"] != "cifar10" else 10,
        "epochs": p["epochs"],
        "width": 0.25,
        "batch_size": 32,
        "lr": 0.001,
        "t_max": 100,
        "seed": p["seed"],
        "limit_train": 512,
        "limit_test": 256,
        "surrogate": "atan",
        "alpha": None,  # the runner logs an unset setting as "None"
        "detach_reset": False,
        "augment": False,
        "device": "auto",  # collides with the device tag: load_runs keeps it as "param:device"
        "data_root": f"/data/copy{i}",  # where and how fast: ignored for replicates and pairs
        "threads": 1 + i % 3,
        **p.get("settings", {}),
    }


def curve(p):
    """Per-epoch metrics whose max is the point's best accuracy and whose last epoch is its final accuracy."""
    best = p["base"] + DELTA[p["seed"]] + p.get("jitter", 0.0) * p["seed"]
    final = best - 0.4 - 0.1 * p["seed"]
    n = p["epochs"]
    acc = [final - 5.0 * (n - 1 - e) for e in range(n)]
    acc[max(0, n - 2)] = best if n > 1 else acc[0]
    if n == 1:
        best = final = acc[0]
    rows = []
    for e in range(1, n + 1):
        m = {
            "train_loss": round(1.0 / e, 6),
            "train_acc": acc[e - 1] + 1.0,
            "test_loss": round(1.2 / e, 6),
            "test_acc": acc[e - 1],
            "synops": 1.5e6 * (1 + 0.1 * e + 0.01 * p["seed"]) * (1.2 if p["neuron"] == "KLIF" else 1.0),
            "epoch_time": 2.0,
            "lr": 0.001 / e,  # the trainer logs the scheduled lr per epoch; the param "lr" is the setting
        }
        for j, layer in enumerate(LAYERS):
            m[f"rate/{layer}"] = round(0.05 * (j + 1) + 0.01 * e + (0.02 if "KLIF" in p["neuron"] else 0), 6)
            if p["neuron"] in ("KLIF", "k-only"):
                m[f"k/{layer}"] = round(1.0 + 0.1 * j * e, 6)
        rows.append((e, m))
    return best, final, rows


def frames(points) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, history) as load_runs returns them, with deterministic run ids."""
    runs, hist = [], []
    for i, p in enumerate(points):
        rid = f"run{i:03d}" + "0" * 26
        best, final, rows = curve(p)
        cfg = config(p, i)
        runs.append(
            {
                "run_id": rid,
                "config_hash": f"h{i:03d}",
                "seed": cfg.pop("seed"),
                **cfg,
                "best_test_acc": best,
                "final_test_acc": final,
                "n_params": 12345.0,
                "n_train": 512.0,
                "n_test": 256.0,
                "wall_time_s": 6.0,
                "commit": "abc1234",
                "hardware": "cpu: 2 cores, Test CPU",
                "host": "testhost",
                "data_sizes": "train=512,test=256",
                "device": "cpu",
            }
        )
        for e, m in rows:
            hist.append({"run_id": rid, "epoch": e, **m})
    runs_df = pd.DataFrame(runs)
    hist_df = pd.DataFrame(hist)
    cols = ["run_id", "epoch"] + [c for c in hist_df.columns if c not in ("run_id", "epoch")]
    return runs_df, hist_df[cols].astype({c: "float64" for c in cols[2:]})


@pytest.fixture
def table2_frames():
    return frames(table2_points())


@pytest.fixture
def table3_frames():
    return frames(table3_points())


@pytest.fixture
def controls_frames():
    return frames(controls_points())


def log_to_mlflow(uri: str, points, *, profile="cpu", start=1_700_000_000_000):
    """Fill an MLflow store the way the runner does: one experiment per study, a parent and child runs."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    ids, parents = [], {}
    for i, p in enumerate(points):
        if p["study"] not in parents:
            exp = client.get_experiment_by_name(p["study"])
            exp_id = exp.experiment_id if exp else client.create_experiment(p["study"])
            tags = {Tag.ROLE: Role.PARENT, Tag.STUDY: p["study"]}
            parents[p["study"]] = (exp_id, client.create_run(exp_id, start_time=start, tags=tags).info.run_id)
        exp_id, parent = parents[p["study"]]
        cfg = config(p, i)
        best, final, rows = curve(p)
        tags = {
            Tag.ROLE: Role.CHILD,
            Tag.PARENT_RUN: parent,
            Tag.STUDY: p["study"],
            Tag.PROFILE: p.get("profile", profile),
            Tag.CONFIG_HASH: p.get("hash", f"h{i:03d}"),
            Tag.STATUS: p.get("status", RunStatus.FINISHED),
            Tag.COMMIT: "abc1234",
            Tag.HOST: "testhost",
            Tag.HARDWARE: "cpu: 2 cores, Test CPU",
            Tag.TORCH: "2.13.0",
            Tag.DEVICE: "cpu",
            Tag.DATA_SIZES: "train=512,test=256",
            Tag.axis("neuron"): p["neuron"],
            Tag.axis("dataset"): p["dataset"],
        }
        run = client.create_run(exp_id, start_time=start + 1000 * (i + 1) + p.get("age", 0))
        rid = run.info.run_id
        metrics = [Metric(k, float(v), 0, e) for e, m in rows for k, v in m.items()]
        metrics += [
            Metric(k, float(v), 0, 0)
            for k, v in (
                ("best_test_acc", best),
                ("final_test_acc", final),
                ("n_params", 12345),
                ("n_train", 512),
                ("n_test", 256),
                ("wall_time_s", 6.0),
            )
        ]
        client.log_batch(
            rid,
            metrics=metrics,
            params=[Param(k, str(v)) for k, v in cfg.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        client.set_terminated(rid)
        ids.append(rid)
    return ids


POINTS = {
    "table2": table2_points,
    "table3": table3_points,
    "table4": table4_points,
    "table5": table5_points,
    "controls": controls_points,
}


@pytest.fixture(scope="session")
def points():
    """``points(study)``: a fresh list of that study's fixture points (dicts; edit freely before logging)."""
    return lambda study: POINTS[study]()


@pytest.fixture(scope="session")
def make_frames():
    return frames


@pytest.fixture(scope="session")
def make_point():
    """``make_point(study, dataset, network, neuron, encoder, seed, base, ..., **settings)``: one point."""
    return point


@pytest.fixture(scope="session")
def log_runs():
    return log_to_mlflow
