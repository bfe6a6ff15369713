"""The framed-tensor cache: one pack per (sub)set, keyed, atomic, self-checking, locked against concurrent
builders, never under the data root, and actually used."""

from __future__ import annotations

import os
import pickle
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from suite import data
from suite.data import cache as frame_cache
from suite.data import events as event_sets
from suite.data.cache import CacheWarning
from suite.data.file_layouts import Record


def nmnist(root, T=10, n=4, **options):
    return data.load("nmnist", "test", T=T, root=root, limit=n, download=False, **options)


def packs(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.pack"))


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.tmp"))


def unreadable(ds):
    """The same dataset, with readers that fail: what it still serves comes from the cache."""

    def fail(path):
        raise AssertionError(f"read {path} although it is cached")

    ds.records = [Record(r.path, r.label, fail, r.segment) for r in ds.records]
    return ds


def test_first_access_builds_one_pack_the_next_load_is_served_from_it(data_root, private_cache):
    ds = nmnist(data_root)
    first = [ds[i][0] for i in range(len(ds))]
    (pack,) = packs(private_cache)
    counts = frame_cache.read_pack(pack)
    assert counts.shape == (4, 10, 2, 34, 34)
    again = unreadable(nmnist(data_root))
    assert all(torch.equal(a, again[i][0]) for i, a in enumerate(first))
    assert all(torch.equal(a, b[0]) for a, b in zip(first, nmnist(data_root, cache=False)))  # = framing
    assert all(x.dtype == torch.float32 for x in first)


def test_the_cache_lives_in_SUITE_CACHE_not_under_the_data_root(
    data_root, private_cache, monkeypatch, tmp_path
):
    ds = nmnist(data_root, n=1)
    ds[0]
    assert ds.cache.path.is_relative_to(private_cache) and not ds.cache.path.is_relative_to(data_root)
    monkeypatch.delenv("SUITE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert nmnist(data_root, n=1).cache.path.is_relative_to(tmp_path / "home" / ".cache" / "klif-suite")
    explicit = nmnist(data_root, n=1, cache_dir=tmp_path / "mine")
    assert explicit.cache.path.is_relative_to(tmp_path / "mine")


def test_truncated_pack_is_reported_and_rebuilt(data_root, private_cache):
    good = nmnist(data_root)[1][0]
    (pack,) = packs(private_cache)
    pack.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])
    with pytest.raises(ValueError, match="the header promises"):
        frame_cache.read_pack(pack)
    with pytest.warns(CacheWarning, match=f"corrupt frame-cache pack {pack} .*rebuilding"):
        rebuilt = nmnist(data_root)[1][0]
    assert torch.equal(rebuilt, good)
    assert np.array_equal(frame_cache.read_pack(pack)[1], good.numpy())  # sound again
    assert leftovers(private_cache) == []


@pytest.mark.parametrize("where, message", [(-100, "checksum mismatch"), (8, "bad magic/dtype")])
def test_a_flipped_byte_is_detected_on_open(data_root, private_cache, where, message):
    good = nmnist(data_root)[0][0]
    (pack,) = packs(private_cache)
    raw = bytearray(pack.read_bytes())
    raw[where] ^= 0x01
    pack.write_bytes(bytes(raw))
    with pytest.warns(CacheWarning, match=message):
        assert torch.equal(nmnist(data_root)[0][0], good)
    frame_cache.read_pack(pack)  # rebuilt


def test_a_pack_is_checked_once_per_open_not_per_item(data_root, private_cache, monkeypatch):
    ds = nmnist(data_root)
    ds.fill_cache()
    fresh = nmnist(data_root)
    calls = []
    real = frame_cache._crc
    monkeypatch.setattr(frame_cache, "_crc", lambda *a: calls.append(1) or real(*a))
    for _ in range(3):
        [fresh[i] for i in range(len(fresh))]
    assert len(calls) == 1


