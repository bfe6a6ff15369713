"""The framed-tensor cache: keyed, atomic, self-checking, never under the data root, and actually used."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from suite import data
from suite.data import cache as frame_cache
from suite.data.cache import CacheWarning
from suite.data.layouts import Record


def nmnist(root, T=10, n=4, **options):
    return data.load("nmnist", "test", T=T, root=root, limit=n, download=False, **options)


def entries(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.frames"))


def unreadable(ds):
    """The same dataset, with readers that fail: what it still serves comes from the cache."""
    def fail(path):
        raise AssertionError(f"read {path} although it is cached")

    ds.records = [Record(r.path, r.label, fail, r.segment) for r in ds.records]
    return ds


def test_first_access_writes_an_entry_the_second_is_served_from_it(data_root, private_cache):
    ds = nmnist(data_root)
    first = [ds[i][0] for i in range(len(ds))]
    assert len(entries(private_cache)) == 4
    again = unreadable(nmnist(data_root))
    assert all(torch.equal(a, again[i][0]) for i, a in enumerate(first))


def test_the_cache_lives_in_SUITE_CACHE_not_under_the_data_root(data_root, private_cache, monkeypatch,
                                                                 tmp_path):
    ds = nmnist(data_root, n=1)
    ds[0]
    assert ds.cache.folder.is_relative_to(private_cache) and not ds.cache.folder.is_relative_to(data_root)
    monkeypatch.delenv("SUITE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert nmnist(data_root, n=1).cache.folder.is_relative_to(tmp_path / "home" / ".cache" / "klif-suite")
    explicit = nmnist(data_root, n=1, cache_dir=tmp_path / "mine")
    assert explicit.cache.folder.is_relative_to(tmp_path / "mine")


def test_truncated_entry_is_reported_and_rebuilt(data_root, private_cache):
    ds = nmnist(data_root, n=1)
    good = ds[0][0]
    (entry,) = entries(private_cache)
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    with pytest.warns(CacheWarning, match=f"corrupt frame-cache entry {entry}.*rebuilding"):
        rebuilt = nmnist(data_root, n=1)[0][0]
    assert torch.equal(rebuilt, good)
    assert np.array_equal(frame_cache.decode(entry.read_bytes()), good.numpy())  # sound again


def test_a_flipped_byte_fails_the_checksum(data_root, private_cache):
    ds = nmnist(data_root, n=1)
    good = ds[0][0]
    (entry,) = entries(private_cache)
    raw = bytearray(entry.read_bytes())
    raw[-100] ^= 0x01
    entry.write_bytes(bytes(raw))
    with pytest.warns(CacheWarning, match="checksum mismatch"):
        assert torch.equal(ds[0][0], good)


def test_key_covers_T_settings_and_the_source_files_size_and_mtime(data_root, private_cache, tmp_path):
    src = sorted((data_root / "NMNIST/Test/7").glob("*.bin"))[0]
    root = tmp_path / "copy"
    (root / "NMNIST/Test/7").mkdir(parents=True)
    copy = Path(shutil.copy(src, root / "NMNIST/Test/7"))
    nmnist(root, T=10)[0]
    nmnist(root, T=5)[0]
    assert len(entries(private_cache)) == 2
    assert nmnist(root, T=10).cache.folder != nmnist(root, T=5).cache.folder
    os.utime(copy, ns=(0, 10**18))
    nmnist(root, T=10)[0]
    assert len(entries(private_cache)) == 3
    with open(copy, "ab") as f:
        f.write(bytes([1, 2, 0x80, 0, 9]))  # one more event: a new size, and frames that must include it
    x, _ = nmnist(root, T=10)[0]
    assert len(entries(private_cache)) == 4 and x.sum().item() == copy.stat().st_size // 5


def test_an_interrupted_writer_leaves_no_entry(data_root, private_cache, monkeypatch):
    ds = nmnist(data_root, n=1)

    def killed(src, dst):
        raise OSError("killed before the rename (test)")

    with monkeypatch.context() as patch, pytest.warns(CacheWarning, match="cannot write the frame cache"):
        patch.setattr(frame_cache.os, "replace", killed)
        x = ds[0][0]
    assert entries(private_cache) == [] and not list(private_cache.rglob("*.tmp"))
    assert torch.equal(nmnist(data_root, n=1)[0][0], x)
    assert len(entries(private_cache)) == 1 and not list(private_cache.rglob("*.tmp"))


def test_an_unwritable_cache_warns_once_and_still_serves(data_root, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    ds = nmnist(data_root, n=3, cache_dir=blocker / "cache")  # cannot mkdir under a file, even as root
    with pytest.warns(CacheWarning) as record:
        xs = [ds[i][0] for i in range(3)]
    assert len(record) == 1
    assert all(torch.equal(a, b[0]) for a, b in zip(xs, nmnist(data_root, n=3, cache=False)))


def test_cache_false_writes_nothing(data_root, private_cache):
    ds = nmnist(data_root, cache=False)
    ds[0]
    assert ds.cache is None and not private_cache.exists()


def test_workers_fill_the_cache_concurrently(data_root, private_cache):
    ds = nmnist(data_root, n=12)
    batches = list(data.loader(ds, 3, shuffle=False, workers=2))
    assert len(entries(private_cache)) == 12 and not list(private_cache.rglob("*.tmp"))
    served = unreadable(nmnist(data_root, n=12))
    assert all(torch.equal(x, torch.stack([served[3 * b + j][0] for j in range(3)], dim=1))
               for b, (x, _) in enumerate(batches))


def test_entries_store_small_integers(data_root, private_cache):
    nmnist(data_root, n=1)[0]
    (entry,) = entries(private_cache)
    counts = frame_cache.decode(entry.read_bytes())
    assert counts.dtype == np.uint8 and entry.stat().st_size < 10 * 2 * 34 * 34 + 64
    assert entry.stat().st_mode & 0o444 == 0o444  # a shared cache: readable by every user


def test_fill_cache_frames_every_gesture_reading_each_recording_once(gesture_release_root, private_cache):
    from suite.data import layouts

    layouts._aedat31.cache_clear()
    ds = data.load("dvs-gesture", "train", T=2, root=gesture_release_root, download=False)
    ds.fill_cache()
    assert len(entries(private_cache)) == 3 and layouts._aedat31.cache_info().misses == 1
    served = unreadable(data.load("dvs-gesture", "train", T=2, root=gesture_release_root, download=False))
    assert all(torch.equal(served[i][0], ds[i][0]) for i in range(3))
    uncached = data.load("dvs-gesture", "train", T=2, root=gesture_release_root, download=False, cache=False)
    with pytest.raises(ValueError, match="fill_cache\\(\\) needs cache=True"):
        uncached.fill_cache()
