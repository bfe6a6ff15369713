"""The public API over every registered dataset: names, paper settings, item and batch layouts, bad input."""

from __future__ import annotations

import pytest
import torch

from suite import data

# name: (kind, in_shape, classes, paper T, paper epochs, Table 1 network) -- the paper's Table 1
PAPER = {
    "mnist": ("static", (1, 28, 28), 10, 8, 100, "table1-mnist"),
    "fashion-mnist": ("static", (1, 28, 28), 10, 8, 100, "table1-mnist"),
    "cifar10": ("static", (3, 32, 32), 10, 10, 200, "table1-cifar10"),
    "nmnist": ("event", (2, 34, 34), 10, 10, 100, "table1-nmnist"),
    "cifar10-dvs": ("event", (2, 128, 128), 10, 15, 100, "table1-cifar10-dvs"),
    "dvs-gesture": ("event", (2, 128, 128), 11, 12, 200, "table1-dvs-gesture"),
}


@pytest.fixture
def root_of(request):
    """The folder holding real files of a dataset; CIFAR10-DVS has none, so files written in its format."""

    def root(name):
        return request.getfixturevalue("cifar10dvs_root" if name == "cifar10-dvs" else "data_root")

    return root


def small(name, root, split="train", n=6, **options):
    return data.load(name, split, T=data.info(name).paper_T, root=root, limit=n, download=False, **options)


def test_names_are_the_papers_six():
    assert data.names() == list(PAPER)


@pytest.mark.parametrize("name", data.names())
def test_info_matches_table1(name):
    i = data.info(name)
    assert (i.kind, i.in_shape, i.num_classes, i.paper_T, i.paper_epochs, i.table1_network) == PAPER[name]
    assert i.name == name and i.paper_batch_size > 0
    with pytest.raises(AttributeError):
        i.paper_T = 1  # frozen


@pytest.mark.filterwarnings("ignore:dvs-gesture")
@pytest.mark.parametrize("name", data.names())
def test_items_have_the_documented_layout(name, root_of):
    ds = small(name, root_of(name))
    i = data.info(name)
    x, y = ds[0]
    want = i.in_shape if i.kind == "static" else (i.paper_T, *i.in_shape)
    assert tuple(x.shape) == want and x.dtype == torch.float32
    assert isinstance(y, int) and 0 <= y < i.num_classes
    assert ds.info is i and 0 < len(ds) <= 6 and ds.targets.dtype == torch.long
    if i.kind == "event":
        assert x.min() >= 0 and torch.equal(x, x.round()) and x.sum() > 0  # event counts


@pytest.mark.filterwarnings("ignore:dvs-gesture")
@pytest.mark.parametrize("name", data.names())
def test_loader_batches_to_the_networks_layout(name, root_of):
    ds = small(name, root_of(name), n=4)
    x, y = next(iter(data.loader(ds, 3, shuffle=False)))
    items = [ds[k] for k in range(3)]
    assert y.dtype == torch.long and y.tolist() == [it[1] for it in items]
    if data.info(name).kind == "static":
        assert x.shape == (3, *data.info(name).in_shape)
        assert torch.equal(x, torch.stack([it[0] for it in items]))
    else:
        assert x.shape == (data.info(name).paper_T, 3, *data.info(name).in_shape) and x.is_contiguous()
        assert torch.equal(x[:, 1], items[1][0])  # time first: x[t, b] is item b's frame t


def test_shuffling_is_deterministic_from_the_seed(data_root):
    ds = data.load("mnist", "test", T=8, root=data_root, limit=200, download=False)

    def order(seed):
        return torch.cat([y for _, y in data.loader(ds, 50, shuffle=True, seed=seed)]).tolist()

    assert order(0) == order(0) != order(1)
    assert sorted(order(0)) == sorted(ds.targets.tolist())


def test_workers_give_the_same_batches(data_root):
    ds = data.load("nmnist", "test", T=10, root=data_root, limit=8, download=False)
    one = [(x, y) for x, y in data.loader(ds, 4, shuffle=True, seed=3)]
    two = [(x, y) for x, y in data.loader(ds, 4, shuffle=True, seed=3, workers=2)]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(one, two, strict=True))