def test_key_covers_T_settings_the_subset_and_the_source_files_size_and_mtime(
    data_root, private_cache, tmp_path
):
    src = sorted((data_root / "NMNIST/Test/7").glob("*.bin"))[:2]
    root = tmp_path / "copy"
    (root / "NMNIST/Test/7").mkdir(parents=True)
    copy = Path(shutil.copy(src[0], root / "NMNIST/Test/7"))
    shutil.copy(src[1], root / "NMNIST/Test/7")
    nmnist(root, T=10)[0]
    nmnist(root, T=5)[0]
    assert len(packs(private_cache)) == 2
    assert nmnist(root, T=10).cache.path.parent != nmnist(root, T=5).cache.path.parent
    nmnist(root, T=10, n=1)[0]  # another subset: another pack
    assert len(packs(private_cache)) == 3
    nmnist(root, T=10)[0]  # the same one: no new pack
    assert len(packs(private_cache)) == 3
    os.utime(copy, ns=(0, 10**18))
    nmnist(root, T=10)[0]
    assert len(packs(private_cache)) == 4
    with open(copy, "ab") as f:
        f.write(bytes([1, 2, 0x80, 0, 9]))  # one more event: a new size, and frames that must include it
    x, _ = nmnist(root, T=10)[0]
    assert len(packs(private_cache)) == 5 and x.sum().item() == copy.stat().st_size // 5


def test_an_interrupted_writer_leaves_no_pack(data_root, private_cache, monkeypatch):
    ds = nmnist(data_root, n=1)

    def killed(src, dst):
        raise OSError("killed before the rename (test)")

    with monkeypatch.context() as patch, pytest.warns(CacheWarning, match="cannot write the frame cache"):
        patch.setattr(frame_cache.os, "replace", killed)
        x = ds[0][0]
    assert packs(private_cache) == [] and leftovers(private_cache) == []
    assert torch.equal(ds[0][0], x)  # served by framing, without a second warning
    assert torch.equal(nmnist(data_root, n=1)[0][0], x)
    assert len(packs(private_cache)) == 1 and leftovers(private_cache) == []


def test_a_failing_recording_fails_the_build_and_leaves_nothing(data_root, private_cache):
    ds = nmnist(data_root)
    ds.records[2] = Record(ds.records[2].path, 0, lambda p: (_ for _ in ()).throw(ValueError("bad file")))
    with pytest.raises(ValueError, match="bad file"):
        ds[0]
    assert packs(private_cache) == [] and leftovers(private_cache) == []


def test_an_unwritable_cache_warns_once_and_still_serves(data_root, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    ds = nmnist(data_root, n=3, cache_dir=blocker / "cache")  # cannot mkdir under a file, even as root
    with pytest.warns(CacheWarning) as record:
        xs = [ds[i][0] for i in range(3)]
        batch, _ = next(iter(data.loader(ds, 3, shuffle=False)))
    assert len(record) == 1
    assert all(torch.equal(a, b[0]) for a, b in zip(xs, nmnist(data_root, n=3, cache=False)))
    assert torch.equal(batch, torch.stack(xs, dim=1))


def test_cache_false_writes_nothing(data_root, private_cache):
    ds = nmnist(data_root, cache=False)
    ds[0]
    next(iter(data.loader(ds, 2, shuffle=True)))
    assert ds.cache is None and not private_cache.exists()


def test_concurrent_builders_frame_each_sample_once(data_root, private_cache, tmp_path, monkeypatch):
    """Two DataLoader workers (forked processes) both need the pack at once: the file lock lets one frame
    it while the other waits, then opens the result."""
    log = tmp_path / "framed.log"
    real = event_sets.frames_by_count

    def slow(*args):
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.02)
        return real(*args)

    monkeypatch.setattr(event_sets, "frames_by_count", slow)
    ds = nmnist(data_root, n=12)
    plain = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2, collate_fn=data.collate)
    batches = list(plain)  # not data.loader, which builds the pack before starting workers
    assert len(log.read_text().split()) == 12
    assert len(packs(private_cache)) == 1 and leftovers(private_cache) == []
    served = unreadable(nmnist(data_root, n=12))
    assert all(
        torch.equal(x, torch.stack([served[3 * b + j][0] for j in range(3)], dim=1))
        for b, (x, _) in enumerate(batches)
    )


