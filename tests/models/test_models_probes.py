"""Probes: k per layer, firing rates, synaptic operations (by hand, by brute force, against NeuroBench's
definition), param count."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import suite.models as models
from suite.models import probes

TINY = "2C3-3C3-MP2-4FC-(20FC-AP10)"  # enc 2ch, conv1 3ch, pool to 2x2, fc1 4, vote 2 classes x 10


def tiny(neuron: str = "LIF", fill: float = 1.0, steps: int = 2) -> nn.Module:
    """The tiny network, every weight and bias set to ``fill``, in eval mode (BN ~ identity, no dropout)."""
    net = models.make(TINY, neuron=neuron, in_shape=(1, 4, 4), num_classes=2, T=steps)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.fill_(fill)
                if m.bias is not None:
                    m.bias.fill_(fill)
    return net.eval()


def test_synops_match_a_hand_count():
    """All weights 1 and an all-ones image: every input current exceeds 2 V_th, so with tau = 2 every neuron
    fires at every step. Per sample, T = 2:
      enc spikes 2 ch x 4 x 4 per step into conv1 (3 ch, 3 x 3, padding 1): along each axis the 4 positions
      are covered by 2, 3, 3, 2 output positions, so one channel's map drives 3 x (2+3+3+2)^2 = 300
      synapses (not 3 x 9 x 16 = 432, which ignores the borders); x 2 ch x T                -> 1200
      conv1 spikes 3 x 4 x 4, max-pooled to 3 x 2 x 2 = 12 per step, x T = 24, fan-out 4     -> 96
      fc1 spikes 4 x T = 8, fan-out 20                                                       -> 160
    The encoder reads the image (not spikes) and is not counted."""
    net = tiny()
    probe = probes.attach(net)
    net(torch.ones(3, 1, 4, 4))
    assert probe.samples == 3
    assert probe.synops_per_sample() == 1200 + 96 + 160
    assert probe.synops_per_layer() == {"conv1.conv": 1200.0, "fc1.fc": 96.0, "vote.fc": 160.0}
    assert probe.firing_rates() == {"enc": 1.0, "conv1": 1.0, "fc1": 1.0, "vote": 1.0}


def test_silent_network_has_zero_rates_and_synops():
    net = tiny(fill=0.0)
    probe = probes.attach(net)
    net(torch.ones(2, 1, 4, 4))
    assert probe.synops_per_sample() == 0.0
    assert set(probe.firing_rates().values()) == {0.0}


def test_rates_accumulate_over_batches_and_reset():
    net = tiny()
    probe = probes.attach(net)
    net(torch.ones(2, 1, 4, 4))
    with torch.no_grad():
        net.vote.fc.weight.fill_(0.0)
        net.vote.fc.bias.fill_(0.0)
    net(torch.ones(6, 1, 4, 4))  # vote silent now: 2 of 8 samples fired
    assert probe.firing_rates()["vote"] == pytest.approx(2 / 8)
    assert probe.samples == 8
    probe.reset()
    assert probe.firing_rates() == {} and probe.synops_per_sample() == 0.0 and probe.samples == 0
    probe.remove()
    net(torch.ones(2, 1, 4, 4))
    assert probe.samples == 0, "removed hooks measure nothing"


@pytest.mark.parametrize("name", models.names())
def test_rates_in_unit_interval_with_stable_names(name, build, example_input):
    net = build(name)
    probe = probes.attach(net, per_neuron=True)
    net(example_input(name))
    net(example_input(name))
    rates = probe.firing_rates()
    assert list(rates) == list(probes.spiking_layers(net))
    assert rates and all(0.0 <= r <= 1.0 for r in rates.values())
    assert next(iter(rates)) == "enc" and list(rates)[-1] == "vote"
    assert probe.synops_per_sample() > 0
    for layer, each in probe.neuron_rates().items():
        assert each.min() >= 0 and each.max() <= 1
        assert each.mean().item() == pytest.approx(rates[layer], rel=1e-5)


def test_k_values_for_klif_only(build):
    klif = build("table1-mnist", neuron="KLIF")
    assert probes.k_values(klif) == {"enc": 1.0, "conv1": 1.0, "fc1": 1.0, "vote": 1.0}
    assert probes.k_values(build("table1-mnist", neuron="LIF")) == {}
    assert probes.k_values(build("table1-mnist", neuron="ANN")) == {}
    with torch.no_grad():
        klif.conv1.sn.k.fill_(2.5)
    assert probes.k_values(klif)["conv1"] == 2.5


def test_ann_has_no_rates_but_counts_effective_ops(build, example_input):
    net = build("table1-mnist", neuron="ANN")
    probe = probes.attach(net)
    net(example_input("table1-mnist"))
    assert probe.firing_rates() == {}
    assert probe.synops_per_sample() > 0


def test_fan_out_is_exact_at_borders_strides_and_groups():
    # 3 x 3, padding 1 on 2 x 2: every input feeds all 4 output positions; a constant C_out * 9 is 2.25 x
    assert probes.fan_out(nn.Conv2d(8, 16, 3, padding=1), (8, 2, 2)).tolist() == [[[16 * 4] * 2] * 2] * 8
    # stride 2, no padding, 5 wide: outputs at 0, 2; x = 0, 1 covered once, 2 twice, 3, 4 once
    row = [1, 1, 2, 1, 1]
    want = torch.tensor([[16 * a * b for b in row] for a in row])
    assert torch.equal(probes.fan_out(nn.Conv2d(8, 16, 3, stride=2), (8, 5, 5))[3], want)
    assert probes.fan_out(nn.Conv2d(8, 16, 3, padding=1, groups=4), (8, 3, 3))[0, 1, 1] == 16 // 4 * 9
    assert probes.fan_out(nn.Conv2d(8, 16, 1), (8, 6, 6)).unique().tolist() == [16]
    assert probes.fan_out(nn.Linear(5, 7), (5,)).tolist() == [7] * 5
    with pytest.raises(ValueError, match="MaxPool2d"):
        probes.fan_out(nn.MaxPool2d(2), (1, 2, 2))


class Sparse(nn.Module):
    """Zeroes about half of its input, so layers downstream see sparse, spike-like activity."""

    def forward(self, x):
        return (x > 0).to(x.dtype)


def small_net() -> nn.Module:
    """Convs with padding, a stride, groups and a dilation, a pooling to 2 x 2, a 3 x 3 conv on that 2 x 2
    map, and a linear layer: every case where a constant fan-out per input would be wrong."""
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),  # 5 x 5
        Sparse(),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),  # 3 x 3
        Sparse(),
        nn.Conv2d(6, 4, 3, padding=2, dilation=2),  # 3 x 3
        Sparse(),
        nn.Upsample(size=4),
        nn.MaxPool2d(2),  # 2 x 2
        nn.Conv2d(4, 3, 3, padding=1),  # 3 x 3 on the 2 x 2 map
        Sparse(),
        nn.Flatten(),
        nn.Linear(12, 5),
    )


def brute_force_ops(layer: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates with a non-zero input, by looping over every output element and kernel tap."""
    if isinstance(layer, nn.Linear):
        return sum(int(v != 0) * layer.out_features for v in x.flatten().tolist())
    n, cin, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = layer.kernel_size, layer.stride, layer.padding, layer.dilation
    ho, wo = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cin_g, cout_g = cin // layer.groups, layer.out_channels // layer.groups
    nz = (x != 0).tolist()
    ops = 0
    for b, co, oy, ox, ci, i, j in itertools.product(
        range(n), range(layer.out_channels), range(ho), range(wo), range(cin_g), range(kh), range(kw)
    ):
        y, xx, c = oy * sh - ph + i * dh, ox * sw - pw + j * dw, co // cout_g * cin_g + ci
        ops += 0 <= y < h and 0 <= xx < w and nz[b][c][y][xx]
    return ops


