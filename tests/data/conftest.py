"""Data-test fixtures: a private frame cache per test, and recordings written in the real AEDAT formats.

No CIFAR10-DVS or original-release DVS128 Gesture file is available offline (see ../shared/data/MANIFEST.md),
so their readers are tested on small files written here byte for byte as the originals are laid out:

- CIFAR10-DVS (Li et al. 2017, recorded with jAER): AEDAT 2.0. ASCII header lines starting with '#' and
  ending in CRLF, the first '#!AER-DAT2.0'; then per event a big-endian uint32 address and uint32 timestamp
  (us). DVS128 address: bit 0 polarity, bits 1-7 column, bits 8-14 row. SpikingJelly's CIFAR10DVS (the PLIF
  reference) reads an event as x = 127 - row, y = 127 - col, p = 1 - bit0, so the writer inverts that.
- DVS128 Gesture (Amir et al. 2017, recorded with cAER): AEDAT 3.1. Header lines up to '#!END-HEADER\\r\\n',
  then packets: a 28-byte little-endian header (int16 eventType, int16 eventSource, int32 eventSize,
  eventTSOffset, eventTSOverflow, eventCapacity, eventNumber, eventValid) and eventCapacity events of
  eventSize bytes; a polarity event (type 1) is uint32 data (bit 0 valid, bit 1 polarity, y in bits 2-16,
  x in bits 17-31) and int32 timestamp. Each recording has <name>_labels.csv and the release has
  trials_to_train.txt / trials_to_test.txt.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

AEDAT2_HEADER = (
    b"#!AER-DAT2.0\r\n"
    b"# This is a raw AE data file - do not edit\r\n"
    b"# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event\r\n"
    b"# Timestamps tick is 1 us\r\n"
    b"# created Thu Jan 05 14:23:46 CST 2017\r\n"
)
AEDAT31_HEADER = (
    b"#!AER-DAT3.1\r\n"
    b"#Format: RAW\r\n"
    b"#Source 1: DVS128\r\n"
    b"#Start-Time: 2017-01-05 14:23:46 (TZ+0100)\r\n"
    b"#!END-HEADER\r\n"
)


def write_cifar10dvs_aedat(path: Path, x, y, p, t) -> None:
    row, col, bit = 127 - np.asarray(x), 127 - np.asarray(y), 1 - np.asarray(p)
    addr = (row.astype(np.uint32) << 8) | (col.astype(np.uint32) << 1) | bit.astype(np.uint32)
    body = np.empty(len(addr), dtype=[("address", ">u4"), ("timeStamp", ">u4")])
    body["address"], body["timeStamp"] = addr, t
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(AEDAT2_HEADER + body.tobytes())


def aedat31_packet(kind: int, events: np.ndarray, overflow: int = 0) -> bytes:
    """One packet of 8-byte events, ``events`` an [n, 2] array of (uint32 data, int32 timestamp)."""
    n = len(events)
    head = struct.pack("<hhiiiiii", kind, 1, 8, 4, overflow, n, n, n)
    body = np.empty(n, dtype=[("data", "<u4"), ("ts", "<i4")])
    body["data"], body["ts"] = events[:, 0], events[:, 1]
    return head + body.tobytes()


def polarity_events(x, y, p, ts) -> np.ndarray:
    x, y, p = (np.asarray(a, np.uint32) for a in (x, y, p))
    data = (x << 17) | (y << 2) | (p << 1) | 1  # bit 0: valid
    return np.stack([data.astype(np.int64), np.asarray(ts, np.int64)], axis=1)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch) -> Path:
    """Every data test frames into its own cache folder, never ~/.cache."""
    folder = tmp_path / "frame-cache"
    monkeypatch.setenv("SUITE_CACHE", str(folder))
    return folder


@pytest.fixture
def cifar10dvs_root(tmp_path) -> Path:
    """Two classes (airplane = 0, bird = 2) of ten AEDAT 2.0 recordings each, 300 random events apiece."""
    rng = np.random.default_rng(0)
    root = tmp_path / "cifar10dvs-data"
    for cls in ("airplane", "bird"):
        for i in range(10):
            n = 300
            write_cifar10dvs_aedat(
                root / "CIFAR10-DVS" / cls / f"cifar10_{cls}_{i}.aedat",
                rng.integers(0, 128, n),
                rng.integers(0, 128, n),
                rng.integers(0, 2, n),
                np.sort(rng.integers(0, 1_000_000, n)),
            )
    return root


@pytest.fixture
def gesture_release_root(tmp_path) -> Path:
    """The original DvsGesture layout with one training recording holding three gestures (classes 1, 5,
    11) and a listed test recording that is absent (a subset). The recording has a special-event packet
    (type 0) that must be skipped, and a packet after a timestamp overflow."""
    root = tmp_path / "gesture-data"
    folder = root / "DvsGesture"
    folder.mkdir(parents=True)
    (folder / "trials_to_train.txt").write_text("user01_fluorescent.aedat\n")
    (folder / "trials_to_test.txt").write_text("user24_led.aedat\n")
    rng = np.random.default_rng(1)
    n = 40
    first = polarity_events(
        rng.integers(0, 128, n),
        rng.integers(0, 128, n),
        rng.integers(0, 2, n),
        np.linspace(1_000, 2_999_000, n).astype(np.int64),
    )
    special = np.array([[0x7FFFFFFF, 5], [0x1234, 6]], dtype=np.int64)
    late = polarity_events([3, 4], [5, 6], [1, 0], [100, 200])  # t = 2**31 + 100, 2**31 + 200
    body = aedat31_packet(1, first) + aedat31_packet(0, special) + aedat31_packet(1, late, overflow=1)
    (folder / "user01_fluorescent.aedat").write_bytes(AEDAT31_HEADER + body)
    (folder / "user01_fluorescent_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n1,0,1000000\n5,1000000,3000000\n11,2147483700,2147483900\n"
    )
    return root


@pytest.fixture
def write_aedat2():
    """The CIFAR10-DVS AEDAT 2.0 writer, for tests that need a file of their own."""
    return write_cifar10dvs_aedat
