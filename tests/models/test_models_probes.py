"""Probes: k per layer, firing rates, synaptic operations (checked by hand on a tiny network), param count."""

from __future__ import annotations

import pytest
import torch
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
      enc spikes 2 ch x 4 x 4 x T = 64, each feeding conv1's 3 ch x 3 x 3 = 27 synapses  -> 1728
      conv1 spikes 3 x 4 x 4, max-pooled to 3 x 2 x 2 = 12 per step, x T = 24, fan-out 4 -> 96
      fc1 spikes 4 x T = 8, fan-out 20                                                     -> 160
    The encoder reads the image (not spikes) and is not counted."""
    net = tiny()
    probe = probes.attach(net)
    net(torch.ones(3, 1, 4, 4))
    assert probe.samples == 3
    assert probe.synops_per_sample() == 1728 + 96 + 160
    assert probe.synops_per_layer() == {"conv1.conv": 1728.0, "fc1.fc": 96.0, "vote.fc": 160.0}
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


def test_fan_out_of_strided_and_linear_layers():
    assert probes.fan_out(nn.Conv2d(8, 16, 3, stride=2)) == 16 * 9 / 4
    assert probes.fan_out(nn.Conv2d(8, 16, 1)) == 16
    assert probes.fan_out(nn.Linear(5, 7)) == 7
    with pytest.raises(ValueError, match="MaxPool2d"):
        probes.fan_out(nn.MaxPool2d(2))


def test_param_count_counts_trainable_scalars():
    net = tiny(neuron="KLIF")
    assert probes.param_count(net) == sum(p.numel() for p in net.parameters())
    net.enc.bn.weight.requires_grad_(False)
    assert probes.param_count(net) == sum(p.numel() for p in net.parameters()) - 2
    assert probes.param_count(net, trainable=False) == sum(p.numel() for p in net.parameters())


def test_per_neuron_rates_need_the_option():
    probe = probes.attach(tiny())
    with pytest.raises(ValueError, match="per_neuron=True"):
        probe.neuron_rates()
