"""Event sets: readers on the real N-MNIST / DVS128 Gesture files and on files written in the AEDAT formats,
and the equal-event-count framing of the PLIF reference code."""

from __future__ import annotations

import numpy as np
import pytest
import tonic
import torch

from suite import data
from suite.data.aedat import Events, read_cifar10dvs
from suite.data.framing import frames_by_count


def bin40_counts(path):
    """Independent of tonic: (events, ON events) of a 40-bit file; y == 240 marks a timestamp overflow."""
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 5)
    real = raw[raw[:, 1] != 240]
    return len(real), int((real[:, 2] >> 7).sum())


@pytest.mark.parametrize("split, count", [("train", 1000), ("test", 100)])
def test_nmnist_counts_equal_the_manifest(data_root, split, count):
    ds = data.load("nmnist", split, T=10, root=data_root, download=False)
    assert len(ds) == count
    assert all(r.label == int(r.path.parent.name) for r in ds.records)
    assert sorted(set(ds.targets.tolist())) == list(range(10))


def test_nmnist_frames_hold_every_event_of_both_polarities(data_root):
    ds = data.load("nmnist", "train", T=10, root=data_root, limit=20, download=False)
    for i in range(len(ds)):
        x, _ = ds[i]
        n, on = bin40_counts(ds.records[i].path)
        assert x.shape == (10, 2, 34, 34)
        assert x.sum().item() == n and x[:, 1].sum().item() == on and x[:, 0].sum().item() == n - on
        assert x[:, 0].sum() > 0 and x[:, 1].sum() > 0
        per_frame = x.sum(dim=(1, 2, 3))
        assert (per_frame[:-1] == n // 10).all() and per_frame[-1] == n - 9 * (n // 10)


def test_framing_splits_by_event_count_like_spikingjelly():
    def ev(n):
        return Events(np.arange(n) % 3, np.zeros(n, int), np.arange(n) % 2, np.arange(n))

    f = frames_by_count(ev(7), 3, 2, 3)  # 7 // 3 = 2 per frame, the remainder in the last
    assert f.sum(axis=(1, 2, 3)).tolist() == [2, 2, 3]
    assert f[0, 0, 0, 0] == 1 and f[0, 1, 0, 1] == 1  # event 0: x=0 OFF; event 1: x=1 ON
    # the last frame: events 4 (x=1, OFF), 5 (x=2, ON), 6 (x=0, OFF)
    assert f[2, 0, 0].tolist() == [1, 1, 0] and f[2, 1, 0].tolist() == [0, 0, 1]
    assert frames_by_count(ev(2), 3, 2, 3).sum(axis=(1, 2, 3)).tolist() == [0, 0, 2]  # N < T: all in the last
    assert frames_by_count(ev(0), 3, 2, 3).sum() == 0


def test_framing_agrees_with_tonic_but_keeps_the_remainder(data_root):
    path = sorted((data_root / "NMNIST/Test/3").glob("*.bin"))[0]
    ev = tonic.io.read_mnist_file(str(path), dtype=tonic.datasets.NMNIST.dtype)
    T = 7
    ours = frames_by_count(Events(ev["x"], ev["y"], ev["p"], ev["t"]), T, 34, 34)
    theirs = tonic.transforms.ToFrame(sensor_size=(34, 34, 2), n_event_bins=T)(ev)  # drops len % T events
    assert len(ev) % T  # this file exercises the remainder
    assert np.array_equal(ours[:-1], theirs[:-1])
    rest = ev[T * (len(ev) // T) :]
    extra = np.zeros((2, 34, 34), int)
    np.add.at(extra, (rest["p"], rest["y"], rest["x"]), 1)
    assert np.array_equal(ours[-1], theirs[-1] + extra)


def test_events_outside_the_sensor_are_an_error():
    with pytest.raises(ValueError, match=r"event 1 at x=34, y=0, p=1 is outside the 34x34 sensor"):
        frames_by_count(Events(*np.array([[0, 34], [0, 0], [0, 1], [0, 1]])), 2, 34, 34)


def test_gesture_samples_layout(data_root):
    with pytest.warns(UserWarning, match="pipeline tests only"):
        train = data.load("dvs-gesture", "train", T=12, root=data_root, download=False)
    with pytest.warns(UserWarning):
        test = data.load("dvs-gesture", "test", T=12, root=data_root, download=False)
    assert train.layout.name == "samples" and len(train) == len(test) == 10
    assert [r.path.name for r in train.records] == [r.path.name for r in test.records]
    labels = {r.path.name: r.label for r in train.records}
    assert labels == {f"{k}.bin": k - 1 for k in range(1, 11)}  # labels.txt: class k -> label k - 1
    for i in (0, 9):
        x, _ = train[i]
        assert x.shape == (12, 2, 128, 128) and x.sum().item() == bin40_counts(train.records[i].path)[0]


def test_gesture_labels_file_errors_name_the_line(tmp_path):
    folder = tmp_path / "DVSGesture-samples"
    folder.mkdir()
    (folder / "labels.txt").write_text("# file class name label\n1.bin 1 hand_clap\n")
    with pytest.raises(ValueError, match=r"labels.txt, line 2: '1.bin 1 hand_clap'"):
        data.load("dvs-gesture", "train", T=12, root=tmp_path, download=False)


def test_cifar10dvs_reader_reads_the_aedat2_release_format(tmp_path, write_aedat2):
    rng = np.random.default_rng(2)
    x, y, p = rng.integers(0, 128, 500), rng.integers(0, 128, 500), rng.integers(0, 2, 500)
    t = np.sort(rng.integers(0, 2**32, 500))
    path = tmp_path / "cifar10_cat_0.aedat"
    write_aedat2(path, x, y, p, t)
    ev = read_cifar10dvs(path)
    for got, want in zip(ev, (x, y, p, t)):
        assert np.array_equal(got, want)


def test_cifar10dvs_split_is_a_stratified_90_10(cifar10dvs_root):
    train = data.load("cifar10-dvs", "train", T=15, root=cifar10dvs_root, download=False)
    test = data.load("cifar10-dvs", "test", T=15, root=cifar10dvs_root, download=False)
    assert torch.bincount(train.targets).tolist() == [9, 0, 9]
    assert torch.bincount(test.targets).tolist() == [1, 0, 1]
    assert [r.path.name for r in test.records] == ["cifar10_airplane_9.aedat", "cifar10_bird_9.aedat"]
    assert not {r.path for r in train.records} & {r.path for r in test.records}
    x, y = train[0]
    assert x.shape == (15, 2, 128, 128) and x.sum() == 300 and x[:, 0].sum() > 0 and x[:, 1].sum() > 0


def test_cifar10dvs_damaged_files_are_named(tmp_path, write_aedat2):
    bad = tmp_path / "CIFAR10-DVS" / "dog"
    bad.mkdir(parents=True)
    write_aedat2(bad / "a.aedat", [1], [2], [1], [3])
    (bad / "a.aedat").write_bytes((bad / "a.aedat").read_bytes() + b"\0\0\0")
    (bad / "b.aedat").write_bytes(b"\0\1\2\3\4\5\6\7")
    ds = data.load("cifar10-dvs", "train", T=15, root=tmp_path, download=False, cache=False)
    with pytest.raises(ValueError, match=r"cifar10-dvs: .*a.aedat: 11 event bytes .* the file is truncated"):
        ds[0]
    with pytest.raises(ValueError, match=r"b.aedat: no '#!AER-DAT<version>' header line"):
        ds[1]


def test_gesture_release_layout_cuts_gestures_from_aedat31(gesture_release_root):
    train = data.load("dvs-gesture", "train", T=2, root=gesture_release_root, download=False)
    assert train.layout.name == "original"
    assert [(r.label, r.segment) for r in train.records] == [
        (0, (0, 1_000_000)),
        (4, (1_000_000, 3_000_000)),
        (10, (2_147_483_700, 2_147_483_900)),
    ]
    stamps = np.linspace(1_000, 2_999_000, 40).astype(np.int64)
    assert len(train.events(0).t) == (stamps < 1_000_000).sum()
    assert len(train.events(1).t) == (stamps >= 1_000_000).sum()
    late = train.events(2)  # the packet after the overflow: t = 2**31 + ts, and the special packet is skipped
    assert late.t.tolist() == [2**31 + 100, 2**31 + 200]
    assert late.x.tolist() == [3, 4] and late.y.tolist() == [5, 6] and late.p.tolist() == [1, 0]
    x, y = train[2]
    assert y == 10 and x[0, 1, 5, 3] == 1 and x[1, 0, 6, 4] == 1 and x.sum() == 2
    with pytest.raises(data.DatasetNotFound):  # trials_to_test.txt names a recording that is absent
        data.load("dvs-gesture", "test", T=2, root=gesture_release_root, download=False)


def test_gesture_tonic_layout(tmp_path):
    user = tmp_path / "DVSGesture" / "ibmGestureTrain" / "user02_led"
    user.mkdir(parents=True)
    np.save(user / "10.npy", np.array([[1, 2, 1, 0], [3, 4, 0, 5]], dtype=np.float64))  # x, y, p, t (ms)
    np.save(user / "2.npy", np.array([[5, 6, 0, 1]], dtype=np.float64))
    ds = data.load("dvs-gesture", "train", T=2, root=tmp_path, download=False)
    assert ds.layout.name == "tonic" and ds.targets.tolist() == [2, 10]
    assert ds.events(1).t.tolist() == [0, 5000] and ds[1][0][1, 0, 4, 3] == 1
