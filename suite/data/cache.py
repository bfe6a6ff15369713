"""The on-disk cache of framed event tensors: one packed file per dataset (sub)set, atomic, self-checking.

Framing is the slow part of every neuromorphic pipeline, and a bad cache silently corrupts results, so:

- a pack holds the framed counts of every sample of one dataset split (or of the ``limit`` subset asked
  for) as one contiguous ``[N, T, 2, H, W]`` array; its name covers everything the frames depend on:
  dataset, split, T, the framing settings and layout (the folder) and a fingerprint of the source files
  (each one's resolved path, size and mtime, plus the time segment for DVS128 Gesture, in sample order);
- it is read through a memory map: serving a sample is a slice of the page cache, no ``open``/``read``
  per item (the per-sample files this replaces spent most of a cached epoch in those calls);
- it is written to a temporary file in the same folder, then ``os.replace``-d into place, so a killed
  writer never leaves a half-written pack under the real name; concurrent builders (DataLoader workers,
  parallel runs of a study) take an exclusive ``flock`` on ``.<name>.lock`` beside it, so one frames and
  the others wait and then open its result;
- the file carries a header (magic, dtype, sample count, sample shape, payload length, CRC-32 of the
  payload, the source fingerprint); every :class:`PackedFrames` checks the header and the file length and
  computes the CRC the first time it opens a pack (about a second per GB), so a truncated, resized or
  bit-flipped pack is reported with its path (``CacheWarning``) and rebuilt. A pack this object just built,
  or one its parent process verified (DataLoader workers started by ``spawn``), is not checked again.

Counts are stored in the smallest unsigned type that holds the largest one (usually uint8: 4x smaller than
float32; a sample with a larger count widens the pack to uint16, then uint32, while it is built); the
dataset casts to float32 when it assembles an item or a batch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import mmap
import os
import struct
import tempfile
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

MAGIC = b"KLIFPAK1"
# magic, dtype code, ndim (of one sample), crc32 of payload, samples, payload bytes, fingerprint; then dims
_HEAD = struct.Struct("<8sBBxxIQQ32s")
ALIGN = 64  # the payload starts at a multiple of this
_DTYPES = {1: np.dtype(np.uint8), 2: np.dtype("<u2"), 3: np.dtype("<u4")}
_CODES = {v: k for k, v in _DTYPES.items()}
_CHUNK = 1 << 24  # bytes per step of the checksum and of widening


class CacheWarning(UserWarning):
    """A cache pack was corrupt (and is being rebuilt) or the cache folder cannot be written."""


def digest(obj) -> str:
    """A stable hex digest of a JSON-able description (the cache keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:32]


