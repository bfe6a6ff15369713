"""Batches in the networks' layout: static ``[B, C, H, W]``, event frames time first ``[T, B, 2, H, W]``.

The collate function tells the two apart by the item's rank (3 = image, 4 = frames), so it also works on a
``Subset`` or any other wrapper of a suite dataset; event batches that the dataset already assembled
(``EventDataset.__getitems__``) are passed on without a copy.

:func:`loader` is built once per dataset and reused every epoch (its workers persist): call
``loader.set_epoch(e)`` before epoch ``e``. The order of epoch ``e`` is a permutation drawn from
``(seed, e)`` alone, and each batch carries a seed drawn from ``(seed, e, batch number)`` that the
dataset's random augmentation uses (:class:`suite.data.static.StaticDataset`). So batches, augmentation
included, are a pure function of ``(seed, epoch)``: the same with 0 or 2 workers, the same in a run resumed
at epoch ``e`` in a new process as in an uninterrupted one, and independent of torch's global RNG.
(A wrapper such as ``Subset`` passes plain index lists on, so a wrapped dataset's augmentation falls back
to torch's RNG: the global one with ``workers=0``, the worker's, seeded once per loader, otherwise.)
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

_NUMPY_TYPES = {
    torch.float32: np.float32,
    torch.float64: np.float64,
    torch.uint8: np.uint8,
    torch.int16: np.int16,
    torch.int32: np.int32,
    torch.int64: np.int64,
}


class _Recycler:
    """Batch buffers of the main process, each handed out again once the tensor made from it, and every
    view of that tensor, is gone (a weak reference to the ndarray the tensor holds says when).

    A fresh buffer costs a page fault per page on first touch (the kernel zeroes it): for a cached
    CIFAR10-DVS batch (16 x 15 x 2 x 128 x 128 float32, 31 MB) as much again as casting the counts into it.
    The allocators return such blocks to the system when they are freed (torch's always; glibc's when two
    of them free at the top of its heap), so without recycling every batch pays it. At most ``slots``
    buffers are kept (evicting idle ones of other shapes); when all are in use a batch gets a new one."""

    def __init__(self, slots: int = 4):
        self.slots: list[list] = []  # [ndarray, weakref to the view handed out (or None)]
        self.limit = slots
        self.lock = threading.Lock()

    def get(self, shape: tuple[int, ...], kind) -> torch.Tensor:
        with self.lock:
            idle = [k for k, (_, ref) in enumerate(self.slots) if ref is None or ref() is None]
            match = [k for k in idle if self.slots[k][0].shape == shape and self.slots[k][0].dtype == kind]
            if match:
                slot = self.slots[match[0]]
            else:
                slot = [np.empty(shape, kind), None]
                if len(self.slots) < self.limit:
                    self.slots.append(slot)
                elif idle:
                    self.slots[idle[0]] = slot  # evict an idle buffer of another shape
            view = slot[0].view()
            slot[1] = weakref.ref(view)
            return torch.from_numpy(view)


_recycler = _Recycler()
_RECYCLE_BYTES = 1 << 20  # smaller batches are cheap to allocate


def empty_batch(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """An uninitialised batch tensor. Inside a DataLoader worker it is allocated in shared memory, so sending
    it to the main process copies nothing (what torch's default_collate does, with the API it uses); in the
    main process a large one reuses the memory of a batch that is gone (:class:`_Recycler`)."""
    if torch.utils.data.get_worker_info() is None:
        kind = _NUMPY_TYPES.get(dtype)
        if kind is None or math.prod(shape) * np.dtype(kind).itemsize < _RECYCLE_BYTES:
            return torch.empty(shape, dtype=dtype)
        return _recycler.get(tuple(shape), np.dtype(kind))
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
        if (
            x.untyped_storage().data_ptr() != ptr
            or x.storage_offset() != start + b * step
            or x.shape != first.shape
            or x.stride() != first.stride()
            or x.dtype != first.dtype
        ):
            return None
    return first.as_strided(
        (first.shape[0], len(xs), *first.shape[1:]), (len(xs) * step, step, *first.stride()[1:]), start
    )


def collate(batch: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*batch)
    labels = torch.as_tensor(ys, dtype=torch.long)
    if xs[0].dim() == 4:  # event frames [T, 2, H, W] -> contiguous [T, B, 2, H, W]
        block = _columns_of(xs)  # EventDataset.__getitems__ already built it
        return (block if block is not None else _stack(xs, 1)), labels
    if xs[0].dim() == 3:
        return _stack(xs, 0), labels
    raise ValueError(f"items of shape {tuple(xs[0].shape)}: want [C, H, W] images or [T, 2, H, W] frames")


def derive_seed(*parts: int) -> int:
    """A 64-bit seed that is a pure function of the integers ``parts`` (numpy's SeedSequence mixing, so
    nearby inputs such as (seed, 1) and (seed, 2) give unrelated streams)."""
    words = [int(p) % 2**64 for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0])


class EpochSampler(Sampler[int]):
    """The indices ``0..n-1`` of epoch :attr:`epoch` (set it with :meth:`set_epoch`): in order, or, with
    ``shuffle``, permuted by a generator seeded from ``(seed, epoch)`` only."""

    def __init__(self, n: int, *, shuffle: bool, seed: int = 0):
        self.n, self.shuffle, self.seed, self.epoch = n, shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch={epoch!r}: want an int >= 0")
        self.epoch = epoch

    def order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.n))
        g = torch.Generator()
        g.manual_seed(derive_seed(self.seed, self.epoch, 0))
        return torch.randperm(self.n, generator=g).tolist()

    def __iter__(self):
        return iter(self.order())

    def __len__(self) -> int:
        return self.n


class Batch(list):
    """A batch's indices, with ``seed``: where the dataset's random draws for this batch come from."""

    def __init__(self, indices, seed: int):
        super().__init__(indices)
        self.seed = seed


class EpochBatches(Sampler[list[int]]):
    """``sampler``'s order cut into batches, each a :class:`Batch` seeded from (seed, epoch, number). The
    order is fixed when an epoch's iteration starts, so a later ``set_epoch`` affects the next one only."""

    def __init__(self, sampler: EpochSampler, batch_size: int, drop_last: bool):
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        order, size = self.sampler.order(), self.batch_size
        stop = len(order) - len(order) % size if self.drop_last else len(order)
        seed, epoch = self.sampler.seed, self.sampler.epoch
        return iter(
            [
                Batch(order[at : at + size], derive_seed(seed, epoch, 1, k))
                for k, at in enumerate(range(0, stop, size))
            ]
        )

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class Loader(DataLoader):
    """A DataLoader to build once and reuse for every epoch: ``set_epoch(e)`` before epoch ``e`` picks
    that epoch's order (and batch seeds) without restarting the workers."""

    @property
    def epoch_sampler(self) -> EpochSampler:
        return self.batch_sampler.sampler

    def set_epoch(self, epoch: int) -> None:
        self.epoch_sampler.set_epoch(epoch)


def _prepare(ds: Dataset) -> None:
    """Build or open a cached event dataset's pack in this process, before workers start: they then share
    its memory map instead of racing to build it (the file lock would make all but one wait)."""
    while isinstance(ds, Subset):
        ds = ds.dataset
    if getattr(ds, "cache", None) is not None and callable(getattr(ds, "fill_cache", None)):
        ds.fill_cache()


def loader(
    ds: Dataset, batch_size: int, *, shuffle: bool, workers: int = 0, seed: int = 0, drop_last: bool = False
) -> Loader:
    """A :class:`Loader` over ``ds`` yielding ``(x, labels [B] int64)``; see the module docstring for ``x``
    and for ``set_epoch``. Without ``set_epoch`` every iteration is epoch 0's order. A cached event
    dataset's pack is built (or opened) here, before the workers start."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: want a positive int")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers={workers!r}: want an int >= 0")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed={seed!r}: want an int")
    _prepare(ds)
    generator = torch.Generator()  # torch seeds the workers from it (draws outside a suite Batch seed)
    generator.manual_seed(derive_seed(seed, 2))
    batches = EpochBatches(EpochSampler(len(ds), shuffle=shuffle, seed=seed), batch_size, drop_last)
    return Loader(
        ds,
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=collate,
        generator=generator,
        persistent_workers=workers > 0,
    )
