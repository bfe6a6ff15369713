"""Spikes saved as bool for backward: same gradients, less memory, and only spikes are packed."""

from __future__ import annotations

import pytest
import torch

import suite.models as models
from suite.models import packing


def _grads(name, build, example_input, pack: bool):
    torch.manual_seed(0)
    net = build(name, pack_spikes=pack)
    x = example_input(name)
    torch.manual_seed(1)  # same dropout masks in both runs
    net(x).square().sum().backward()
    return {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", models.names())
def test_gradients_identical_with_and_without_packing(name, build, example_input):
    a = _grads(name, build, example_input, pack=True)
    b = _grads(name, build, example_input, pack=False)
    assert a.keys() == b.keys() and a
    for n in a:
        assert torch.equal(a[n], b[n]), n


def _packed_kinds(monkeypatch, net, x) -> list[tuple[tuple[int, ...], torch.dtype]]:
    packed = []
    original = packing.SpikePacker._pack

    def spy(self, t):
        out = original(self, t)
        if isinstance(out, packing._Packed):
            packed.append((tuple(t.shape), out.bits.dtype))
        return out

    monkeypatch.setattr(packing.SpikePacker, "_pack", spy)
    net(x).sum().backward()
    return packed


def test_only_spikes_are_packed(monkeypatch, build, example_input):
    """table1-mnist-literal (width 1/8 -> 16 channels, T = 2, B = 2): conv1 saves the encoder's spikes; the
    max-pool keeps only its indices; the FC inputs come out of dropout (0 or 2), so they stay float."""
    net = build("table1-mnist-literal")
    packed = _packed_kinds(monkeypatch, net, example_input("table1-mnist-literal"))
    assert packed == [((4, 16, 28, 28), torch.bool)]


def test_pooled_spikes_are_packed_too(monkeypatch, build, example_input):
    """table1-mnist (Fang et al.'s reading, width 1/8, T = 2, B = 2): the conv after the encoder's MP2 reads
    a max-pool of spikes, itself 0/1, so it is saved as bool; the FC inputs (dropout: 0 or 2) are not."""
    packed = _packed_kinds(monkeypatch, build("table1-mnist"), example_input("table1-mnist"))
    assert packed == [((4, 16, 14, 14), torch.bool)]


def test_nothing_packed_for_ann_or_eval_or_when_off(monkeypatch, build, example_input):
    x = example_input("table1-mnist")
    assert _packed_kinds(monkeypatch, build("table1-mnist", neuron="ANN"), x) == []
    assert _packed_kinds(monkeypatch, build("table1-mnist", pack_spikes=False), x) == []
    net = build("table1-mnist").eval()
    with torch.no_grad():
        net(x)  # no autograd: no hooks installed, nothing recorded
    assert not any(m._forward_hooks for m in net.modules()), "the packer's hooks are gone after the forward"


def test_saved_spikes_take_a_quarter_of_the_bytes(monkeypatch):
    """table1-mnist-literal at width 1/4 (32 channels), T = 4, B = 4: the one saved spike tensor, the
    encoder's [16, 32, 28, 28] read by conv1, is held as 1 byte per element instead of float32's 4, and
    unpacks exactly."""
    sizes = []
    original = packing.SpikePacker._pack

    def spy(self, t):
        out = original(self, t)
        if isinstance(out, packing._Packed):
            sizes.append((t.numel() * t.element_size(), out.bits.numel() * out.bits.element_size()))
            assert torch.equal(packing._unpack(out), t)
        return out

    monkeypatch.setattr(packing.SpikePacker, "_pack", spy)
    net = models.make(
        "table1-mnist-literal", neuron="LIF", in_shape=(1, 28, 28), num_classes=10, T=4, width=0.25
    )
    net(torch.rand(4, 1, 28, 28)).sum().backward()
    spikes = 16 * 32 * 28 * 28
    assert sizes == [(spikes * 4, spikes)]
