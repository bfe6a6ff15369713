"""Spiking ResNet-18 for CIFAR-10 (Table 3 and Table 5's second column).

The paper names "SNN version of ... ResNet-18" (Sec. 3.2) without defining it. We take the common CIFAR
ResNet-18 of kuangliu/pytorch-cifar (``models/resnet.py``, He et al. 2016 adapted to 32 x 32 inputs): a 3 x 3
stem of 64 channels without max-pooling, four stages of two BasicBlocks with 64, 128, 256, 512 channels and
strides 1, 2, 2, 2, a 1 x 1 conv + BatchNorm shortcut where the shape changes, global average pooling. The
spiking version (as in Zheng et al. 2021's tdBN ResNets and SpikingJelly's ``spiking_resnet``):

- every ReLU becomes the neuron; the residual is added to the BatchNorm output *before* the block's second
  neuron, ``sn2(bn2(conv2(sn1(bn1(conv1(x))))) + shortcut(x))``, so blocks exchange spikes;
- the stem is the encoder (:class:`~suite.models.layers.Encoder`): N parallel 3 x 3 convs summed when
  ``encoder > 1`` (Table 3, "with coding layers"), run once on a static image;
- the classifier is the voting decoder of Table 1 (:class:`~suite.models.layers.VotingDecoder`: dropout 0.5,
  FC to 10 x classes neurons, AvgPool1d(10), mean rate over T) instead of ``Linear(512, classes)``;
- global average pooling is adaptive (1 x 1 output), which equals kuangliu's ``avg_pool2d(out, 4)`` on
  32 x 32 inputs and also fits larger frames.

The width multiplier scales every channel count. Spiking layer names: ``enc``, ``layer{s}.{b}.sn1``,
``layer{s}.{b}.sn2`` (stage s = 1..4, block b = 0, 1), ``vote``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from suite.models.layers import Encoder, VotingDecoder, fold
from suite.models.network import Network, scaled

STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))
BLOCKS = (2, 2, 2, 2)


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, stride: int, new_neuron: Callable[[], nn.Module]):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.sn1 = new_neuron()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels)
            )
        self.sn2 = new_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.sn1(fold(lambda z: self.bn1(self.conv1(z)), x))
        out = fold(lambda z: self.bn2(self.conv2(z)), out) + fold(self.shortcut, x)
        return self.sn2(out)


class ResNet18(Network):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        c = scaled(STAGES[0][0], self.width)
        self.enc = Encoder(self.in_shape[0], c, 3, self.encoder_n, self.new_neuron, norm=self.encoder_norm)
        for s, ((channels, stride), n) in enumerate(zip(STAGES, BLOCKS), start=1):
            out = scaled(channels, self.width)
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(c, out, stride if b == 0 else 1, self.new_neuron))
                c = out
            self.add_module(f"layer{s}", nn.Sequential(*blocks))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.vote = VotingDecoder(c, self.num_classes, self.new_neuron, self.dropout, bias=self.linear_bias)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        x = self.enc(x, self.T)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.vote(fold(self.pool, x))

    def extra_repr(self) -> str:
        return (
            f"neuron={self.neuron}, T={self.T}, width={self.width}, encoder={self.encoder_n}, "
            f"encoder_norm={self.encoder_norm}, linear_bias={self.linear_bias}"
        )