def payload_offset(ndim: int) -> int:
    return -(-(_HEAD.size + 4 * ndim) // ALIGN) * ALIGN


def dtype_for(top: int) -> np.dtype:
    """The smallest stored type that holds counts up to ``top``."""
    for d in _DTYPES.values():
        if top <= np.iinfo(d).max:
            return d
    raise ValueError(f"an event count of {top} does not fit in uint32")


def _crc(buf, start: int, end: int) -> int:
    view, crc = memoryview(buf), 0
    for at in range(start, end, _CHUNK):
        crc = zlib.crc32(view[at : min(at + _CHUNK, end)], crc)
    view.release()
    return crc


def map_pack(fd: int, size: int, check_crc: bool = True, expect=None) -> np.ndarray:
    """The counts ``[N, *shape]`` of the pack open as ``fd`` (``size`` bytes), memory-mapped copy-on-write
    (writable, so ``torch.from_numpy`` takes it quietly; nothing is ever written back). ``expect`` is
    ``(N, shape, fingerprint)`` or None. Raises ValueError saying what is wrong with a damaged pack."""
    head = os.pread(fd, _HEAD.size, 0)
    if len(head) < _HEAD.size:
        raise ValueError(f"{size} bytes, shorter than the {_HEAD.size}-byte header")
    magic, code, ndim, crc, count, nbytes, fingerprint = _HEAD.unpack(head)
    if magic != MAGIC or code not in _DTYPES:
        raise ValueError(f"bad magic/dtype ({magic!r}, {code})")
    dims = os.pread(fd, 4 * ndim, _HEAD.size)
    shape = struct.unpack(f"<{ndim}I", dims) if len(dims) == 4 * ndim else ()
    start = payload_offset(ndim)
    if size != start + nbytes or nbytes != count * math.prod(shape) * _DTYPES[code].itemsize:
        raise ValueError(f"{size} bytes; the header promises {start + nbytes} for {count} x {shape}")
    fingerprint = fingerprint.decode("ascii", "replace")
    if expect is not None and (count, shape, fingerprint) != tuple(expect):
        raise ValueError(
            f"holds {count} x {shape} of sources {fingerprint}, not {expect[0]} x {expect[1]} of {expect[2]}"
        )
    buf = mmap.mmap(fd, size, access=mmap.ACCESS_COPY)
    if check_crc and _crc(buf, start, size) != crc:
        buf.close()
        raise ValueError("checksum mismatch")
    return np.frombuffer(buf, _DTYPES[code], count * math.prod(shape), start).reshape(count, *shape)


def read_pack(path) -> np.ndarray:
    """A pack's counts, fully checked (for tests and inspection); ValueError when it is damaged."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return map_pack(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


class _WriteFailed(Exception):
    """An ``OSError`` of the cache itself (not of reading a source file): caching is turned off."""


def _io(call, *args):
    try:
        return call(*args)
    except OSError as e:
        raise _WriteFailed(e) from e


class PackedFrames:
    """``<folder>/<name>``: the counts ``[count, *shape]`` of one dataset (sub)set, built on first use."""

    def __init__(self, folder: Path, name: str, fingerprint: str, count: int, shape: tuple[int, ...]):
        if len(fingerprint) != 32:
            raise ValueError(f"fingerprint {fingerprint!r}: want 32 hex digits")
        self.folder, self.path = Path(folder), Path(folder) / name
        self.fingerprint, self.count, self.shape = fingerprint, count, tuple(shape)
        self.writable = True  # False after the folder failed to take a pack: the dataset frames on the fly
        self._array: np.ndarray | None = None
        self._verified: tuple[int, int, int] | None = None  # (inode, size, mtime) of the pack checked

    def __getstate__(self):  # a worker started by spawn/forkserver maps the file again, without a copy
        return {**self.__dict__, "_array": None}

    def array(self, frame: Callable[[int], np.ndarray]) -> np.ndarray | None:
        """The memory-mapped counts, building the pack with ``frame(i)`` (``[*shape]`` ints, sample ``i``)
        when it is absent or corrupt; None when the cache folder cannot be written (reported once)."""
        if self._array is None and self.writable:
            self._array = self._open_or_build(frame)
        return self._array

    # ---- reading ----

    def _open(self, quiet_for: tuple[int, int, int] | None = None):
        """(array or None, stamp of a corrupt file or None). Corrupt packs are reported, except the one
        with stamp ``quiet_for`` (already reported by this process)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:  # absent (or unreadable: then it is rebuilt and replaced)
            return None, None
        try:
            st = os.fstat(fd)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            try:
                found = self._map(fd, st.st_size, check_crc=stamp != self._verified)
            except ValueError as e:
                if stamp != quiet_for:
                    warnings.warn(
                        f"corrupt frame-cache pack {self.path} ({e}); rebuilding it",
                        CacheWarning,
                        stacklevel=4,
                    )
                return None, stamp
            self._verified = stamp
            return found, None
        finally:
            os.close(fd)

    def _map(self, fd: int, size: int, check_crc: bool) -> np.ndarray:
        return map_pack(fd, size, check_crc, expect=(self.count, self.shape, self.fingerprint))

    # ---- building ----

    def _open_or_build(self, frame) -> np.ndarray | None:
        found, corrupt = self._open()
        if found is not None:
            return found
        lock = tmp = None
        try:
            _io(self.folder.mkdir, 0o777, True, True)
            lock = _io(os.open, self.folder / f".{self.path.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            _io(fcntl.flock, lock, fcntl.LOCK_EX)  # another process may be building it: wait for it
            found, _ = self._open(quiet_for=corrupt)
            if found is not None:
                return found
            fd, tmp = _io(tempfile.mkstemp, ".tmp", f".{self.path.name}.", self.folder)
            with os.fdopen(fd, "r+b") as f:
                stamp = self._write(f, frame)
            _io(os.replace, tmp, self.path)
            tmp = None
            self._verified = stamp  # its checksum was just computed from the file itself
            found, _ = self._open()
            return found
        except _WriteFailed as e:
            self.writable = False
            warnings.warn(
                f"cannot write the frame cache in {self.folder} ({e.__cause__}); continuing "
                "without caching; set SUITE_CACHE to a writable folder",
                CacheWarning,
                stacklevel=3,
            )
            return None
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            if lock is not None:
                os.close(lock)  # releases the flock

    def _write(self, f, frame) -> tuple[int, int, int]:
        """Frames every sample into ``f`` (header last); returns the finished file's stamp."""
        _io(os.fchmod, f.fileno(), 0o644)  # mkstemp makes it owner-only; a cache may be shared between users
        per, start = math.prod(self.shape), payload_offset(len(self.shape))
        dtype = _DTYPES[1]
        _io(f.write, bytes(start))
        for i in range(self.count):
            counts = np.asarray(frame(i))
            if counts.shape != self.shape:
                raise ValueError(f"sample {i} framed to {counts.shape}, not {self.shape}")
            top = int(counts.max()) if counts.size else 0
            if top > np.iinfo(dtype).max:
                f.flush()
                wider = dtype_for(top)
                _io(self._widen, f.fileno(), start, i * per, dtype, wider)
                dtype = wider
                f.seek(start + i * per * dtype.itemsize)
            _io(f.write, np.ascontiguousarray(counts, dtype=dtype).data)
        _io(f.flush)
        size = start + self.count * per * dtype.itemsize
        if size == start:
            crc = 0
        else:
            with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as buf:
                crc = _crc(buf, start, size)
        head = _HEAD.pack(
            MAGIC, _CODES[dtype], len(self.shape), crc, self.count, size - start, self.fingerprint.encode()
        )
        _io(os.pwrite, f.fileno(), head + struct.pack(f"<{len(self.shape)}I", *self.shape), 0)
        st = _io(os.fstat, f.fileno())
        return st.st_ino, st.st_size, st.st_mtime_ns

    @staticmethod
    def _widen(fd: int, start: int, n: int, old: np.dtype, new: np.dtype) -> None:
        """Rewrite the ``n`` counts already written as ``old`` as ``new``, in place, last chunk first (each
        chunk's wider copy only covers bytes already read)."""
        step = _CHUNK // new.itemsize
        for lo in reversed(range(0, n, step)):
            hi = min(lo + step, n)
            chunk = np.frombuffer(os.pread(fd, (hi - lo) * old.itemsize, start + lo * old.itemsize), old)
            os.pwrite(fd, chunk.astype(new).data, start + lo * new.itemsize)