def test_limit_is_class_stratified_and_nested(data_root):
    big = data.load("mnist", "train", T=8, root=data_root, limit=100, download=False)
    part = data.load("mnist", "train", T=8, root=data_root, limit=55, download=False)
    assert torch.bincount(big.targets, minlength=10).tolist() == [10] * 10
    assert sorted(torch.bincount(part.targets, minlength=10).tolist()) == [5] * 5 + [6] * 5
    assert set(part.indices) <= set(big.indices)
    assert torch.equal(big.images[big.indices.index(part.indices[7])], part.images[7])


@pytest.mark.parametrize(
    "call, message",
    [
        (dict(name="imagenet"), "unknown dataset 'imagenet'; known datasets: mnist, fashion-mnist"),
        (dict(split="val"), "split='val'; allowed: train, test"),
        (dict(T=0), "T=0; want a positive int"),
        (dict(T=2.5), "T=2.5; want a positive int"),
        (dict(limit=0), "limit=0; want a positive int"),
        (dict(shuffle=True), "unknown option(s) ['shuffle']; allowed: download, augment"),
        (dict(download="yes"), "download='yes'; want True or False"),
        (
            dict(name="fashion-mnist", augment=True),
            "augment=True is not allowed: fashion-mnist defines no augmentation",
        ),
        (
            dict(name="cifar10", split="test", augment=True),
            "augment=True is not allowed: only the train split",
        ),
        (dict(name="nmnist", layout="tonic"), "layout='tonic'; allowed: original (or None)"),
        (dict(name="nmnist", cache="no"), "cache='no'; want True or False"),
    ],
)
def test_bad_input_gives_one_clear_error(data_root, call, message):
    kw = {"name": "mnist", "split": "train", "T": 8, "root": data_root, "download": False, **call}
    with pytest.raises(ValueError) as e:
        data.load(kw.pop("name"), kw.pop("split"), **kw)
    assert message in str(e.value)


def test_loader_rejects_bad_arguments(data_root):
    ds = data.load("mnist", "test", T=8, root=data_root, limit=10, download=False)
    with pytest.raises(ValueError, match="batch_size=0"):
        data.loader(ds, 0, shuffle=False)
    with pytest.raises(ValueError, match="workers=-1"):
        data.loader(ds, 2, shuffle=False, workers=-1)


def test_root_comes_from_argument_then_env_then_cwd(monkeypatch, tmp_path):
    monkeypatch.setenv("SUITE_DATA", str(tmp_path / "env"))
    assert data.resolve_root(tmp_path / "arg") == tmp_path / "arg"
    assert data.resolve_root() == tmp_path / "env"
    monkeypatch.delenv("SUITE_DATA")
    monkeypatch.chdir(tmp_path)
    assert data.resolve_root() == tmp_path / "data"


def test_collate_passes_a_prebuilt_block_on_and_stacks_anything_else():
    block = torch.arange(3 * 4 * 2 * 2 * 2, dtype=torch.float32).view(3, 4, 2, 2, 2)
    cols = block.unbind(1)
    x, y = data.collate([(c, k) for k, c in enumerate(cols)])
    assert x.data_ptr() == block.data_ptr() and torch.equal(x, block) and x.is_contiguous()  # no copy
    assert y.tolist() == [0, 1, 2, 3]
    swapped = [(cols[1], 1), (cols[0], 0), (cols[2], 2), (cols[3], 3)]
    x, _ = data.collate(swapped)
    assert x.data_ptr() != block.data_ptr() and torch.equal(x, block[:, [1, 0, 2, 3]])
    x, _ = data.collate([(c, 0) for c in cols[:2]])  # two columns of a block of four: copied
    assert torch.equal(x, block[:, :2]) and x.is_contiguous() and x.data_ptr() != block.data_ptr()
    with pytest.raises(ValueError, match=r"items of shape \(4,\)"):
        data.collate([(torch.zeros(4), 0)])