def capture_inputs(model: nn.Module, x: torch.Tensor) -> dict[str, list[torch.Tensor]]:
    """``{synaptic layer path: its inputs}`` during ``model(x)`` (the encoder's convs excluded); the hooks
    are gone afterwards (NeuroBench deep-copies layers, hooks included)."""
    seen: dict[str, list[torch.Tensor]] = {}

    def keep(path):
        return lambda module, inputs: seen.setdefault(path, []).append(inputs[0].clone())

    layers = probes._synaptic_layers(model).items()
    handles = [layer.register_forward_pre_hook(keep(path)) for path, layer in layers]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return seen


def test_synops_equal_a_brute_force_count_on_a_small_net():
    torch.manual_seed(0)
    net = small_net()
    probe = probes.attach(net)
    total: dict[str, int] = {}
    for batch in (3, 2):
        x = torch.rand(batch, 2, 5, 5) * (torch.rand(batch, 2, 5, 5) > 0.3)
        for p, xs in capture_inputs(net, x).items():
            total[p] = total.get(p, 0) + sum(brute_force_ops(net.get_submodule(p), v) for v in xs)
    assert probe.samples == 5 and all(v > 0 for v in total.values())
    assert probe.synops_per_layer() == {p: v / 5 for p, v in total.items()}
    assert probe.synops_per_sample() == sum(total.values()) / 5


