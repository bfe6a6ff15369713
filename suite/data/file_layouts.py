"""The on-disk layouts each event set is found in, and the reader for each layout's files.

A :class:`FileLayout` lists a split's recordings as :class:`Record` s (file, label, reader, optional time
segment) and returns ``[]`` when its files are absent, so a dataset's layouts are tried in order and the
first that finds anything wins (or ``layout=<name>`` picks one). Whatever count of files is present is read:
the shared test data holds subsets.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import tonic
from tonic.io import read_mnist_file

from suite.data.aedat import Events, read_aedat31_polarity, read_cifar10dvs
from suite.data.subsets import stratified_split


class Record(NamedTuple):
    path: Path
    label: int
    read: Callable[[Path], Events]
    segment: tuple[int, int] | None = None  # [start, end) in microseconds, for multi-gesture recordings


@dataclass(frozen=True)
class FileLayout:
    name: str
    folder: str  # under the data root
    expected: str  # the files, relative to ``folder``, for the not-found message
    records: Callable[[Path, str], list[Record]]  # (root / folder, split) -> records, [] when absent
    note: str = ""


# ---- readers: path -> Events (int64 x, y, p with 1 = ON, t in microseconds) ----


def read_bin40(path: Path) -> Events:
    """N-MNIST's 40-bit event encoding (x, y, p, t), via tonic's reader (also used by the gesture samples)."""
    ev = read_mnist_file(str(path), dtype=tonic.datasets.NMNIST.dtype)
    return Events(ev["x"], ev["y"], ev["p"], ev["t"])


def read_tonic_gesture(path: Path) -> Events:
    """tonic's preprocessed DVS128 Gesture sample: an ``[N, 4]`` array of x, y, p, t in milliseconds."""
    a = np.load(path).astype(np.int64)
    return Events(a[:, 0], a[:, 1], a[:, 2], a[:, 3] * 1000)


def read_aedat4(path: Path) -> Events:
    """CIFAR10-DVS as converted to AEDAT 4 by tonic's download, via ``tonic.io.read_aedat4``."""
    try:
        import aedat  # noqa: F401  (tonic's AEDAT 4 reader needs it; it is not a suite dependency)
    except ImportError:
        raise ModuleNotFoundError(
            f"{path} is AEDAT 4 (tonic's CIFAR10-DVS download); reading it needs the "
            f"'aedat' package (pip install aedat), or use the original AEDAT 2.0 "
            f"release files"
        ) from None
    ev = tonic.io.read_aedat4(str(path))
    t, x, y, p = (ev[n].astype(np.int64) for n in ev.dtype.names[:4])
    return Events(x, y, p, t)


@functools.lru_cache(maxsize=1)
def _aedat31(path: str, size: int, mtime_ns: int) -> Events:
    return read_aedat31_polarity(Path(path))


def read_gesture_aedat(path: Path) -> Events:
    """A whole DVS128 Gesture user recording; the last one read is kept, as its ~11 gestures come in turn."""
    st = os.stat(path)
    return _aedat31(str(path), st.st_size, st.st_mtime_ns)


# ---- layouts: folder, split -> records ----


def nmnist_original(folder: Path, split: str) -> list[Record]:
    base = folder / {"train": "Train", "test": "Test"}[split]
    digits = sorted(d for d in base.iterdir() if d.is_dir() and d.name.isdigit()) if base.is_dir() else []
    return [Record(f, int(d.name), read_bin40) for d in digits for f in sorted(d.glob("*.bin"))]


def gesture_original(folder: Path, split: str) -> list[Record]:
    """IBM's release: ``trials_to_{train,test}.txt`` name the ``user*_*.aedat`` recordings of a split; each
    ``<recording>_labels.csv`` gives ``class (1-11), startTime_usec, endTime_usec`` per gesture."""
    trials = folder / f"trials_to_{split}.txt"
    if not trials.is_file():
        return []
    records = []
    for line in trials.read_text().split():
        aedat = folder / line
        if not aedat.is_file():
            continue  # a subset of the release: read the recordings that are present
        csv = aedat.with_name(aedat.stem + "_labels.csv")
        if not csv.is_file():
            raise FileNotFoundError(
                f"{csv} is missing: {trials} lists {aedat.name}, whose gestures it labels"
            )
        for n, row in enumerate(csv.read_text().splitlines(), 1):
            cells = [c.strip() for c in row.split(",")]
            if not cells[0].isdigit():
                continue  # the header row
            if len(cells) != 3 or not all(c.isdigit() for c in cells) or not 1 <= int(cells[0]) <= 11:
                raise ValueError(f"{csv}, line {n}: {row!r}; want 'class (1-11),startTime_usec,endTime_usec'")
            segment = (int(cells[1]), int(cells[2]))
            records.append(Record(aedat, int(cells[0]) - 1, read_gesture_aedat, segment))
    return records


