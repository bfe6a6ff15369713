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