def neurobench_style_ops(layer: nn.Module, x: torch.Tensor) -> int:
    """NeuroBench's recipe, written out: the layer with weights of ones and no bias on the binarised input,
    its output summed (each output counts the non-zero inputs its taps read)."""
    xb = (x != 0).double()
    ones = torch.ones(layer.weight.shape, dtype=torch.float64)
    out = F.linear(xb, ones) if isinstance(layer, nn.Linear) else layer._conv_forward(xb, ones, None)
    return int(out.sum().round())


@pytest.mark.parametrize("name", models.names())
def test_synops_follow_neurobenchs_definition_on_every_network(name, build, example_input):
    net = build(name, width=0.0625)  # train mode: BatchNorm normalises, so layers fire
    probe = probes.attach(net)
    seen = capture_inputs(net, example_input(name, batch=2))
    want = {p: sum(neurobench_style_ops(net.get_submodule(p), x) for x in xs) / 2 for p, xs in seen.items()}
    assert probe.synops_per_layer() == want and sum(want.values()) > 0


def test_synops_agree_with_neurobench_itself(build, example_input):
    macs = pytest.importorskip(
        "neurobench.metrics.utils.layers",
        reason="neurobench is not installed: NeuroBench's own count unchecked",
    )
    torch.manual_seed(1)
    cases = [(small_net(), torch.rand(4, 2, 5, 5)), (tiny(fill=0.3), torch.rand(3, 1, 4, 4))]
    cases.append((build("table1-cifar10", width=0.0625), example_input("table1-cifar10")))
    for net, x in cases:
        probe = probes.attach(net)
        seen = capture_inputs(net, x)
        ours = probe.synops_per_layer()
        probe.remove()
        theirs = {
            p: sum(macs.single_layer_MACs(v, net.get_submodule(p))[0] for v in xs) for p, xs in seen.items()
        }
        assert ours == {p: v / probe.samples for p, v in theirs.items()} and sum(ours.values()) > 0


def test_param_count_counts_trainable_scalars():
    net = tiny(neuron="KLIF")
    assert probes.param_count(net) == sum(p.numel() for p in net.parameters())
    net.enc.bn.weight.requires_grad_(False)
    assert probes.param_count(net) == sum(p.numel() for p in net.parameters()) - 2
    assert probes.param_count(net, trainable=False) == sum(p.numel() for p in net.parameters())


def test_rate_percentiles_summarise_the_per_neuron_rates_and_the_option_can_be_switched_on(
    build, example_input
):
    net = build("table1-cifar10")
    probe = probes.attach(net)
    net(example_input("table1-cifar10"))
    probe.per_neuron = True  # as the trainer does for its last epoch: from the next reset on
    probe.reset()
    net(example_input("table1-cifar10"))
    net(example_input("table1-cifar10"))
    pct = probe.rate_percentiles()
    assert list(pct) == list(probe.firing_rates())
    for layer, each in probe.neuron_rates().items():
        want = np.percentile(each.double().numpy().ravel(), probes.PERCENTILES)
        assert list(pct[layer]) == list(probes.PERCENTILES)
        assert list(pct[layer].values()) == pytest.approx(want.tolist())
        assert all(a <= b for a, b in zip(list(pct[layer].values()), list(pct[layer].values())[1:]))


def test_per_neuron_rates_need_the_option():
    probe = probes.attach(tiny())
    with pytest.raises(ValueError, match="per_neuron=True"):
        probe.neuron_rates()
