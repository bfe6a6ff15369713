"""What every network of the suite shares: its constructor arguments and its input contract.

Input (ARCHITECTURE.md, "Tensor layouts"): a network tells static from event input by the number of dims,

- 4 dims, ``[B, C, H, W]``: a static image. The encoder sees it once and its output is repeated over the
  network's ``T`` time steps (:class:`suite.models.layers.Encoder`);
- 5 dims, ``[T, B, C, H, W]``: event frames, time first, ``T`` equal to the network's ``T``. Checking ``T``
  catches the batch-first layout ``[B, T, ...]`` that a default collate would produce.

``(C, H, W)`` must equal the ``in_shape`` the network was built for (the per-step frame shape for events).
The output is ``[B, num_classes]``: the mean firing rate over T of each class's voting population
(:class:`suite.models.layers.VotingDecoder`).

``neuron`` is any name of :func:`suite.neurons.names` (each spiking layer gets its own instance, built from
``neuron_params``), or ``"ANN"``: ``nn.ReLU`` in place of every neuron, with the time axis kept (T folded into
the batch around convolutions, exactly as for the SNN). That ANN is the baseline of the training-step
benchmark: the same graph and the same arithmetic as the SNN except the neuron, so the step-time and memory
ratios isolate what the neuron costs. ``neuron_params`` are ignored for the ANN, so one study can sweep
``neuron`` over spiking neurons and ``"ANN"`` with one set of neuron parameters.

``encoder_norm`` (``"shared"`` or ``"per-branch"``: where the coding layer's BatchNorm sits,
:class:`suite.models.layers.Encoder`) and ``linear_bias`` (bias in every linear layer, default True;
:mod:`suite.models.layers`) are the two readings the paper leaves open that change the parameters.

``pack_spikes`` (default on): spikes saved for backward are stored as bool (:mod:`suite.models.packing`).
Turn it off to compose the network with code that installs its own saved-tensor hooks or compiles the
whole model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import nn

import suite.neurons
from suite.models.layers import ENCODER_NORMS
from suite.models.packing import SpikePacker

ANN = "ANN"


def _check_int(what: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{what}={value!r} must be an integer >= {low}")
    return value


def neuron_factory(neuron: str, neuron_params: dict | None) -> Callable[[], nn.Module]:
    """A callable returning a fresh neuron layer per call; validates the name and parameters once, here."""
    params = dict(neuron_params or {})
    if neuron == ANN:
        return nn.ReLU
    if neuron not in suite.neurons.names():
        raise ValueError(f"unknown neuron {neuron!r}; allowed: {', '.join(suite.neurons.names())}, {ANN}")
    suite.neurons.make(neuron, **params)  # raises a ValueError naming a bad parameter
    return functools.partial(suite.neurons.make, neuron, **params)  # picklable, unlike a lambda


def scaled(n: int, width: float) -> int:
    """A channel count or FC width times the width multiplier, rounded, at least 1."""
    return max(1, round(n * width))


class Network(nn.Module):
    """Base class: validated constructor arguments and the input check; subclasses build the layers."""

    def __init__(
        self,
        *,
        neuron: str,
        in_shape: Sequence[int],
        num_classes: int,
        T: int,
        width: float = 1.0,
        encoder: int = 3,
        encoder_norm: str = "shared",
        neuron_params: dict | None = None,
        dropout: float = 0.5,
        linear_bias: bool = True,
        pack_spikes: bool = True,
    ):
        super().__init__()
        shape = tuple(in_shape) if isinstance(in_shape, (tuple, list, torch.Size)) else None
        if shape is None or len(shape) != 3 or not all(isinstance(s, int) and s >= 1 for s in shape):
            raise ValueError(f"in_shape={in_shape!r} must be (C, H, W): three positive integers")
        self.in_shape = shape
        self.num_classes = _check_int("num_classes", num_classes)
        self.T = _check_int("T", T)
        self.encoder_n = _check_int("encoder", encoder)
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
            raise ValueError(f"width={width!r} must be a number > 0")
        self.width = float(width)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be a probability in [0, 1)")
        self.dropout = float(dropout)
        if encoder_norm not in ENCODER_NORMS:
            raise ValueError(f"encoder_norm={encoder_norm!r} is unknown; allowed: {', '.join(ENCODER_NORMS)}")
        self.encoder_norm = encoder_norm
        if not isinstance(linear_bias, bool):
            raise ValueError(f"linear_bias={linear_bias!r} must be True or False")
        self.linear_bias = linear_bias
        if not isinstance(pack_spikes, bool):
            raise ValueError(f"pack_spikes={pack_spikes!r} must be True or False")
        self.pack_spikes = pack_spikes
        self.neuron = neuron
        self.new_neuron = neuron_factory(neuron, neuron_params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` or ``[T, B, C, H, W]`` -> class scores ``[B, num_classes]``."""
        self.check_input(x)
        with SpikePacker(self, self.pack_spikes):
            return self.run(x)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ``ValueError`` unless ``x`` is ``[B, *in_shape]`` or ``[T, B, *in_shape]``."""
        if x.dim() == 4:
            ok = tuple(x.shape[1:]) == self.in_shape
        elif x.dim() == 5:
            ok = tuple(x.shape[2:]) == self.in_shape and x.shape[0] == self.T
        else:
            ok = False
        if not ok:
            c, h, w = self.in_shape
            raise ValueError(
                f"input of shape {tuple(x.shape)} does not fit this network; expected a static batch "
                f"[B, {c}, {h}, {w}] or event frames [T={self.T}, B, {c}, {h}, {w}] (time first)"
            )
        if not x.is_floating_point():
            raise ValueError(f"input dtype {x.dtype} is not floating point")
