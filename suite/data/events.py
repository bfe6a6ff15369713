"""Event sets (N-MNIST, CIFAR10-DVS, DVS128 Gesture): recordings -> cached ``[T, 2, H, W]`` frames.

An :class:`EventSource` is the data that describes one set: its frame size, the layouts it may be found in
(:mod:`suite.data.layouts`), where a person gets it and how tonic downloads it. ``open`` picks the layout,
applies ``limit`` and returns an :class:`EventDataset`, whose items are ``(frames, label)``: float32 event
counts ``[T, 2, H, W]`` framed by equal event count (:mod:`suite.data.framing`) and cached on disk
(:mod:`suite.data.cache`) unless ``cache=False``.
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
from suite.data.download import probe, socket_timeout
from suite.data.errors import DatasetNotFound, annotate
from suite.data.framing import SETTINGS, frames_by_count
from suite.data.layouts import Layout, Record
from suite.data.paths import cache_root
from suite.data.subsets import stratified_limit

EVENT_OPTIONS = {"download": True, "cache": True, "cache_dir": None, "layout": None}


@dataclass(frozen=True)
class EventSource:
    sensor: tuple[int, int]  # (H, W) of the frames
    layouts: tuple[Layout, ...]
    home: str  # where a person gets the files
    tonic_class: str  # the tonic.datasets class that downloads it (into its own layout)
    options: Mapping[str, object] = field(default_factory=lambda: dict(EVENT_OPTIONS))

    def expected(self, root: Path) -> str:
        return "one of" + "".join(f"\n    {root / lay.folder}/{lay.expected}  ({lay.name} layout)"
                                  for lay in self.layouts)

    def find(self, root: Path, split: str, only: str | None) -> tuple[Layout | None, list[Record]]:
        for lay in self.layouts:
            if only in (None, lay.name):
                records = lay.records(root / lay.folder, split)
                if records:
                    return lay, records
        return None, []

    def download(self, root: Path, split: str) -> str:
        """tonic's download of the split (into tonic's layout, md5-checked by tonic), failing fast offline."""
        import tonic

        cls = getattr(tonic.datasets, self.tonic_class)
        url = getattr(cls, f"{split}_url", None) or cls.url
        reason = probe(url)
        if reason:
            return f"failed: {url} unreachable ({reason})"
        try:
            with socket_timeout():
                if hasattr(cls, "train_url"):
                    cls(save_to=str(root), train=split == "train")
                else:
                    cls(save_to=str(root))
        except Exception as e:  # tonic raises anything from urllib, zipfile, tarfile: report, don't trace
            return f"failed: tonic.datasets.{self.tonic_class}: {type(e).__name__}: {e}"
        return "downloaded, but no files of a known layout appeared"

    def open(self, name: str, root: Path, split: str, T: int, limit: int | None, options: dict):
        names = [lay.name for lay in self.layouts]
        if options["layout"] is not None and options["layout"] not in names:
            raise ValueError(f"{name}: layout={options['layout']!r}; allowed: {', '.join(names)} (or None)")
        try:
            layout, records = self.find(root, split, options["layout"])
            if not records:
                status = (self.download(root, split) if options["download"]
                          else "not attempted (download=False)")
                layout, records = self.find(root, split, options["layout"])
        except (OSError, ValueError) as e:  # a malformed label or trials file: say which, no deep trace
            raise annotate(e, f"{name} ({split})") from None
        if not records:
            raise DatasetNotFound.build(name, split, root, self.expected(root), self.home, status) from None
        keep = stratified_limit([r.label for r in records], limit)
        cache = None
        if options["cache"]:
            folder = Path(options["cache_dir"]) if options["cache_dir"] else cache_root()
            settings = frame_cache.digest([SETTINGS, self.sensor, layout.name])
            largest = frame_cache.entry_bytes((T, 2, *self.sensor), 4)
            cache = frame_cache.FrameCache(folder / name / f"{split}-T{T}-{settings[:12]}", largest)
        ds = EventDataset(name, split, layout, [records[i] for i in keep], T, self.sensor, cache)
        ds.indices = keep
        return ds


class EventDataset(torch.utils.data.Dataset):
    """``(frames [T, 2, H, W] float32 event counts, label int)`` per recording (or gesture segment);
    ``records`` says where each comes from and ``indices`` its position in the layout's list."""

    def __init__(self, name, split, layout: Layout, records: list[Record], T: int, sensor, cache):
        self.name, self.split, self.layout, self.records = name, split, layout, records
        self.T, self.sensor, self.cache = T, tuple(sensor), cache
        self.shape = (T, 2, *self.sensor)
        self._labels = [r.label for r in records]
        self.targets = torch.tensor(self._labels, dtype=torch.long)
        self._keys = self._cache_keys() if cache is not None else None

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

    def _cache_keys(self) -> list[str]:
        """Each record's cache key, from its source file's absolute path, size and mtime as of ``load``
        (plus its time segment): one stat per file here, none per item."""
        stamps: dict[Path, str] = {}
        for rec in self.records:
            if rec.path not in stamps:
                st = os.stat(rec.path)
                stamps[rec.path] = f"{os.path.abspath(rec.path)}\0{st.st_size}\0{st.st_mtime_ns}"
        return [hashlib.sha1(f"{stamps[r.path]}\0{r.segment}".encode()).hexdigest() for r in self.records]

    def counts(self, i: int) -> np.ndarray:
        """Framed event counts ``[T, 2, H, W]`` (from the cache when it holds a sound entry)."""
        if self._keys is not None:
            hit = self.cache.load(self._keys[i])
            if hit is not None and hit.shape == self.shape:
                return hit
        try:
            counts = frames_by_count(self.events(i), self.T, *self.sensor)
        except ValueError as e:
            raise annotate(annotate(e, str(self.records[i].path)), self.name) from None
        if self._keys is not None:
            self.cache.store(self._keys[i], counts)
        return counts

    def fill_cache(self) -> None:
        """Frame every record not yet cached, in file order. For DVS128 Gesture's original layout this
        reads each user recording once (shuffled first-epoch access would re-read it per gesture)."""
        if self.cache is None:
            raise ValueError(f"{self.name}: fill_cache() needs cache=True")
        for i in range(len(self)):
            self.counts(i)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.counts(i).astype(np.float32)), self._labels[i]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        """A whole batch (DataLoader calls this when it exists): the counts are cast straight into one
        time-first float32 block ``[T, B, 2, H, W]`` and the items are its columns ``block[:, b]``, which
        :func:`suite.data.batching.collate` hands on as the batch without copying. At 128 x 128 a batch is
        tens of MB, so the copy saved is a real share of a cached epoch."""
        frames = empty_batch((self.T, len(indices), 2, *self.sensor))  # in shared memory in a worker
        block = frames.numpy()
        for b, i in enumerate(indices):
            block[:, b] = self.counts(i)
        return [(x, self._labels[i]) for x, i in zip(frames.unbind(1), indices)]

    def __repr__(self) -> str:
        h, w = self.sensor
        return (f"EventDataset({self.name}, {self.split}, layout={self.layout.name}, {len(self)} recordings, "
                f"T={self.T}, 2x{h}x{w}, cache={self.cache.folder if self.cache else None})")
