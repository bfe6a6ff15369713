"""Event sets (N-MNIST, CIFAR10-DVS, DVS128 Gesture): recordings -> cached ``[T, 2, H, W]`` frames.

An :class:`EventSource` is the data that describes one set: its frame size, the file layouts it may be
found in (:mod:`suite.data.file_layouts`) and where a person gets it. ``download=True`` fetches a missing
split through :mod:`suite.data.fetch` from the files tonic's own download uses (``sources.toml`` names the
tonic class), unpacked into tonic's layout. ``open`` picks
the layout, applies ``limit`` and returns an :class:`EventDataset`, whose items are ``(frames, label)``:
float32 event counts ``[T, 2, H, W]`` framed by equal event count (:mod:`suite.data.framing`) and cached on
disk (:mod:`suite.data.cache`) unless ``cache=False``.

With the cache on, the first access to any sample (or ``fill_cache()``, which :func:`suite.data.loader`
calls before it starts workers) frames every sample of the dataset, in file order, into one packed file;
every later access, in this and any later process, is a slice of that file's memory map. So looking at one
sample of a large set frames the whole set: use ``cache=False`` for that. A recording that cannot be read
or framed fails the build (naming the file), not just its own item. ``cache=False`` frames each item from
its events on every access (the uncached baseline of ``benchmarks/test_loaders.py``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from suite.data import cache as frame_cache
from suite.data.aedat import Events
from suite.data.batching import empty_batch
from suite.data.errors import NOT_ATTEMPTED, DatasetNotFound, annotate
from suite.data.file_layouts import FileLayout, Record
from suite.data.framing import SETTINGS, frames_by_count
from suite.data.paths import cache_root
from suite.data.subsets import stratified_limit

EVENT_OPTIONS = {"download": True, "cache": True, "cache_dir": None, "layout": None}


@dataclass(frozen=True)
class EventSource:
    sensor: tuple[int, int]  # (H, W) of the frames
    layouts: tuple[FileLayout, ...]
    home: str  # where a person gets the files
    options: Mapping[str, object] = field(default_factory=lambda: dict(EVENT_OPTIONS))

    def expected(self, root: Path) -> str:
        return "one of" + "".join(
            f"\n    {root / lay.folder}/{lay.expected}  ({lay.name} layout)" for lay in self.layouts
        )

    def find(self, root: Path, split: str, only: str | None) -> tuple[FileLayout | None, list[Record]]:
        for lay in self.layouts:
            if only in (None, lay.name):
                records = lay.records(root / lay.folder, split)
                if records:
                    return lay, records
        return None, []

    def has(self, root: Path, split: str) -> bool:
        return bool(self.find(root, split, None)[1])

    def missing(self, name: str, root: Path, split: str, status: str) -> DatasetNotFound:
        """The error for a split with no files; ``status`` says what the download did."""
        return DatasetNotFound.build(name, split, root, self.expected(root), self.home, status)

    def open(self, name: str, root: Path, split: str, T: int, limit: int | None, options: dict):
        names = [lay.name for lay in self.layouts]
        if options["layout"] is not None and options["layout"] not in names:
            raise ValueError(f"{name}: layout={options['layout']!r}; allowed: {', '.join(names)} (or None)")
        try:
            layout, records = self.find(root, split, options["layout"])
            if not records:
                # imported here: fetch reads the registry, which imports this module
                from suite.data.fetch import status_for_load

                status = status_for_load(name, root, split) if options["download"] else NOT_ATTEMPTED
                layout, records = self.find(root, split, options["layout"])
        except (OSError, ValueError) as e:  # a malformed label or trials file: say which, no deep trace
            raise annotate(e, f"{name} ({split})") from None
        if not records:
            raise self.missing(name, root, split, status) from None
        keep = stratified_limit([r.label for r in records], limit)
        records = [records[i] for i in keep]
        cache = None
        if options["cache"]:
            folder = Path(options["cache_dir"]) if options["cache_dir"] else cache_root()
            settings = frame_cache.digest([SETTINGS, self.sensor, layout.name])
            fingerprint = source_fingerprint(records)
            cache = frame_cache.PackedFrames(
                folder / name / f"{split}-T{T}-{settings[:12]}",
                f"n{len(records)}-{fingerprint[:20]}.pack",
                fingerprint,
                len(records),
                (T, 2, *self.sensor),
            )
        ds = EventDataset(name, split, layout, records, T, self.sensor, cache)
        ds.indices = keep
        return ds


def source_fingerprint(records: list[Record]) -> str:
    """A digest of the records in order: each source file's absolute path, size and mtime as of ``load``
    (one stat per file) and its time segment. Any change to a source file, or another subset, gives
    another pack."""
    stamps: dict[Path, str] = {}
    h = hashlib.sha256()
    for rec in records:
        if rec.path not in stamps:
            st = os.stat(rec.path)
            stamps[rec.path] = f"{os.path.abspath(rec.path)}\0{st.st_size}\0{st.st_mtime_ns}"
        h.update(f"{stamps[rec.path]}\0{rec.segment}\n".encode())
    return h.hexdigest()[:32]


class EventDataset(torch.utils.data.Dataset):
    """``(frames [T, 2, H, W] float32 event counts, label int)`` per recording (or gesture segment);
    ``records`` says where each comes from and ``indices`` its position in the layout's list."""

    def __init__(self, name, split, layout: FileLayout, records: list[Record], T: int, sensor, cache):
        self.name, self.split, self.layout, self.records = name, split, layout, records
        self.T, self.sensor, self.cache = T, tuple(sensor), cache
        self.shape = (T, 2, *self.sensor)
        self._labels = [r.label for r in records]
        self.targets = torch.tensor(self._labels, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.records)

    def events(self, i: int) -> Events:
        """The recording's events (cut to its segment), as read from the source file."""
        rec = self.records[i]
        try:
            ev = rec.read(rec.path)
        except (OSError, ValueError) as e:
            raise annotate(annotate(e, str(rec.path)), self.name) from None
        if rec.segment is not None:
            inside = (ev.t >= rec.segment[0]) & (ev.t < rec.segment[1])
            ev = Events(*(a[inside] for a in ev))
        return ev

    def frame(self, i: int) -> np.ndarray:
        """Sample ``i`` framed from its events now: int64 counts ``[T, 2, H, W]``, never cached."""
        try:
            return frames_by_count(self.events(i), self.T, *self.sensor)
        except ValueError as e:
            raise annotate(annotate(e, str(self.records[i].path)), self.name) from None

    def packed(self) -> np.ndarray | None:
        """Every sample's counts ``[N, T, 2, H, W]`` (uint8, or wider where counts need it), memory-mapped
        from the cache, which is built first if needed; None with ``cache=False`` or an unwritable cache."""
        return self.cache.array(self.frame) if self.cache is not None else None

    def counts(self, i: int) -> np.ndarray:
        """Framed event counts ``[T, 2, H, W]`` (a view of the pack when the cache is on)."""
        pack = self.packed()
        return pack[i] if pack is not None else self.frame(i)

    def fill_cache(self) -> None:
        """Build (or open and verify) the pack now, framing every record in file order. For DVS128
        Gesture's original layout this reads each user recording once."""
        if self.cache is None:
            raise ValueError(f"{self.name}: fill_cache() needs cache=True")
        self.packed()

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.counts(i).astype(np.float32)), self._labels[i]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        """A whole batch (DataLoader calls this when it exists): the counts are cast straight into one
        time-first float32 block ``[T, B, 2, H, W]`` and the items are its columns ``block[:, b]``, which
        :func:`suite.data.batching.collate` hands on as the batch without copying. At 128 x 128 a batch is
        tens of MB, so the copy saved is a real share of a cached epoch."""
        frames = empty_batch((self.T, len(indices), 2, *self.sensor))  # in shared memory in a worker
        block = frames.numpy()
        pack = self.packed()
        for b, i in enumerate(indices):
            block[:, b] = pack[i] if pack is not None else self.frame(i)
        return [(x, self._labels[i]) for x, i in zip(frames.unbind(1), indices)]

    def __repr__(self) -> str:
        h, w = self.sensor
        return (
            f"EventDataset({self.name}, {self.split}, layout={self.layout.name}, {len(self)} recordings, "
            f"T={self.T}, 2x{h}x{w}, cache={self.cache.path if self.cache else None})"
        )
