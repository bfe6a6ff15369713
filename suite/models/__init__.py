"""Networks, looked up by name: ``make(name, *, neuron, in_shape, num_classes, T, ...) -> nn.Module``.

Each registry entry is data: a Table 1 notation string (:mod:`suite.models.notation`, built by
:class:`~suite.models.notation_net.NotationNet`) or, for ResNet-18 whose shortcuts the notation cannot write,
a class. The five Table 1 networks are registered as exactly the strings the paper prints, with the
"(encoding)"/"(decoding)" annotations dropped and the OCR typo "API0" read as AP10, so code and paper read the
same. Any other notation string is accepted as ``name`` too, so a study can try a new architecture.

Input and output contract, ``neuron="ANN"``: :mod:`suite.models.network`. Layers: :mod:`suite.models.layers`.
Probes (k per layer, firing rates, synaptic operations, parameter count): :mod:`suite.models.probes`.

Discrepancies with the networks Table 1 says it follows (Fang et al. 2021, "Incorporating learnable membrane
time constant ...", ICCV; code: SpikingJelly ``activation_based/model/parametric_lif_net.py``), kept because
we register the printed strings:

- MNIST / Fashion-MNIST / N-MNIST: Fang et al. use ``{128C3-MP2}*2`` (7 x 7 x 128 into 2048FC, 8 x 8 for
  N-MNIST's 34 x 34). Table 1 replaces the first conv with the encoder and drops its pooling: one MP2, so
  128 x 14 x 14 = 25088 inputs into 2048FC (51.4 M weights; 17 x 17 for N-MNIST).
- CIFAR-10: Fang et al. have ``{256C3*3-MP2}*2`` with the first conv reading the image; Table 1 puts a
  128-channel encoder in front of those six convs (seven conv layers in all).
- CIFAR10-DVS / DVS128 Gesture: Fang et al. use ``{128C3-MP2}*4`` and ``*5`` (8 x 8 and 4 x 4 before the FC);
  Table 1's encoder replaces the first conv without its pooling, ``*3`` and ``*4``: 16 x 16 and 8 x 8 on
  128 x 128 frames (32768 and 8192 inputs into 512FC).

VGG-16 and ResNet-18 (Table 3, Table 5; not defined by the paper) are the common CIFAR versions of
kuangliu/pytorch-cifar: VGG-16 = config [64, 64, M, 128, 128, M, 256 x 3, M, 512 x 3, M, 512 x 3, M] with
BatchNorm (written below in the notation), ResNet-18 in :mod:`suite.models.resnet`. Both take the neuron in
place of ReLU, their first conv is the encoder, and their classifier is the voting decoder (dropout 0.5,
100FC, AP10) in place of ``Linear(512, 10)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from suite.models import probes
from suite.models.network import ANN, Network
from suite.models.notation import parse
from suite.models.notation_net import NotationNet
from suite.models.resnet import ResNet18
from suite.registry import lookup


@dataclass(frozen=True)
class Example:
    """The input a registered network was designed for (used by the tests and as documentation)."""

    dataset: str
    in_shape: tuple[int, int, int]
    num_classes: int
    events: bool


@dataclass(frozen=True)
class NetworkEntry:
    doc: str
    example: Example
    notation: str | None = None  # a Table 1 string, built by NotationNet
    cls: type[Network] | None = None  # or a class taking Network's keyword arguments

    def build(self, **kwargs) -> Network:
        return NotationNet(self.notation, **kwargs) if self.notation is not None else self.cls(**kwargs)


_MNIST = "(128C3+128C3+128C3)-128C3-MP2-2048FC-(100FC-AP10)"
VGG16 = "64C3-64C3-MP2-(128C3)*2-MP2-(256C3)*3-MP2-(512C3)*3-MP2-(512C3)*3-MP2-(100FC-AP10)"

_NETWORKS: dict[str, NetworkEntry] = {
    "table1-mnist": NetworkEntry(
        "Table 1, MNIST and Fashion-MNIST (T = 8)", Example("mnist", (1, 28, 28), 10, False), _MNIST
    ),
    "table1-nmnist": NetworkEntry(
        "Table 1, N-MNIST (T = 10)", Example("nmnist", (2, 34, 34), 10, True), _MNIST
    ),
    "table1-cifar10": NetworkEntry(
        "Table 1, CIFAR-10 (T = 10)",
        Example("cifar10", (3, 32, 32), 10, False),
        "(128C3+128C3+128C3)-(256C3-256C3-256C3-MP2)*2-2048FC-(100FC-AP10)",
    ),
    "table1-cifar10-dvs": NetworkEntry(
        "Table 1, CIFAR10-DVS (T = 15)",
        Example("cifar10-dvs", (2, 128, 128), 10, True),
        "(128C3+128C3+128C3)-(128C3-MP2)*3-512FC-(100FC-AP10)",
    ),
    "table1-dvs-gesture": NetworkEntry(
        "Table 1, DVS128 Gesture (T = 12)",
        Example("dvs-gesture", (2, 128, 128), 11, True),
        "(128C3+128C3+128C3)-(128C3-MP2)*4-512FC-(110FC-AP10)",
    ),
    "vgg16": NetworkEntry(
        "SNN VGG-16 for CIFAR-10 (Table 3, 5; kuangliu/pytorch-cifar)",
        Example("cifar10", (3, 32, 32), 10, False),
        VGG16,
    ),
    "resnet18": NetworkEntry(
        "SNN ResNet-18 for CIFAR-10 (Table 3, 5; kuangliu/pytorch-cifar)",
        Example("cifar10", (3, 32, 32), 10, False),
        cls=ResNet18,
    ),
}

PARAMS = ("neuron_params", "dropout", "pack_spikes")
OPTIONS = ("width", "encoder", *PARAMS)  # Network's keyword arguments beyond the four it needs


def names() -> list[str]:
    return list(_NETWORKS)


def entry(name: str) -> NetworkEntry:
    """The registry entry of ``name`` (its notation or class, doc, and the input it was designed for)."""
    return lookup(_NETWORKS, name, "network")


def make(
    name: str, *, neuron: str, in_shape: Sequence[int], num_classes: int, T: int, **options
) -> nn.Module:
    """Build network ``name`` (a registered name or a notation string) with ``neuron`` in every spiking layer.

    ``options``: ``width`` (default 1.0), ``encoder`` (parallel convs of the coding layer, default 3),
    ``neuron_params`` (dict for :func:`suite.neurons.make`, e.g. surrogate, alpha, detach_reset),
    ``dropout`` (default 0.5, Sec. 3.1) and ``pack_spikes`` (default True, :mod:`suite.models.packing`).
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"network {name!r}: unknown parameter(s) {unknown}; allowed: {', '.join(PARAMS)}")
    kwargs = dict(neuron=neuron, in_shape=in_shape, num_classes=num_classes, T=T, **options)
    if name in _NETWORKS:
        return _NETWORKS[name].build(**kwargs)
    if not isinstance(name, str):
        raise ValueError(f"network name {name!r} must be a string")
    try:
        parse(name)
    except ValueError as err:
        raise ValueError(
            f"unknown network {name!r}: neither a registered name ({', '.join(names())}) "
            f"nor valid notation ({err})"
        ) from None
    return NotationNet(name, **kwargs)


__all__ = ["ANN", "Example", "Network", "NetworkEntry", "PARAMS", "VGG16", "entry", "make", "names", "probes"]
