"""Static image sets (MNIST, Fashion-MNIST, CIFAR-10): files -> one uint8 tensor -> normalised items.

A :class:`StaticSource` is the data that describes one set (folder, files per split, decoder, per-channel
mean/std, optional training augmentation); where its files come from is in ``sources.toml``, and
``download=True`` fetches the missing ones through :mod:`suite.data.fetch`. The augmentations are the PLIF reference
code's (Fang et al. 2021, ``codes/models.py`` ``get_transforms``), re-implemented in torch because
torchvision is not a dependency: :class:`RandomAffine` (MNIST) and :class:`CropFlip` (CIFAR-10). Each is a
small frozen object whose ``str`` names the transform, so the setting's effect can be printed
(``suite.data.augmentation``, ``python -m suite check-paper``) and never drifts from what runs. The whole split is decoded once into a
uint8 ``[N, C, H, W]`` tensor; each item is normalised on the fly, ``x = pixel / 255``, then
``(x - mean) / std``, as one multiply-add, which keeps memory at one byte per pixel (CIFAR-10 train would
take 600 MB as float32) and costs a few microseconds per item.

Items are ``([C, H, W]`` float32, ``int`` label``)``; the network repeats its encoder's output over T, so
T plays no part here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from suite.data.errors import NOT_ATTEMPTED, DatasetNotFound
from suite.data.subsets import stratified_limit


def random_crop_flip(
    img: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The standard CIFAR training augmentation on a uint8 ``[C, H, W]`` image: zero-pad by ``pad``,
    crop back to ``H x W`` at a random offset, flip horizontally with probability 1/2. Padding is done
    on raw pixels (black), as torchvision's ``RandomCrop(32, padding=4)`` before ``Normalize`` does.
    The draw comes from ``generator`` (None: torch's global RNG)."""
    _, h, w = img.shape
    r = int(torch.randint(0, (2 * pad + 1) ** 2 * 2, (), generator=generator))
    dy, dx, flip = r // (2 * (2 * pad + 1)), (r // 2) % (2 * pad + 1), r % 2
    out = F.pad(img, (pad, pad, pad, pad))[:, dy : dy + h, dx : dx + w]
    return out.flip(-1) if flip else out


