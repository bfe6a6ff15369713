"""The trainer on real MNIST: it learns, it resumes exactly, it survives a corrupt checkpoint."""

from __future__ import annotations

import time

import pytest
import torch

from suite import train

TINY = dict(
    dataset="mnist",
    neuron="KLIF",
    width=0.125,
    T=2,
    epochs=3,
    t_max=3,
    batch_size=50,
    lr=1e-3,
    limit_train=300,
    limit_test=100,
    threads=2,
)


def _cfg(data_root, **kw):
    return {**TINY, "data_root": str(data_root), **kw}


def test_resolve_fills_table1_defaults_and_rejects_unknown_keys():
    cfg = train.resolve({"dataset": "cifar10"})
    assert (cfg["network"], cfg["T"], cfg["epochs"], cfg["lr"], cfg["t_max"]) == (
        "table1-cifar10",
        10,
        200,
        1e-4,
        100,
    )
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['learning_rate'\]; allowed: dataset"):
        train.resolve({"learning_rate": 1})


@pytest.mark.slow
def test_learns_mnist_above_80_percent_in_one_epoch(data_root, tmp_path):
    """5,000 real training images, one epoch, 1,000 test images: well above chance (10%)."""
    t0 = time.perf_counter()
    result = train.train(
        _cfg(
            data_root,
            width=0.25,
            T=4,
            epochs=1,
            t_max=1,
            batch_size=32,
            lr=2e-3,
            limit_train=5000,
            limit_test=1000,
        ),
        workdir=tmp_path,
    )
    elapsed = time.perf_counter() - t0
    print(f"\nMNIST 5,000 images, 1 epoch: test accuracy {result['final_test_acc']:.1f}% in {elapsed:.0f}s")
    assert (result["n_train"], result["n_test"]) == (5000, 1000)
    assert result["final_test_acc"] > 80.0
    assert result["history"][0]["train_loss"] > result["history"][0]["test_loss"] * 0.5  # sane losses
    rates = {k: v for k, v in result["history"][0].items() if k.startswith("rate/")}
    assert rates and all(0.0 < v < 1.0 for v in rates.values())
    ks = {k: v for k, v in result["history"][0].items() if k.startswith("k/")}
    assert ks and all(0.5 <= v <= 5.0 for v in ks.values())


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_numbers(data_root, tmp_path):
    full = train.train(_cfg(data_root), workdir=tmp_path / "full")
    part = train.train(_cfg(data_root), workdir=tmp_path / "part", stop_after=1)
    assert not part["finished"] and len(part["history"]) == 1
    seen = []
    resumed = train.train(
        _cfg(data_root), workdir=tmp_path / "part", callback=lambda m: seen.append(m["epoch"])
    )
    assert seen == [2, 3], "only the epochs after the checkpoint are trained"
    assert resumed["finished"]
    for a, b in zip(full["history"], resumed["history"]):
        for key in ("train_loss", "train_acc", "test_loss", "test_acc", "k/enc"):
            assert a[key] == b[key], (key, a["epoch"])
    sa = torch.load(full["final_checkpoint"], weights_only=False)["model"]
    sb = torch.load(resumed["final_checkpoint"], weights_only=False)["model"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.slow
def test_same_seed_same_result_other_seed_differs(data_root, tmp_path):
    a = train.train(_cfg(data_root, epochs=1), workdir=tmp_path / "a")
    b = train.train(_cfg(data_root, epochs=1), workdir=tmp_path / "b")
    c = train.train(_cfg(data_root, epochs=1, seed=1), workdir=tmp_path / "c")
    assert a["history"] and [h["test_loss"] for h in a["history"]] == [h["test_loss"] for h in b["history"]]

    def weights(r):
        return torch.load(r["final_checkpoint"], weights_only=False)["model"]

    wa, wb, wc = weights(a), weights(b), weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


@pytest.mark.slow
def test_corrupt_last_checkpoint_falls_back_to_the_previous(data_root, tmp_path):
    full = train.train(_cfg(data_root), workdir=tmp_path / "full")
    work = tmp_path / "part"
    train.train(_cfg(data_root), workdir=work, stop_after=2)
    last = work / "ckpt-0002.pt"
    last.write_bytes(last.read_bytes()[:1000])  # a torn write
    with pytest.warns(UserWarning, match=r"corrupt checkpoint .*ckpt-0002.pt"):
        assert train.load_checkpoint(work)["epoch"] == 1
    seen = []
    with pytest.warns(UserWarning, match="corrupt checkpoint"):
        resumed = train.train(_cfg(data_root), workdir=work, callback=lambda m: seen.append(m["epoch"]))
    assert seen == [2, 3]
    assert [h["test_acc"] for h in resumed["history"]] == [h["test_acc"] for h in full["history"]]


FRESH = """
import hashlib, json, sys
import torch
from suite import train
result = train.train(json.loads(sys.argv[1]), workdir=sys.argv[2])
state = torch.load(result["final_checkpoint"], weights_only=False)["model"]
digest = hashlib.sha256(b"".join(state[k].numpy().tobytes() for k in sorted(state))).hexdigest()
print(json.dumps([[[h["train_loss"], h["test_loss"], h["test_acc"]] for h in result["history"]], digest]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 2])
def test_a_run_is_bit_identical_for_a_fixed_machine_thread_split_and_seed(data_root, tmp_path, threads):
    """Two fresh processes (as two study invocations are) with the same threads and seed agree to the bit.

    Across CPU models or thread counts they need not: oneDNN picks kernels (and reduction orders) by both.
    """
    import json
    import subprocess
    import sys

    cfg = json.dumps(_cfg(data_root, epochs=2, threads=threads))
    outs = [
        subprocess.run(
            [sys.executable, "-c", FRESH, cfg, str(tmp_path / name)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for name in ("a", "b")
    ]
    a, b = (json.loads(o.strip().splitlines()[-1]) for o in outs)
    assert len(a[0]) == 2 and a == b


class _Planted:
    """What an attacker would pickle: unpickling it calls ``marker.touch()``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (type(self.marker).touch, (self.marker,))


def test_a_planted_checkpoint_is_refused_not_run(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"model": _Planted(marker), "epoch": 1}, tmp_path / "ckpt-0001.pt")
    with pytest.warns(UserWarning, match=r"corrupt checkpoint .*ckpt-0001.pt, or not loadable safely"):
        assert train.load_checkpoint(tmp_path) is None
    assert not marker.exists(), "loading a checkpoint ran code from it"


