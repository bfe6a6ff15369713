"""The loader is built once per run; ``set_epoch(e)`` gives epoch e's order, a pure function of (seed, e).
Large batch buffers of the main process are recycled, never while a batch still uses them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from suite import data
from suite.data.static import StaticDataset, random_crop_flip


class Indices(torch.utils.data.Dataset):
    """Item i is a [1, 1, 1] image holding the pid of the process that built it, labelled i."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.full((1, 1, 1), float(os.getpid())), i


def epoch_order(batches, epoch):
    batches.set_epoch(epoch)
    return torch.cat([y for _, y in batches]).tolist()


ORDER_IN_A_NEW_PROCESS = """
import json, sys, torch
from suite import data
class D(torch.utils.data.Dataset):
    def __len__(self): return 50
    def __getitem__(self, i): return torch.zeros(1, 1, 1), i
torch.manual_seed(int(sys.argv[1]))  # any global RNG state: it must not matter
batches = data.loader(D(), 7, shuffle=True, seed=11)
batches.set_epoch(3)
print(json.dumps(torch.cat([y for _, y in batches]).tolist()))
"""


def test_order_is_a_pure_function_of_seed_and_epoch():
    uninterrupted = data.loader(Indices(50), 7, shuffle=True, seed=11)
    orders = [epoch_order(uninterrupted, e) for e in range(5)]
    assert all(sorted(o) == list(range(50)) for o in orders)
    assert len({tuple(o) for o in orders}) == 5, "every epoch has its own order"
    torch.manual_seed(1234)
    torch.rand(100)
    resumed = data.loader(Indices(50), 7, shuffle=True, seed=11)  # a run resumed at epoch 3
    assert epoch_order(resumed, 3) == orders[3]
    assert epoch_order(resumed, 3) == orders[3], "iterating twice gives the same epoch again"
    assert epoch_order(data.loader(Indices(50), 7, shuffle=True, seed=12), 3) != orders[3]
    for seed in (0, 5):  # and in a new process, whatever its global RNG
        out = subprocess.run(
            [sys.executable, "-c", ORDER_IN_A_NEW_PROCESS, str(seed)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        )
        assert json.loads(out.stdout) == orders[3]


def test_without_shuffle_every_epoch_is_in_order():
    batches = data.loader(Indices(10), 4, shuffle=False, seed=3)
    assert [epoch_order(batches, e) for e in (0, 7)] == [list(range(10))] * 2
    assert [len(y) for _, y in batches] == [4, 4, 2] and len(batches) == 3


def test_drop_last_and_bad_epochs():
    batches = data.loader(Indices(10), 4, shuffle=True, seed=3, drop_last=True)
    assert [len(y) for _, y in batches] == [4, 4] and len(batches) == 2
    with pytest.raises(ValueError, match="epoch=-1"):
        batches.set_epoch(-1)
    with pytest.raises(ValueError, match="seed='0'"):
        data.loader(Indices(10), 4, shuffle=True, seed="0")


def test_persistent_workers_follow_set_epoch_without_restarting():
    alone = data.loader(Indices(40), 8, shuffle=True, seed=2)
    pooled = data.loader(Indices(40), 8, shuffle=True, seed=2, workers=2)
    pids = set()
    for epoch in (1, 2, 3):
        pooled.set_epoch(epoch)
        got = list(pooled)
        pids |= {int(v) for x, _ in got for v in x.flatten().tolist()}
        assert torch.cat([y for _, y in got]).tolist() == epoch_order(alone, epoch)
    assert len(pids) == 2 and os.getpid() not in pids, "the same two workers served every epoch"


def test_augmentation_follows_seed_and_epoch_not_workers_or_global_rng():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (24, 3, 8, 8), dtype=torch.uint8, generator=g)
    ds = StaticDataset(
        "toy", "train", images, torch.arange(24) % 10, (0.5,) * 3, (0.25,) * 3, augment=random_crop_flip
    )

    def epoch(batches, e):
        batches.set_epoch(e)
        return torch.cat([x for x, _ in batches])

    alone = data.loader(ds, 5, shuffle=True, seed=4)
    first, second = epoch(alone, 1), epoch(alone, 2)
    torch.manual_seed(99)
    assert torch.equal(epoch(data.loader(ds, 5, shuffle=True, seed=4), 2), second)
    assert torch.equal(epoch(data.loader(ds, 5, shuffle=True, seed=4, workers=2), 1), first)
    alone.set_epoch(1)
    plain = torch.stack([ds[i][0] for i in alone.epoch_sampler.order()])
    assert first.shape == plain.shape and not torch.equal(first, plain)  # it did augment


def test_a_batch_buffer_is_reused_only_once_its_batch_is_gone():
    from suite.data.batching import empty_batch

    shape = (15, 16, 2, 64, 64)  # 7.5 MB
    a = empty_batch(shape)
    a.fill_(1)
    column = a.unbind(1)[3]  # a view keeps the buffer busy
    ptr = a.data_ptr()
    del a
    b = empty_batch(shape)
    assert b.data_ptr() != ptr and torch.equal(column, torch.ones_like(column))
    del column
    c = empty_batch(shape)
    assert c.data_ptr() == ptr and c.dtype == torch.float32 and c.shape == shape
    held = [empty_batch(shape) for _ in range(6)]  # more than the recycler keeps: fresh buffers, all distinct
    assert len({t.data_ptr() for t in [b, c, *held]}) == 8
    assert empty_batch((2, 3)).shape == (2, 3)  # small ones are plain allocations
