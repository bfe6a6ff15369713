"""The on-disk cache of framed event tensors: one small file per sample, atomic, self-checking.

Framing is the slow part of every neuromorphic pipeline, and a bad cache silently corrupts results, so:

- the key covers everything the frames depend on: dataset, split, T, the framing settings and reader, and
  the source file's resolved path, size and mtime (plus the time segment for DVS128 Gesture);
- an entry is written to a temporary file in the same folder, then ``os.replace``-d into place, so a killed
  or concurrent writer (DataLoader workers framing the same sample) never leaves a half-written entry under
  the real name; two writers of one entry write the same bytes and the last rename wins;
- each entry carries a header (magic, dtype, shape, payload length, CRC-32 of the payload); a truncated,
  resized or bit-flipped entry fails the check, is reported with its path (``CacheWarning``) and rebuilt.
  The CRC is checked the first time a :class:`FrameCache` reads an entry; later reads of the same entry
  (the next epochs) check magic, shape and length only, which keeps a cached N-MNIST item near 15 us.

Counts are stored in the smallest unsigned type that holds them (usually uint8: 4x smaller than float32);
reading one entry is one ``open``/``read``/``close`` (raw ``os`` calls: a file object costs as much again).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np

MAGIC = b"KLIFFRM1"
_HEAD = struct.Struct("<8sBBxxIQ")  # magic, dtype code, ndim, crc32 of payload, payload bytes; then dims
_DTYPES = {1: np.dtype(np.uint8), 2: np.dtype("<u2"), 3: np.dtype("<u4")}
_CODES = {v: k for k, v in _DTYPES.items()}


class CacheWarning(UserWarning):
    """A cache entry was corrupt (and is being rebuilt) or the cache folder cannot be written."""


def digest(obj) -> str:
    """A stable hex digest of a JSON-able description (the cache keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:32]


def entry_bytes(shape: tuple[int, ...], itemsize: int) -> int:
    return _HEAD.size + 4 * len(shape) + math.prod(shape) * itemsize


def encode(counts: np.ndarray) -> bytes:
    top = int(counts.max()) if counts.size else 0
    dtype = next(d for d in _DTYPES.values() if top <= np.iinfo(d).max)
    payload = np.ascontiguousarray(counts, dtype=dtype).tobytes()
    head = _HEAD.pack(MAGIC, _CODES[dtype], counts.ndim, zlib.crc32(payload), len(payload))
    return head + struct.pack(f"<{counts.ndim}I", *counts.shape) + payload


def decode(buf: bytes, check_crc: bool = True) -> np.ndarray:
    """The stored counts; raises ValueError saying what is wrong with a damaged entry."""
    if len(buf) < _HEAD.size:
        raise ValueError(f"{len(buf)} bytes, shorter than the {_HEAD.size}-byte header")
    magic, code, ndim, crc, size = _HEAD.unpack_from(buf)
    if magic != MAGIC or code not in _DTYPES:
        raise ValueError(f"bad magic/dtype ({magic!r}, {code})")
    start = _HEAD.size + 4 * ndim
    shape = struct.unpack_from(f"<{ndim}I", buf, _HEAD.size) if len(buf) >= start else ()
    if len(buf) != start + size or size != math.prod(shape) * _DTYPES[code].itemsize:
        raise ValueError(f"{len(buf)} bytes; the header promises {start + size} for shape {shape}")
    payload = memoryview(buf)[start:]
    if check_crc and zlib.crc32(payload) != crc:
        raise ValueError("checksum mismatch")
    return np.frombuffer(payload, dtype=_DTYPES[code]).reshape(shape)


class FrameCache:
    """Entries ``<folder>/<key>.frames``; ``folder`` already encodes dataset, split, T and settings."""

    def __init__(self, folder: Path, max_bytes: int = 1 << 30):
        self.folder = Path(folder)
        self._prefix = os.path.join(self.folder, "")  # str paths: pathlib costs more than the read
        self.max_bytes = max_bytes  # no sound entry is larger; reading one byte more exposes an oversize file
        self.writable = True
        self._verified: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self._prefix}{key}.frames"

    def load(self, key: str) -> np.ndarray | None:
        """The entry's counts, or None when absent or corrupt (corrupt ones are reported)."""
        path = self.path(key)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # absent (or unreadable: then store() reports the folder once)
            return None
        try:
            buf = os.read(fd, self.max_bytes + 1)
        finally:
            os.close(fd)
        try:
            counts = decode(buf, check_crc=key not in self._verified)
            self._verified.add(key)
            return counts
        except ValueError as e:
            warnings.warn(f"corrupt frame-cache entry {path} ({e}); rebuilding it", CacheWarning,
                          stacklevel=2)
            return None

    def store(self, key: str, counts: np.ndarray) -> None:
        if not self.writable:
            return
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{key}.", suffix=".tmp")
            os.fchmod(fd, 0o644)  # mkstemp makes it owner-only; a cache may be shared between users
            with os.fdopen(fd, "wb") as f:
                f.write(encode(counts))
            os.replace(tmp, self.path(key))
        except OSError as e:
            self.writable = False
            warnings.warn(f"cannot write the frame cache in {self.folder} ({e}); continuing without caching; "
                          f"set SUITE_CACHE to a writable folder", CacheWarning, stacklevel=2)
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