def test_checkpoints_hold_only_what_loads_safely(tmp_path):
    import random

    import numpy as np

    np.random.seed(3)
    random.seed(4)
    state = train._rng_state()
    torch.save({"rng": state, "history": [{"epoch": 1, "test_acc": 50.0}]}, tmp_path / "ckpt-0001.pt")
    expected = (np.random.rand(3), random.random())
    loaded = train.load_checkpoint(tmp_path)
    train._set_rng_state(loaded["rng"])
    assert np.array_equal(np.random.rand(3), expected[0]) and random.random() == expected[1]


@pytest.mark.parametrize("dataset, applied", [("mnist", True), ("fashion-mnist", False), ("nmnist", False)])
def test_augment_is_the_references_augmentation_or_a_no_op(
    data_root, dataset, applied, tmp_path, monkeypatch
):
    monkeypatch.setenv("SUITE_CACHE", str(tmp_path))  # N-MNIST frames: a private cache
    cfg = train.resolve(_cfg(data_root, dataset=dataset, augment=True, limit_train=20, limit_test=10))
    train_set, test_set = train._datasets(cfg)
    assert (getattr(train_set, "augment", None) is not None) == applied
    assert getattr(test_set, "augment", None) is None


def test_drop_last_reaches_the_training_loader_only(data_root, tmp_path, monkeypatch):
    seen = []
    real = train.data.loader
    monkeypatch.setattr(
        train.data, "loader", lambda *a, **kw: seen.append(kw.get("drop_last")) or real(*a, **kw)
    )
    train.train(_cfg(data_root, drop_last=True), workdir=tmp_path, stop_after=0)
    assert seen == [True, None]  # the test loader keeps every sample
    with pytest.raises(ValueError, match="drop_last: 20 training samples are fewer than one batch of 50"):
        train.train(_cfg(data_root, drop_last=True, limit_train=20), workdir=tmp_path / "small", stop_after=0)
