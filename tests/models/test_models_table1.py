"""Table 1's networks, counted from their layer sizes at width 1, independently of the code.

Expected counts are written as arithmetic over the layers (docs/reference-protocol.md, "Parameter counts, width
1", hand-computed from Fang et al.'s code and Table 1): conv 3 x 3 without bias, then BatchNorm (2C
parameters; running stats are buffers); the encoder = 3 such convs and one BatchNorm; linear layers with bias
(the default ``linear_bias=True``); the neurons' own parameters excluded (LIF has none; KLIF adds one k per
spiking layer). Reading (a) = the default names, reading (b) = ``-literal``.
"""

from __future__ import annotations

import pytest
import torch

import suite.models as models

C = 128  # the encoder's channels in every Table 1 network


def conv(cin: int, cout: int) -> int:
    return cin * cout * 9 + 2 * cout


def enc(cin: int, n: int = 3) -> int:
    return n * cin * C * 9 + 2 * C


def fc(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


# name: (count from the layer sizes, the number docs/reference-protocol.md states, FC widths, spiking layers)
EXPECTED = {
    "table1-mnist": (
        enc(1) + conv(128, 128) + fc(128 * 7 * 7, 2048) + fc(2048, 100),
        13_203_428,
        (2048, 100),
        4,
    ),
    "table1-mnist-literal": (
        enc(1) + conv(128, 128) + fc(128 * 14 * 14, 2048) + fc(2048, 100),
        51_738_596,
        (2048, 100),
        4,
    ),
    "table1-nmnist": (
        enc(2) + conv(128, 128) + fc(128 * 8 * 8, 2048) + fc(2048, 100),
        17_139_044,
        (2048, 100),
        4,
    ),
    "table1-nmnist-literal": (
        enc(2) + conv(128, 128) + fc(128 * 17 * 17, 2048) + fc(2048, 100),
        76_121_444,
        (2048, 100),
        4,
    ),
    "table1-cifar10": (
        enc(3) + conv(128, 256) + 4 * conv(256, 256) + fc(256 * 8 * 8, 2048) + fc(2048, 100),
        36_428_772,
        (2048, 100),
        8,
    ),
    "table1-cifar10-literal": (
        enc(3) + conv(128, 256) + 5 * conv(256, 256) + fc(256 * 8 * 8, 2048) + fc(2048, 100),
        37_019_108,
        (2048, 100),
        9,
    ),
    "table1-cifar10-dvs": (
        enc(2) + 3 * conv(128, 128) + fc(128 * 8 * 8, 512) + fc(512, 100),
        4_696_420,
        (512, 100),
        6,
    ),
    "table1-cifar10-dvs-literal": (
        enc(2) + 3 * conv(128, 128) + fc(128 * 16 * 16, 512) + fc(512, 100),
        17_279_332,
        (512, 100),
        6,
    ),
    "table1-dvs-gesture": (
        enc(2) + 4 * conv(128, 128) + fc(128 * 4 * 4, 512) + fc(512, 110),
        1_703_534,
        (512, 110),
        7,
    ),
    "table1-dvs-gesture-literal": (
        enc(2) + 4 * conv(128, 128) + fc(128 * 8 * 8, 512) + fc(512, 110),
        4_849_262,
        (512, 110),
        7,
    ),
}


def count(name: str, neuron: str = "LIF", **options) -> int:
    """Parameters of ``name`` at width 1, built on the meta device (shapes only, nothing allocated)."""
    ex = models.entry(name).example
    with torch.device("meta"):
        net = models.make(
            name, neuron=neuron, in_shape=ex.in_shape, num_classes=ex.num_classes, T=2, **options
        )
    return models.probes.param_count(net)


def test_every_table1_network_is_counted():
    assert set(EXPECTED) == {n for n in models.names() if n.startswith("table1-")}


@pytest.mark.parametrize("name", EXPECTED)
def test_parameter_count_from_the_layer_sizes(name):
    arithmetic, stated, _, _ = EXPECTED[name]
    assert arithmetic == stated, "the arithmetic and docs/reference-protocol.md agree"
    assert count(name) == arithmetic


@pytest.mark.parametrize("name", EXPECTED)
def test_klif_adds_one_k_per_spiking_layer(name):
    assert count(name, neuron="KLIF") - count(name) == EXPECTED[name][3]


@pytest.mark.parametrize("name", EXPECTED)
def test_linear_bias_off_removes_exactly_the_fc_biases(name):
    assert count(name) - count(name, linear_bias=False) == sum(EXPECTED[name][2])


@pytest.mark.parametrize("name", EXPECTED)
def test_per_branch_encoder_norm_adds_two_batchnorms(name):
    assert count(name, encoder_norm="per-branch") - count(name) == 4 * C


def test_one_encoder_branch_is_fang_et_al_first_conv():
    """encoder=1 drops two of the three kernels and nothing else (Table 3's "without coding layers")."""
    assert count("table1-mnist") - count("table1-mnist", encoder=1) == 2 * 1 * C * 9
