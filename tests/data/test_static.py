"""MNIST, Fashion-MNIST and CIFAR-10 from their original files, against the MANIFEST's counts and means."""

from __future__ import annotations

import gzip
import shutil
import time

import pytest
import torch

from suite import data
from suite.data import image_files

# MANIFEST.md: full MNIST and Fashion-MNIST; CIFAR-10 is a 4,000 / 1,000 subset
COUNTS = {"mnist": (60_000, 10_000), "fashion-mnist": (60_000, 10_000), "cifar10": (4_000, 1_000)}
STATS = {  # registry normalisation constants: the PLIF reference code's (CIFAR-10's std is not the set's)
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
}


@pytest.mark.parametrize("name", list(COUNTS))
@pytest.mark.parametrize("split", ["train", "test"])
def test_counts_equal_the_manifest(data_root, name, split):
    ds = data.load(name, split, T=8, root=data_root, download=False)
    assert len(ds) == COUNTS[name][split == "test"] == len(ds.images) == len(ds.targets)
    assert ds.targets.min() == 0 and ds.targets.max() == 9


@pytest.mark.parametrize("name, mean", [("mnist", 0.1307), ("fashion-mnist", 0.2860)])
def test_raw_train_pixel_mean(data_root, name, mean):
    ds = data.load(name, "train", T=8, root=data_root, download=False)
    assert ds.images.dtype == torch.uint8 and ds.images.shape[1:] == (1, 28, 28)
    assert ds.images.double().mean().item() / 255 == pytest.approx(mean, abs=5e-4)


def test_cifar10_channel_means_of_the_subset(data_root):
    ds = data.load("cifar10", "train", T=10, root=data_root, download=False)
    means = (ds.images.double().mean(dim=(0, 2, 3)) / 255).tolist()
    assert means == pytest.approx([0.4916, 0.4818, 0.4447], abs=5e-4)  # MANIFEST, this subset


@pytest.mark.parametrize("name", list(COUNTS))
def test_items_are_normalised_with_the_sets_constants(data_root, name):
    ds = data.load(name, "test", T=8, root=data_root, download=False)
    mean, std = (torch.tensor(v).view(-1, 1, 1) for v in STATS[name])
    for i in (0, 1, len(ds) - 1):
        x, y = ds[i]
        assert torch.allclose(x, (ds.images[i].float() / 255 - mean) / std, atol=1e-5)
        assert y == ds.targets[i].item()


def test_normalised_mnist_train_is_standardised(data_root):
    ds = data.load("mnist", "train", T=8, root=data_root, download=False)
    total = squares = 0.0
    for x, _ in data.loader(ds, 10_000, shuffle=False):  # every item, through __getitem__ and the loader
        total, squares = total + x.double().sum().item(), squares + x.double().square().sum().item()
    n = len(ds) * 28 * 28
    mean = total / n
    assert mean == pytest.approx(0, abs=1e-3) and (squares / n - mean**2) ** 0.5 == pytest.approx(1, abs=1e-3)


def test_cifar10_augmentation_is_a_padded_crop_maybe_flipped(data_root):
    plain = data.load("cifar10", "train", T=10, root=data_root, limit=3, download=False)
    aug = data.load("cifar10", "train", T=10, root=data_root, limit=3, download=False, augment=True)
    x0 = plain[0][0]
    pad = (-torch.tensor(STATS["cifar10"][0]) / torch.tensor(STATS["cifar10"][1])).view(3, 1, 1)
    padded = pad.expand(3, 40, 40).clone()
    padded[:, 4:36, 4:36] = x0  # zero (black) raw padding, then normalised
    candidates = [padded[:, dy : dy + 32, dx : dx + 32] for dy in range(9) for dx in range(9)]
    candidates += [c.flip(-1) for c in candidates]
    torch.manual_seed(0)
    draws = [aug[0][0] for _ in range(40)]
    for x in draws:
        assert any(torch.allclose(x, c, atol=1e-5) for c in candidates)
    assert len({tuple(x.flatten()[:64].tolist()) for x in draws}) > 10  # it does vary
    assert aug[0][1] == plain[0][1]


def test_full_mnist_train_loads_in_well_under_two_seconds(data_root):
    image_files._read_idx.cache_clear()  # decode the files again, as a fresh process would
    start = time.perf_counter()
    ds = data.load("mnist", "train", T=8, root=data_root, download=False)
    assert len(ds) == 60_000
    assert time.perf_counter() - start < 2.0


def test_truncated_idx_file_is_named(data_root, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    shutil.copy(data_root / "MNIST/raw/t10k-images-idx3-ubyte.gz", raw)
    labels = (data_root / "MNIST/raw/t10k-labels-idx1-ubyte.gz").read_bytes()
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(gzip.decompress(labels)[:-10]))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.gz: header says shape \(10000,\).*trunc"):
        data.load("mnist", "test", T=8, root=tmp_path, download=False)


def test_partial_cifar_record_is_named(data_root, tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    whole = (data_root / "cifar-10-batches-bin/test_batch.bin").read_bytes()
    (folder / "test_batch.bin").write_bytes(whole[:5000])
    with pytest.raises(ValueError, match=r"test_batch.bin: 5000 bytes is not a whole number of CIFAR-10 rec"):
        data.load("cifar10", "test", T=10, root=tmp_path, download=False)


def test_cifar10_train_reads_whichever_batches_are_present(data_root):
    ds = data.load("cifar10", "train", T=10, root=data_root, download=False)
    assert (
        sorted(p.name for p in (data_root / "cifar-10-batches-bin").glob("data_batch_*.bin"))
        == ["data_batch_1.bin"]
        and len(ds) == 4000
    )
