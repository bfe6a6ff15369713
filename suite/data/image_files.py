"""Decoders for the static sets' original file formats: IDX (MNIST, Fashion-MNIST) and CIFAR-10 binary.

Each file is decoded once per process into a uint8 tensor (``[N, C, H, W]``) plus int64 labels and kept
in a small memo keyed by (path, size, mtime), so a study that loads train and test, or loads the same set
for several runs, pays the gzip/parse cost once (about 0.2 s for MNIST's 60k images). Nothing here
normalises: that is per item, in :mod:`suite.data.static`.
"""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

import numpy as np
import torch

CIFAR_RECORD = 1 + 3 * 32 * 32  # one label byte, then 3,072 bytes of the image in CHW order


def _stamp(path: Path) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(path), st.st_size, st.st_mtime_ns


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file of unsigned bytes (``.gz`` or plain) as a uint8 tensor of the shape its header gives."""
    return _read_idx(*_stamp(path))


@functools.lru_cache(maxsize=8)
def _read_idx(path: str, size: int, mtime_ns: int) -> torch.Tensor:
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (magic {raw[:4].hex()}, want 000008nn)")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    start = 4 + 4 * ndim
    if len(raw) - start != int(np.prod(shape)):
        raise ValueError(
            f"{path}: header says shape {shape} ({int(np.prod(shape))} bytes) but the file "
            f"holds {len(raw) - start} bytes after the header; the file is truncated or corrupt"
        )
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=start).copy()).reshape(shape)


def read_idx_pair(images: Path, labels: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST-style image and label files as (``[N, 1, H, W]`` uint8, ``[N]`` int64), counts checked."""
    x, y = read_idx(images), read_idx(labels)
    if x.dim() != 3 or y.dim() != 1 or len(x) != len(y):
        raise ValueError(
            f"{images} holds {tuple(x.shape)} and {labels} holds {tuple(y.shape)}: "
            f"want [N, H, W] images and [N] labels with the same N"
        )
    return x.unsqueeze(1), y.long()


def read_cifar_bin(paths: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 binary batches (whatever record count each holds) as (``[N, 3, 32, 32]`` uint8, ``[N]``)."""
    parts = [_read_cifar(*_stamp(p)) for p in paths]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


@functools.lru_cache(maxsize=8)
def _read_cifar(path: str, size: int, mtime_ns: int) -> tuple[torch.Tensor, torch.Tensor]:
    if size == 0 or size % CIFAR_RECORD:
        raise ValueError(
            f"{path}: {size} bytes is not a whole number of CIFAR-10 records "
            f"({CIFAR_RECORD} bytes each: 1 label byte + 3,072 image bytes)"
        )
    records = np.fromfile(path, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"{path}: label byte {labels.max()} found; CIFAR-10 labels are 0-9")
    images = np.ascontiguousarray(records[:, 1:]).reshape(-1, 3, 32, 32)
    return torch.from_numpy(images), torch.from_numpy(labels)
