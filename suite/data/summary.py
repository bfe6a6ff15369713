"""What a run trained and tested on, in a few fields: the dataset, each split's size, a digest of its files.

A tracking store shows it beside the run (MLflow's dataset input) without holding the data, and two runs
with equal digests saw the same samples of the same files. The digest is a SHA-256 over, per split in
order, each source file's path relative to the data root and its size in bytes, each sample's time segment
(DVS128 Gesture cuts several samples from one recording) and the selected samples' positions in the split
(``limit`` subsets). One ``stat`` per file, as the frame cache's fingerprint (:mod:`suite.data.cache`), not
a read: an event set is tens of thousands of files, and hashing their bytes would cost minutes per run.
Unlike the cache's fingerprint it leaves out where the root is and the files' mtimes, so a copy of the
data elsewhere (another machine, ``../shared/data``) gives the same digest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DataSummary:
    name: str  # the registry name, e.g. "mnist"
    sizes: dict[str, int]  # split -> samples, in the order given ("train", "test")
    digest: str  # 16 hex digits of the SHA-256 described above
    root: str  # the (first split's) data root, absolute: where, not what (not in the digest)
    layout: str | None = None  # the event set's file layout, None for static sets

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sizes": dict(self.sizes),
            "digest": self.digest,
            "root": self.root,
            "layout": self.layout,
        }


def _files(ds) -> list[tuple[Path, Any]]:
    """(source file, time segment) per sample of an event set; per file of a static set (its samples all
    live in the few files listed, ``indices`` says which)."""
    if hasattr(ds, "records"):
        return [(r.path, r.segment) for r in ds.records]
    return [(Path(p), None) for p in ds.files]


def summarize(name: str, splits: Mapping[str, Any]) -> DataSummary:
    """The summary of ``splits`` (split -> a dataset returned by :func:`suite.data.load`)."""
    h = hashlib.sha256(name.encode())
    roots, layouts, sizes = [], set(), {}
    for split, ds in splits.items():
        root = Path(ds.root)
        roots.append(str(root))
        layouts.add(getattr(getattr(ds, "layout", None), "name", None))
        sizes[split] = len(ds)
        h.update(f"\n[{split}]\n".encode())
        stamps: dict[Path, str] = {}
        for path, segment in _files(ds):
            if path not in stamps:
                stamps[path] = f"{Path(os.path.relpath(path, root)).as_posix()}\0{os.stat(path).st_size}"
            h.update(f"{stamps[path]}\0{segment}\n".encode())
        h.update(",".join(map(str, ds.indices)).encode())
    return DataSummary(
        name=name,
        sizes=sizes,
        digest=h.hexdigest()[:16],
        root=roots[0] if roots else "",
        layout=", ".join(sorted(map(str, layouts))) if layouts != {None} else None,
    )
