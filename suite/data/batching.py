"""Batches in the networks' layout: static ``[B, C, H, W]``, event frames time first ``[T, B, 2, H, W]``.

The collate function tells the two apart by the item's rank (3 = image, 4 = frames), so it also works on a
``Subset`` or any other wrapper of a suite dataset; event batches that the dataset already assembled
(``EventDataset.__getitems__``) are passed on without a copy.

Shuffling is drawn from a ``torch.Generator`` seeded with ``seed``, so the same seed gives the same batch
order (and the same worker seeds, hence the same augmentation draws when ``workers > 0``; with
``workers=0`` augmentation draws from torch's global RNG, which the trainer seeds).
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import DataLoader, Dataset


def empty_batch(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """An uninitialised batch tensor; inside a DataLoader worker it is allocated in shared memory, so sending
    it to the main process copies nothing (what torch's default_collate does, with the API it uses)."""
    if torch.utils.data.get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    proto = torch.empty(0, dtype=dtype)
    return proto.new(proto._typed_storage()._new_shared(math.prod(shape))).view(shape)


def _stack(xs, dim: int) -> torch.Tensor:
    shape = (*xs[0].shape[:dim], len(xs), *xs[0].shape[dim:])
    return torch.stack(xs, dim, out=empty_batch(shape, xs[0].dtype))


def _columns_of(xs) -> torch.Tensor | None:
    """The contiguous ``[T, B, ...]`` block whose columns ``block[:, 0..B-1]`` the items are, in order, as a
    view of their shared storage (no copy); None when they are anything else."""
    first = xs[0]
    step = math.prod(first.shape[1:])
    if first.stride(0) != len(xs) * step or not first[0].is_contiguous():
        return None
    ptr, start = first.untyped_storage().data_ptr(), first.storage_offset()
    for b, x in enumerate(xs):
        if (x.untyped_storage().data_ptr() != ptr or x.storage_offset() != start + b * step
                or x.shape != first.shape or x.stride() != first.stride() or x.dtype != first.dtype):
            return None
    return first.as_strided((first.shape[0], len(xs), *first.shape[1:]),
                            (len(xs) * step, step, *first.stride()[1:]), start)


def collate(batch: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*batch)
    labels = torch.as_tensor(ys, dtype=torch.long)
    if xs[0].dim() == 4:  # event frames [T, 2, H, W] -> contiguous [T, B, 2, H, W]
        block = _columns_of(xs)  # EventDataset.__getitems__ already built it
        return (block if block is not None else _stack(xs, 1)), labels
    if xs[0].dim() == 3:
        return _stack(xs, 0), labels
    raise ValueError(f"items of shape {tuple(xs[0].shape)}: want [C, H, W] images or [T, 2, H, W] frames")


def loader(ds: Dataset, batch_size: int, *, shuffle: bool, workers: int = 0, seed: int = 0,
           drop_last: bool = False) -> DataLoader:
    """A DataLoader over ``ds`` yielding ``(x, labels [B] int64)``; see the module docstring for ``x``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: want a positive int")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers={workers!r}: want an int >= 0")
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, num_workers=workers, collate_fn=collate,
                      generator=generator, drop_last=drop_last, persistent_workers=workers > 0)
