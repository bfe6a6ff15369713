"""A network built from a Table 1 notation string (:mod:`suite.models.notation`).

Meaning of each layer (paper, Table 1 note and Sec. 3.1; Fang et al. 2021 for what the paper leaves open):

- the first layer is the encoder (:class:`~suite.models.layers.Encoder`): written ``(nC3+nC3+nC3)`` in
  Table 1, or a single ``nC3``. Its channel count comes from the string; the number of parallel
  convolutions is the network's ``encoder`` argument (the paper's 3 by default, 1 = "without coding
  layers", Table 3), so the printed count of the group is the paper's default and ``encoder`` overrides it;
- ``nCk`` = conv + BatchNorm + neuron; ``MPn`` = max-pool; ``nFC`` = dropout 0.5 + linear + neuron;
- the string ends with ``mFC-APn``, the voting decoder (:class:`~suite.models.layers.VotingDecoder`): ``m``
  must equal ``n x num_classes`` (100 = 10 x 10 classes; 110 for DVS128 Gesture's 11).

The width multiplier scales every channel count and every FC width except the voting FC.

Blocks are named by kind and 1-based position: ``enc``, ``conv1``, ``conv2``, ..., ``pool1``, ..., ``fc1``,
..., ``vote``; these are the layer names the probes report (Fig. 5's k per layer, Fig. 6's rates).
"""

from __future__ import annotations

import torch

from suite.models.layers import ConvBlock, Encoder, FCBlock, MaxPool, VotingDecoder
from suite.models.network import Network, scaled
from suite.models.notation import FC, Conv, Parallel, Pool, Vote, parse


class NotationNet(Network):
    def __init__(self, notation: str, **kwargs):
        super().__init__(**kwargs)
        self.notation = notation
        layers = parse(notation)
        self._check_structure(layers)
        c, h, w = self.in_shape
        first = layers[0]
        conv = first.branches[0] if isinstance(first, Parallel) else first
        self.add_module(
            "enc",
            Encoder(
                c,
                self.scale(conv.channels),
                conv.kernel,
                self.encoder_n,
                self.new_neuron,
                norm=self.encoder_norm,
            ),
        )
        c = self.scale(conv.channels)
        counts = {"conv": 0, "pool": 0, "fc": 0}
        features = None  # set by the first FC: the flattened size
        body = layers[1:-2]
        for layer in body:
            kind = {Conv: "conv", Pool: "pool", FC: "fc"}[type(layer)]
            counts[kind] += 1
            name = f"{kind}{counts[kind]}"
            if isinstance(layer, Conv):
                self.add_module(name, ConvBlock(c, self.scale(layer.channels), layer.kernel, self.new_neuron))
                c = self.scale(layer.channels)
            elif isinstance(layer, Pool):
                h, w = h // layer.kernel, w // layer.kernel
                if h < 1 or w < 1:
                    raise ValueError(
                        f"network {notation!r}: pooling {name} (MP{layer.kernel}) shrinks "
                        f"in_shape={self.in_shape} below 1 x 1; the input is too small for this network"
                    )
                self.add_module(name, MaxPool(layer.kernel))
            else:
                n_in = c * h * w if features is None else features
                features = self.scale(layer.features)
                self.add_module(
                    name, FCBlock(n_in, features, self.new_neuron, self.dropout, self.linear_bias)
                )
        fc, vote = layers[-2], layers[-1]
        if fc.features != vote.voters * self.num_classes:
            raise ValueError(
                f"network {notation!r}: the voting layer {fc.features}FC-AP{vote.voters} gives "
                f"{fc.features / vote.voters:g} classes, but num_classes={self.num_classes}; "
                f"write {vote.voters * self.num_classes}FC-AP{vote.voters}"
            )
        n_in = c * h * w if features is None else features
        self.add_module(
            "vote",
            VotingDecoder(
                n_in, self.num_classes, self.new_neuron, self.dropout, vote.voters, self.linear_bias
            ),
        )

    def scale(self, n: int) -> int:
        return scaled(n, self.width)

    def _check_structure(self, layers) -> None:
        """The shape of a Table 1 network: encoder conv, convs and pools, FCs, then ``mFC-APn`` last."""

        def bad(why: str) -> ValueError:
            return ValueError(f"network {self.notation!r}: {why}")

        if not isinstance(layers[0], (Conv, Parallel)):
            raise bad(
                f"must start with the encoder convolution (nC3 or (nC3+nC3+nC3)), not {str(layers[0])!r}"
            )
        if any(isinstance(layer, Parallel) for layer in layers[1:]):
            raise bad("a parallel group (a+b+...) is allowed only as the first layer, the encoder")
        if len(layers) < 3 or not (isinstance(layers[-1], Vote) and isinstance(layers[-2], FC)):
            raise bad("must end with the voting decoder 'mFC-APn' (e.g. 100FC-AP10 for 10 classes)")
        if any(isinstance(layer, Vote) for layer in layers[:-1]):
            raise bad("APn (the voting pool) may only be the last layer")
        seen_fc = False
        for layer in layers[1:-1]:
            if isinstance(layer, FC):
                seen_fc = True
            elif seen_fc:
                raise bad(
                    f"{str(layer)!r} follows a fully connected layer; convolutions and pools must come first"
                )

    def run(self, x: torch.Tensor) -> torch.Tensor:
        modules = iter(self.children())
        x = next(modules)(x, self.T)  # the encoder
        for block in modules:
            x = block(x)
        return x

    def extra_repr(self) -> str:
        args = (
            f"neuron={self.neuron}, T={self.T}, width={self.width}, encoder={self.encoder_n}, "
            f"encoder_norm={self.encoder_norm}, linear_bias={self.linear_bias}"
        )
        return f"{self.notation!r}, {args}"
