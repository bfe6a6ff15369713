"""Batches in the layout the networks take: static ``[B, C, H, W]``, event frames time first ``[T, B, 2, H, W]``.

The collate function tells the two apart by the item's rank (3 = image, 4 = frames), so it also works on a
``Subset`` or any other wrapper of a suite dataset. Shuffling is drawn from a ``torch.Generator`` seeded
with ``seed``, so the same seed gives the same batch order (and the same worker seeds, hence the same
augmentation draws when ``workers > 0``; with ``workers=0`` augmentation draws from torch's global RNG,
which the trainer seeds).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset


def collate(batch: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*batch)
    labels = torch.as_tensor(ys, dtype=torch.long)
    if xs[0].dim() == 4:  # event frames [T, 2, H, W]: stack on dim 1, which is contiguous [T, B, 2, H, W]
        return torch.stack(xs, dim=1), labels
    if xs[0].dim() == 3:
        return torch.stack(xs), labels
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
