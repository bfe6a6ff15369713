"""Every registered network builds for its dataset's input and maps it to ``[B, classes]``; make() rejects
bad arguments with one clear ValueError. Parametrized over the registry: a new entry is tested without new
code."""

from __future__ import annotations

import pytest
import torch

import suite.models as models
from suite import data, train
from suite.neurons import SpikingNeuron

B, T = 2, 2


# The five Table 1 networks: reading (a), Fang et al.'s network with the encoder in place of its first conv
# block (which keeps its MP2; CIFAR-10's conv1 has none), and the rows as printed (annotations dropped, OCR
# "API0" read as AP10) under "-literal".
TABLE1 = {
    "table1-mnist": "(128C3+128C3+128C3)-MP2-128C3-MP2-2048FC-(100FC-AP10)",
    "table1-nmnist": "(128C3+128C3+128C3)-MP2-128C3-MP2-2048FC-(100FC-AP10)",
    "table1-cifar10": "(128C3+128C3+128C3)-256C3-256C3-MP2-(256C3)*3-MP2-2048FC-(100FC-AP10)",
    "table1-cifar10-dvs": "(128C3+128C3+128C3)-MP2-(128C3-MP2)*3-512FC-(100FC-AP10)",
    "table1-dvs-gesture": "(128C3+128C3+128C3)-MP2-(128C3-MP2)*4-512FC-(110FC-AP10)",
    "table1-mnist-literal": "(128C3+128C3+128C3)-128C3-MP2-2048FC-(100FC-AP10)",
    "table1-nmnist-literal": "(128C3+128C3+128C3)-128C3-MP2-2048FC-(100FC-AP10)",
    "table1-cifar10-literal": "(128C3+128C3+128C3)-(256C3-256C3-256C3-MP2)*2-2048FC-(100FC-AP10)",
    "table1-cifar10-dvs-literal": "(128C3+128C3+128C3)-(128C3-MP2)*3-512FC-(100FC-AP10)",
    "table1-dvs-gesture-literal": "(128C3+128C3+128C3)-(128C3-MP2)*4-512FC-(110FC-AP10)",
}


def test_registry_holds_table1_vgg_and_resnet():
    assert set(TABLE1) | {"vgg16", "resnet18"} == set(models.names())
    for name, notation in TABLE1.items():
        assert models.entry(name).notation == notation


def test_auto_resolves_to_reading_a_for_every_dataset():
    """``network = "auto"`` picks the default (reading (a)) name, never a literal one."""
    for dataset in data.names():
        name = train.resolve({"dataset": dataset})["network"]
        assert name in TABLE1 and not name.endswith(models.LITERAL)


@pytest.mark.parametrize("name", models.names())
def test_builds_and_returns_class_rates(name, build, example_input):
    net = build(name)
    ex = models.entry(name).example
    x = example_input(name)
    out = net(x)
    assert out.shape == (B, ex.num_classes)
    assert torch.all((out >= 0) & (out <= 1)), "scores are firing rates"
    out.sum().backward()
    enc = net.enc.convs[0].weight
    assert enc.grad is not None and torch.isfinite(enc.grad).all()


@pytest.mark.parametrize("name", models.names())
def test_ann_variant_has_no_spiking_neuron(name, build, example_input):
    net = build(name, neuron="ANN")
    assert not any(isinstance(m, SpikingNeuron) for m in net.modules())
    assert net(example_input(name)).shape == (B, models.entry(name).example.num_classes)


@pytest.mark.parametrize("name", models.names())
def test_event_and_static_inputs_both_work(name, build):
    """A network tells static ``[B, C, H, W]`` from events ``[T, B, C, H, W]`` by the input's dim."""
    net = build(name).eval()
    ex = models.entry(name).example
    assert net(torch.rand(B, *ex.in_shape)).shape == (B, ex.num_classes)
    assert net(torch.rand(T, B, *ex.in_shape)).shape == (B, ex.num_classes)