def test_the_loader_builds_the_pack_before_its_workers_start(data_root, private_cache):
    ds = nmnist(data_root, n=6)
    batches = data.loader(ds, 3, shuffle=False, workers=2)
    assert len(packs(private_cache)) == 1 and ds.packed() is not None
    xs = [x for x, _ in batches]
    assert torch.equal(torch.cat(xs, dim=1), torch.stack([ds[i][0] for i in range(6)], dim=1))


def test_a_pickled_dataset_carries_no_frames(data_root, private_cache):
    ds = nmnist(data_root, n=12)
    ds.fill_cache()
    blob = pickle.dumps(ds)  # what a spawn/forkserver worker receives
    assert len(blob) < 12 * 10 * 2 * 34 * 34 // 4
    clone = pickle.loads(blob)
    assert all(torch.equal(clone[i][0], ds[i][0]) for i in range(12))


def test_packs_store_small_integers(data_root, private_cache):
    nmnist(data_root, n=2)[0]
    (pack,) = packs(private_cache)
    counts = frame_cache.read_pack(pack)
    assert counts.dtype == np.uint8 and pack.stat().st_size <= 2 * 10 * 2 * 34 * 34 + 128
    assert pack.stat().st_mode & 0o444 == 0o444  # a shared cache: readable by every user


def test_counts_too_large_for_a_byte_widen_the_pack(tmp_path, private_cache, write_aedat2):
    """The first recording fits uint8, the second has 600 events on one pixel in one frame: the pack is
    widened to uint16 while it is built, and both samples still hold their exact counts."""
    rng = np.random.default_rng(3)
    folder = tmp_path / "CIFAR10-DVS" / "airplane"
    x, y, p = rng.integers(0, 128, 50), rng.integers(0, 128, 50), rng.integers(0, 2, 50)
    write_aedat2(folder / "a.aedat", x, y, p, np.arange(50))
    write_aedat2(folder / "b.aedat", [7] * 600, [9] * 600, [1] * 600, np.arange(600))
    ds = data.load("cifar10-dvs", "train", T=1, root=tmp_path, download=False)
    xs = [ds[i][0] for i in range(2)]
    (pack,) = packs(private_cache)
    assert frame_cache.read_pack(pack).dtype == np.uint16
    assert xs[1][0, 1, 9, 7] == 600 and xs[1].sum() == 600
    uncached = data.load("cifar10-dvs", "train", T=1, root=tmp_path, download=False, cache=False)
    assert all(torch.equal(x, uncached[i][0]) for i, x in enumerate(xs))


def test_widening_in_place_keeps_every_count(monkeypatch):
    import tempfile

    monkeypatch.setattr(frame_cache, "_CHUNK", 40)  # many chunks, moved last first
    counts = np.arange(1000, dtype=np.uint64) % 251
    with tempfile.TemporaryFile() as f:
        f.write(b"x" * 64 + counts.astype(np.uint8).tobytes())
        f.flush()
        frame_cache.PackedFrames._widen(f.fileno(), 64, 1000, np.dtype(np.uint8), np.dtype("<u4"))
        f.seek(64)
        assert np.array_equal(np.frombuffer(f.read(4000), "<u4"), counts)
        f.seek(0)
        assert f.read(64) == b"x" * 64


def test_fill_cache_frames_every_gesture_reading_each_recording_once(gesture_release_root, private_cache):
    from suite.data import file_layouts

    file_layouts._aedat31.cache_clear()
    ds = data.load("dvs-gesture", "train", T=2, root=gesture_release_root, download=False)
    ds.fill_cache()
    (pack,) = packs(private_cache)
    assert frame_cache.read_pack(pack).shape[0] == 3 and file_layouts._aedat31.cache_info().misses == 1
    served = unreadable(data.load("dvs-gesture", "train", T=2, root=gesture_release_root, download=False))
    assert all(torch.equal(served[i][0], ds[i][0]) for i in range(3))
    uncached = data.load("dvs-gesture", "train", T=2, root=gesture_release_root, download=False, cache=False)
    with pytest.raises(ValueError, match="fill_cache\\(\\) needs cache=True"):
        uncached.fill_cache()
