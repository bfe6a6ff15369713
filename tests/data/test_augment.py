"""The reference's training augmentations, re-implemented without torchvision: geometry, determinism, wiring."""

from __future__ import annotations

import math

import pytest
import torch

from suite import data
from suite.data.static import CropFlip, RandomAffine

MNIST_AFFINE = RandomAffine(degrees=30, translate=(0.15, 0.15), scale=(0.85, 1.11))


def _image(c=1, h=28, w=28, seed=0) -> torch.Tensor:
    return torch.randint(1, 256, (c, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _by_hand(aug: RandomAffine, img: torch.Tensor, seed: int) -> torch.Tensor:
    """The same four draws, mapped pixel by pixel: out(p) = img(nearest A^-1 (p - t)), p from the centre."""
    u = torch.rand(4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).tolist()
    c, h, w = img.shape
    a = math.radians(aug.degrees * (2 * u[0] - 1))
    tx, ty = round(aug.translate[0] * w * (2 * u[1] - 1)), round(aug.translate[1] * h * (2 * u[2] - 1))
    s = aug.scale[0] + (aug.scale[1] - aug.scale[0]) * u[3]
    out = torch.zeros_like(img)
    for y in range(h):
        for x in range(w):
            px, py = x - (w - 1) / 2 - tx, y - (h - 1) / 2 - ty
            qx = (math.cos(a) * px + math.sin(a) * py) / s + (w - 1) / 2
            qy = (-math.sin(a) * px + math.cos(a) * py) / s + (h - 1) / 2
            ix, iy = round(qx), round(qy)
            if 0 <= ix < w and 0 <= iy < h:
                out[:, y, x] = img[:, iy, ix]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_affine_is_the_stated_map(seed):
    img = _image()
    got = MNIST_AFFINE(img, generator=torch.Generator().manual_seed(seed))
    want = _by_hand(MNIST_AFFINE, img, seed)
    assert got.dtype == torch.uint8 and got.shape == img.shape
    # nearest-pixel ties may round the other way in float32: allow a few pixels
    assert (got != want).float().mean().item() < 0.01


def test_random_affine_identity_and_shift():
    img = _image(c=3, h=10, w=12)
    identity = RandomAffine(degrees=0, translate=(0.0, 0.0), scale=(1.0, 1.0))
    assert torch.equal(identity(img, generator=torch.Generator().manual_seed(5)), img)
    shift = RandomAffine(degrees=0, translate=(0.5, 0.0), scale=(1.0, 1.0))
    seen = set()
    for seed in range(30):
        out = shift(img, generator=torch.Generator().manual_seed(seed))
        dx = next(d for d in range(-6, 7) if torch.equal(out, _shifted(img, d)))  # a whole-pixel shift
        seen.add(dx)
    assert len(seen) > 5 and max(abs(d) for d in seen) <= 6


def _shifted(img: torch.Tensor, dx: int) -> torch.Tensor:
    out = torch.zeros_like(img)
    w = img.shape[-1]
    if dx >= 0:
        out[..., dx:] = img[..., : w - dx]
    else:
        out[..., :dx] = img[..., -dx:]
    return out


def test_random_affine_draws_only_from_its_generator():
    img = _image()
    a = MNIST_AFFINE(img, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(123)
    b = MNIST_AFFINE(img, generator=torch.Generator().manual_seed(7))
    c = MNIST_AFFINE(img, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a == 0).sum() > (img == 0).sum()  # rotated or shifted content leaves zero-filled corners


def test_the_registry_names_each_sets_augmentation():
    assert data.augmentation("mnist") == str(MNIST_AFFINE)
    assert (
        data.augmentation("mnist") == "RandomAffine(degrees=30, translate=(0.15, 0.15), scale=(0.85, 1.11))"
    )
    assert data.augmentation("cifar10") == str(CropFlip(4))
    assert [data.augmentation(n) for n in ("fashion-mnist", "nmnist", "cifar10-dvs", "dvs-gesture")] == [
        None
    ] * 4
    assert data.normalisation("cifar10") == "mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.201)"
    assert data.normalisation("nmnist") == "raw event counts"


def test_mnist_train_is_augmented_per_batch_seed(data_root):
    plain = data.load("mnist", "train", T=8, root=data_root, limit=20, download=False)
    aug = data.load("mnist", "train", T=8, root=data_root, limit=20, download=False, augment=True)
    assert "augmented" in repr(aug) and aug.targets.tolist() == plain.targets.tolist()

    def epoch(e):
        batches = data.loader(aug, 5, shuffle=True, seed=3)
        batches.set_epoch(e)
        return torch.cat([x for x, _ in batches])

    assert torch.equal(epoch(1), epoch(1)) and not torch.equal(epoch(1), epoch(2))
    background = plain[0][0].min()  # a zero pixel, normalised
    x = aug[0][0]
    assert x.shape == (1, 28, 28) and torch.isclose(x.min(), background)