def test_notation_string_as_name():
    net = models.make(
        "16C3-MP2-(8C3)*2-32FC-(30FC-AP10)", neuron="LIF", in_shape=(1, 8, 8), num_classes=3, T=2
    )
    assert net(torch.rand(4, 1, 8, 8)).shape == (4, 3)
    assert [n for n, _ in net.named_children()] == ["enc", "pool1", "conv1", "conv2", "fc1", "vote"]


def test_neuron_params_reach_every_neuron(build):
    params = {"surrogate": "sigmoid", "alpha": 3.0, "detach_reset": True}
    net = build("table1-mnist", neuron="LIF", neuron_params=params)
    neurons = [m for m in net.modules() if isinstance(m, SpikingNeuron)]
    assert len(neurons) == 4
    assert all(
        m.constants.surrogate == "sigmoid" and m.constants.alpha == 3.0 and m.constants.detach_reset
        for m in neurons
    )
    assert len({id(m) for m in neurons}) == 4, "each layer owns its neuron (its own k)"


def test_width_scales_all_but_the_voting_layer(build):
    net = build("table1-mnist", width=0.5)
    assert net.enc.bn.num_features == 64 and net.conv1.conv.out_channels == 64
    assert net.fc1.fc.in_features == 64 * 7 * 7 and net.fc1.fc.out_features == 1024
    assert net.vote.fc.out_features == 100


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_encoder_argument_sets_parallel_convs(n, build):
    for name in ("table1-cifar10", "vgg16", "resnet18"):
        assert len(build(name, encoder=n).enc.convs) == n


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"neuron": "KLIFF"}, "KLIFF"),
        ({"neuron_params": {"tua": 2.0}}, "tua"),
        ({"in_shape": (28, 28)}, "in_shape"),
        ({"num_classes": 0}, "num_classes"),
        ({"T": 0}, "T=0"),
        ({"width": 0}, "width"),
        ({"encoder": 0}, "encoder"),
        ({"dropout": 1.0}, "dropout"),
        ({"encoder_norm": "both"}, "encoder_norm='both'"),
        ({"linear_bias": 0}, "linear_bias=0"),
        ({"colour": "red"}, "colour"),
        ({"num_classes": 11}, "num_classes=11"),  # 100FC-AP10 votes for 10 classes
    ],
)
def test_bad_arguments_raise_one_clear_error(kwargs, needle):
    args = {"neuron": "KLIF", "in_shape": (1, 28, 28), "num_classes": 10, "T": 2, **kwargs}
    with pytest.raises(ValueError, match=needle):
        models.make("table1-mnist", **args)


def test_unknown_name_lists_registry_and_parse_error():
    with pytest.raises(ValueError, match=r"'vgg-16'.*table1-mnist.*unknown token 'vgg'"):
        models.make("vgg-16", neuron="LIF", in_shape=(3, 32, 32), num_classes=10, T=2)


@pytest.mark.parametrize(
    "notation",
    [
        "MP2-128C3-100FC-AP10",
        "128C3-100FC-MP2-100FC-AP10",
        "128C3-(64C3+64C3)-100FC-AP10",
        "128C3-100FC",
        "128C3-AP10-100FC-AP10",
    ],
)
def test_structurally_wrong_networks_rejected(notation):
    with pytest.raises(ValueError, match="network"):
        models.make(notation, neuron="LIF", in_shape=(1, 28, 28), num_classes=10, T=2)


def test_too_many_pools_for_the_input_rejected():
    with pytest.raises(ValueError, match="pool3"):
        models.make("8C3-(MP2)*3-100FC-AP10", neuron="LIF", in_shape=(1, 4, 4), num_classes=10, T=2)


@pytest.mark.parametrize(
    "shape", [(2, 1, 28, 28, 1), (2, 3, 28, 28), (2, 1, 32, 32), (3, 2, 1, 28, 28), (28, 28)]
)
def test_bad_input_shape_raises(shape, build):
    net = build("table1-mnist")
    with pytest.raises(ValueError, match="expected a static batch"):
        net(torch.rand(shape))
