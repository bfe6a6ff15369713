"""AEDAT readers for the original distributions of CIFAR10-DVS (AEDAT 2.0) and DVS128 Gesture (AEDAT 3.1).

Both formats start with ASCII header lines beginning with ``#`` (``#!AER-DAT<version>`` first; 3.1 ends the
header with ``#!END-HEADER``), then binary events:

- AEDAT 2.0 (jAER): 8 bytes per event, big-endian ``uint32 address, uint32 timestamp (us)``. The body is
  read with tonic's ``get_aer_events_from_file``. CIFAR10-DVS uses the DVS128 address layout: bit 0 the
  polarity, bits 1-7 the column, bits 8-14 the row. We map them exactly as SpikingJelly's
  ``CIFAR10DVS.load_origin_data`` (the PLIF reference) does: ``x = 127 - row``, ``y = 127 - col``,
  ``p = 1 - bit0``, which puts the images upright and gives ON events p = 1 (see jackd/events-tfds#1).
- AEDAT 3.1 (cAER): packets, each a 28-byte little-endian header (eventType, eventSource, eventSize,
  eventTSOffset, eventTSOverflow, eventCapacity, eventNumber, eventValid) and ``capacity * size`` bytes of
  events. Polarity packets (type 1) hold ``uint32 data, int32 timestamp``: polarity bit 1, y bits 2-16,
  x bits 17-31; ``t = timestamp | overflow << 31``. Other packet types are skipped. This follows
  SpikingJelly's ``load_aedat_v3``; tonic's v3 reader does not skip non-polarity packets, so it is not used.

Header parsing is our own: tonic's ``read_aedat_header_from_file`` misreads headers whose lines do not end
in ``\\r\\n`` and fails on some 'Creation time' lines.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tonic.io import get_aer_events_from_file


class Events(NamedTuple):
    """One recording: integer arrays of equal length; ``p`` is 1 for ON (brighter), 0 for OFF; ``t`` in us."""

    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    t: np.ndarray


def read_header(path: Path) -> tuple[float, int]:
    """(AEDAT version, byte offset of the first event)."""
    version, offset = None, 0
    with open(path, "rb") as f:
        while True:
            line = f.readline()
            if not line.startswith(b"#") or not line.endswith(b"\n"):
                break
            if line.startswith(b"#!AER-DAT"):
                try:
                    version = float(line[9:].strip().decode("ascii"))
                except ValueError:
                    raise ValueError(f"{path}: unreadable version line {line[:40]!r}") from None
            offset += len(line)
            if line.startswith(b"#!END-HEADER"):
                break
    if version is None:
        raise ValueError(f"{path}: no '#!AER-DAT<version>' header line, so not an AEDAT 2.0/3.1 file")
    return version, offset


def read_cifar10dvs(path: Path) -> Events:
    """A CIFAR10-DVS recording in the original AEDAT 2.0 release format (128 x 128)."""
    version, start = read_header(path)
    if not 2 <= version < 3:
        raise ValueError(f"{path}: AEDAT {version}; the CIFAR10-DVS release files are AEDAT 2.0")
    if (path.stat().st_size - start) % 8:
        raise ValueError(
            f"{path}: {path.stat().st_size - start} event bytes is not a whole number of "
            f"8-byte AEDAT 2.0 events; the file is truncated"
        )
    raw = get_aer_events_from_file(str(path), version, start)
    addr = raw["address"].astype(np.int64)
    col, row, bit = (addr & 0xFE) >> 1, (addr & 0x7F00) >> 8, addr & 1
    return Events(127 - row, 127 - col, 1 - bit, raw["timeStamp"].astype(np.int64))


_PACKET = struct.Struct("<hhiiiiii")  # type, source, size, tsOffset, tsOverflow, capacity, number, valid
POLARITY_EVENT = 1


def read_aedat31_polarity(path: Path) -> Events:
    """Every polarity event of an AEDAT 3.1 file (a DVS128 Gesture user recording)."""
    version, start = read_header(path)
    if not 3 <= version < 4:
        raise ValueError(f"{path}: AEDAT {version}; DVS128 Gesture's recordings are AEDAT 3.1")
    raw = np.fromfile(path, dtype=np.uint8, offset=start)
    data, stamps, pos = [], [], 0
    while pos + _PACKET.size <= len(raw):
        kind, _, size, _, overflow, capacity, _, _ = _PACKET.unpack_from(raw, pos)
        body, pos = pos + _PACKET.size, pos + _PACKET.size + capacity * size
        if pos > len(raw) or size < 0 or capacity < 0:
            raise ValueError(
                f"{path}: packet at byte {start + body - _PACKET.size} claims {capacity} events "
                f"of {size} bytes, past the end of the file; the file is truncated or corrupt"
            )
        if kind == POLARITY_EVENT and capacity:
            if size < 8:
                raise ValueError(f"{path}: polarity events of {size} bytes; AEDAT 3.1 polarity events are 8")
            events = raw[body:pos].reshape(capacity, size)[:, :8].copy().view("<u4")
            data.append(events[:, 0].astype(np.int64))
            stamps.append(events[:, 1].astype(np.int64) | (overflow << 31))
    if pos != len(raw):
        raise ValueError(f"{path}: {len(raw) - pos} stray bytes after the last packet; the file is truncated")
    d = np.concatenate(data) if data else np.zeros(0, np.int64)
    t = np.concatenate(stamps) if stamps else np.zeros(0, np.int64)
    # compact types: a user recording holds millions of events and is kept while its gestures are framed
    x, y, p = ((d >> 17) & 0x7FFF).astype(np.uint16), ((d >> 2) & 0x7FFF).astype(np.uint16), (d >> 1) & 1
    return Events(x, y, p.astype(np.uint8), t)