@dataclass(frozen=True)
class CropFlip:
    """:func:`random_crop_flip` as a registry entry: the reference's CIFAR-10 ``RandomCrop(32, padding=4)``
    then ``RandomHorizontalFlip()`` (the crop keeps the image's own size)."""

    pad: int = 4

    def __call__(self, img: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return random_crop_flip(img, self.pad, generator)

    def __str__(self) -> str:
        return f"RandomCrop(padding={self.pad}) + RandomHorizontalFlip()"


@dataclass(frozen=True)
class RandomAffine:
    """torchvision's ``RandomAffine(degrees, translate, scale)`` (no shear, nearest, fill 0) on a uint8
    ``[C, H, W]`` image, as the reference applies it to MNIST before ``ToTensor``/``Normalize``.

    Parameters are drawn as torchvision draws them: angle uniform in ``[-degrees, degrees]``; shifts uniform
    in ``[-translate * W, translate * W]`` (and H) then rounded to whole pixels; scale uniform in ``scale``.
    The output pixel at ``p`` (measured from the image centre) takes the input pixel nearest to
    ``A^-1 (p - t)`` with ``A`` = scale x rotation: ``F.affine_grid`` + ``F.grid_sample`` with
    ``align_corners=False``, as torchvision's tensor backend does; outside the image the fill is 0 (black
    raw pixels, as torchvision's default on a PIL image). The four draws come from ``generator`` (None:
    torch's global RNG), so with the loader's per-batch seeds the result depends on (seed, epoch) only.
    The sense of rotation differs from torchvision's by at most a sign, which the symmetric draw hides.
    """

    degrees: float
    translate: tuple[float, float]
    scale: tuple[float, float]

    def __call__(self, img: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        c, h, w = img.shape
        u = torch.rand(4, generator=generator, dtype=torch.float64).tolist()
        angle = math.radians(self.degrees * (2 * u[0] - 1))
        tx = round(self.translate[0] * w * (2 * u[1] - 1))
        ty = round(self.translate[1] * h * (2 * u[2] - 1))
        s = self.scale[0] + (self.scale[1] - self.scale[0]) * u[3]
        cos, sin = math.cos(angle) / s, math.sin(angle) / s  # A^-1 = R(-angle) / s
        # In affine_grid's normalised coordinates x_n = x / (W / 2): theta = D^-1 A^-1 [D | -t].
        theta = torch.tensor(
            [
                [cos, sin * h / w, -(cos * tx + sin * ty) * 2 / w],
                [-sin * w / h, cos, -(-sin * tx + cos * ty) * 2 / h],
            ],
            dtype=torch.float32,
        )
        grid = F.affine_grid(theta[None], [1, c, h, w], align_corners=False)
        out = F.grid_sample(
            img[None].float(), grid, mode="nearest", padding_mode="zeros", align_corners=False
        )
        return out[0].round().to(img.dtype)

    def __str__(self) -> str:
        (tx, ty), (lo, hi) = self.translate, self.scale
        return f"RandomAffine(degrees={self.degrees:g}, translate=({tx:g}, {ty:g}), scale=({lo:g}, {hi:g}))"


@dataclass(frozen=True)
class StaticSource:
    folder: str  # under the data root
    files: Mapping[str, tuple[str, ...]]  # split -> file names in ``folder``
    decode: Callable[[list[Path]], tuple[torch.Tensor, torch.Tensor]]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    home: str  # where a person gets the files
    need_all: bool = True  # every listed file must be present (else: any one of them, e.g. CIFAR batches)
    augment: Callable[..., torch.Tensor] | None = None  # (uint8 image, generator=None) -> uint8 image
    options: Mapping[str, object] = field(default_factory=lambda: {"download": True, "augment": False})

    def expected(self, root: Path, split: str) -> str:
        names = self.files[split]
        joined = names[0] if len(names) == 1 else "{" + ", ".join(names) + "}"
        return f"{root / self.folder}/{joined}" + ("" if self.need_all else " (any of them)")

    def present(self, root: Path, split: str) -> list[Path]:
        paths = [root / self.folder / f for f in self.files[split]]
        found = [p for p in paths if p.is_file()]
        return found if (len(found) == len(paths) or not self.need_all) else []

    def has(self, root: Path, split: str) -> bool:
        return bool(self.present(root, split))

    def missing(self, name: str, root: Path, split: str, status: str) -> DatasetNotFound:
        """The error for a split with no files; ``status`` says what the download did."""
        return DatasetNotFound.build(
            name, split, root / self.folder, self.expected(root, split), self.home, status
        )

    def open(self, name: str, root: Path, split: str, T: int, limit: int | None, options: dict):
        paths = self.present(root, split)
        if not paths:
            # imported here: fetch reads the registry, which imports this module
            from suite.data.fetch import status_for_load

            status = status_for_load(name, root, split) if options["download"] else NOT_ATTEMPTED
            paths = self.present(root, split)
            if not paths:
                raise self.missing(name, root, split, status) from None
        if options["augment"] and (self.augment is None or split != "train"):
            why = "only the train split is augmented" if self.augment else f"{name} defines no augmentation"
            raise ValueError(f"{name} ({split}): augment=True is not allowed: {why}; use augment=False")
        images, labels = self.decode(paths)
        keep = stratified_limit(labels.tolist(), limit)
        if len(keep) < len(labels):
            images, labels = images[keep], labels[keep]
        ds = StaticDataset(
            name, split, images, labels, self.mean, self.std, self.augment if options["augment"] else None
        )
        ds.indices, ds.files = keep, paths
        return ds


class StaticDataset(torch.utils.data.Dataset):
    """``(x [C, H, W] float32 normalised, label int)``; ``images`` keeps the raw uint8 pixels and
    ``indices`` the position of each item in the split's files (``limit`` picks a subset)."""

    def __init__(self, name, split, images: torch.Tensor, targets: torch.Tensor, mean, std, augment=None):
        self.name, self.split = name, split
        self.images, self.targets = images, targets.long()
        std_t = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
        self._scale = 1.0 / (255.0 * std_t)
        self._shift = -torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1) / std_t
        self._labels = self.targets.tolist()
        self.augment = augment

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, i: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, int]:
        img = self.images[i]
        if self.augment is not None:
            img = self.augment(img, generator=generator)
        return torch.addcmul(self._shift, img.float(), self._scale), self._labels[i]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        """A batch (DataLoader calls this when it exists). A :class:`suite.data.batching.Batch` carries a
        seed: the batch's augmentation is drawn from it, so it depends on (seed, epoch, batch) only, not
        on the worker or on torch's global RNG; a plain list draws from torch's RNG."""
        seed = getattr(indices, "seed", None)
        generator = None
        if self.augment is not None and seed is not None:
            generator = torch.Generator()
            generator.manual_seed(seed)
        return [self.__getitem__(i, generator) for i in indices]

    def __repr__(self) -> str:
        aug = ", augmented" if self.augment else ""
        shape = tuple(self.images.shape[1:])
        return f"StaticDataset({self.name}, {self.split}, {len(self)} images {shape}{aug})"