def gesture_tonic(folder: Path, split: str) -> list[Record]:
    """tonic's download: ``ibmGesture{Train,Test}/<user>_<lighting>/<label 0-10>.npy``."""
    base = folder / {"train": "ibmGestureTrain", "test": "ibmGestureTest"}[split]
    if not base.is_dir():
        return []
    files = sorted(
        (f for f in base.glob("*/*.npy") if f.stem.isdigit()), key=lambda f: (f.parent.name, int(f.stem))
    )
    return [Record(f, int(f.stem), read_tonic_gesture) for f in files]


def gesture_samples(folder: Path, split: str) -> list[Record]:
    """The shared pipeline-test recordings: ``labels.txt`` rows ``file class(1-based) name label(0-based)``.
    Both splits are all the files: these are for reader and pipeline tests, never accuracy claims."""
    labels = folder / "labels.txt"
    if not labels.is_file():
        return []
    records = []
    for n, row in enumerate(labels.read_text().splitlines(), 1):
        cells = row.split()
        if not cells or cells[0].startswith("#"):
            continue
        if len(cells) != 4 or not cells[3].isdigit() or not (folder / cells[0]).is_file():
            raise ValueError(
                f"{labels}, line {n}: {row!r}; want '<file present here> <class> <name> <label>'"
            )
        records.append(Record(folder / cells[0], int(cells[3]), read_bin40))
    return records


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10DVS_TRAIN_RATIO = 0.9


def cifar10dvs_classes(folder: Path, split: str) -> list[Record]:
    """``<class>/*.aedat`` (the original AEDAT 2.0 release) or ``<class>/*.aedat4`` (tonic's conversion).

    CIFAR10-DVS has no official split. Ours is the PLIF reference's: per class, files in sorted name order,
    the first ``ceil(0.9 n)`` train and the rest test (900/100 per class on the full set); deterministic.
    """
    readers = {".aedat": read_cifar10dvs, ".aedat4": read_aedat4}
    every = [
        Record(f, label, readers[f.suffix])
        for label, cls in enumerate(CIFAR10_CLASSES)
        if (folder / cls).is_dir()
        for f in sorted((folder / cls).iterdir())
        if f.suffix in readers
    ]
    train, test = stratified_split([r.label for r in every], CIFAR10DVS_TRAIN_RATIO)
    return [every[i] for i in (train if split == "train" else test)]


NMNIST_LAYOUTS = (
    FileLayout("original", "NMNIST", "{Train,Test}/<digit 0-9>/*.bin (40-bit events)", nmnist_original),
)
GESTURE_LAYOUTS = (
    FileLayout(
        "original",
        "DvsGesture",
        "trials_to_{train,test}.txt, user*_*.aedat (AEDAT 3.1), user*_*_labels.csv",
        gesture_original,
    ),
    FileLayout("tonic", "DVSGesture", "ibmGesture{Train,Test}/user*_*/<label>.npy", gesture_tonic),
    FileLayout(
        "samples",
        "DVSGesture-samples",
        "labels.txt + *.bin (40-bit events)",
        gesture_samples,
        note="pipeline tests only: train and test are the same files",
    ),
)
CIFAR10DVS_LAYOUTS = tuple(
    FileLayout(
        "original" if folder == "CIFAR10-DVS" else "tonic",
        folder,
        "<class>/{*.aedat (AEDAT 2.0), *.aedat4}",
        cifar10dvs_classes,
    )
    for folder in ("CIFAR10-DVS", "CIFAR10DVS")
)
