"""The building blocks of every network: encoder, conv block, pooling, FC block, voting decoder.

Layout (ARCHITECTURE.md): blocks pass ``[T, B, ...]`` tensors to each other. Convolutions, BatchNorm, pooling
and linear layers run with time folded into the batch (``x.flatten(0, 1)`` -> ``[T*B, ...]``, a free view of
a contiguous tensor) as SpikingJelly's ``SeqToANNContainer`` does; only neurons see the time axis. BatchNorm
thus normalises over time and batch together (Fang et al. 2021, the networks Table 1 follows).

Each block that holds a neuron stores it as ``.sn``; :mod:`suite.models.probes` names a spiking layer by its
block's module path (``enc``, ``conv1``, ``fc1``, ``vote``, ``layer2.0.sn1`` ...).

Convolutions are followed by BatchNorm and so carry no bias (as in Fang et al.'s networks). Linear layers
carry a bias unless built with ``bias=False`` (the network option ``linear_bias``): the published PLIF runs
use ``nn.Linear(..., bias=False)``, SpikingJelly's re-implementation of the same networks PyTorch's default
``bias=True`` (docs/reference-protocol.md, section 1), and the KLIF paper does not say; True stays the
default so existing runs do not change.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def fold(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module`` applied to ``[T, B, ...]`` with time folded into the batch; returns ``[T, B, ...]``."""
    return module(x.flatten(0, 1)).unflatten(0, x.shape[:2])


class SeqDropout(nn.Module):
    """Dropout whose mask is drawn once per sample and shared by all T steps.

    A neuron whose input is dropped at some steps only would see a noisier current instead of being
    removed; SpikingJelly's multi-step ``layer.Dropout`` (used by Fang et al. 2021) shares the mask over
    time for this reason. Paper, Sec. 3.1: "Before each fully connected layer, a dropout operation with the
    drop probability P = 0.5 is added".
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty(x.shape[1:], dtype=x.dtype, device=x.device).bernoulli_(keep).div_(keep)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, mask shared over time"


ENCODER_NORMS = ("shared", "per-branch")  # where the coding layer's BatchNorm sits (Encoder's ``norm``)


class Encoder(nn.Module):
    """The coding layer of Sec. 2.4: N parallel k x k convolutions, summed, then a neuron.

    The paper: "We add up the values of the corresponding positions of the three convolutional layers before
    input to spiking neurons" (Sec. 2.4), and "The batch normalization operation is used to change the input
    distribution after each convolutional layer" (Sec. 3.1). Fig. 3, which would show where BatchNorm sits,
    is not in the text we have (docs/reference-protocol.md, section 3). The sum preceding the neuron is
    fixed; BatchNorm is ``norm``:

    - ``"shared"`` (default): the sum is read as one layer, so one BatchNorm acts on the summed output. The N
      convolutions keep their own weights (N x the parameters, each initialised as PyTorch does), but the
      forward pass runs one convolution with the summed weight: convolution is linear, so
      ``sum_i conv(x, W_i) = conv(x, sum_i W_i)`` exactly, and each ``W_i`` receives the same gradient either
      way. In effect a reparametrised single conv (the summed kernel starts with sqrt(N) x one conv's std and,
      under Adam, moves about N x as fast). Defensible as the default because it is the smallest reading that
      satisfies both sentences (each "convolutional layer" of the network, the encoder counted as one, is
      followed by BatchNorm) and because ``n = 1`` is then exactly Wu et al.'s / Fang et al.'s first conv.
    - ``"per-branch"``: BatchNorm after each convolution, then the sum: "after each convolutional layer" read
      literally. Each branch is normalised by its own batch statistics while training, so the layer does not
      reduce to one conv (it does at evaluation, into conv + bias); 2C x (N - 1) more parameters. It runs as
      one convolution with the N kernels stacked (N x C output channels) and one ``BatchNorm2d(N x C)``:
      BatchNorm is per channel, so that is exactly N independent BatchNorms, one per branch.

    ``n = 1`` is the plain first-conv encoder of Wu et al. / Fang et al. ("without coding layers", Table 3);
    both ``norm`` values then coincide.

    Static input ``[B, C, H, W]``: the image is constant over time and so is this layer's input current, so
    the convolution and BatchNorm run once on ``[B, ...]`` and the result is expanded (a view) to
    ``[T, B, ...]`` before the neuron (BatchNorm statistics over T identical copies equal those over one).
    Event input ``[T, B, C, H, W]``: each step is a different frame; it runs with time folded.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        kernel: int,
        n: int,
        new_neuron: Callable[[], nn.Module],
        stride: int = 1,
        norm: str = "shared",
    ):
        super().__init__()
        if norm not in ENCODER_NORMS:
            raise ValueError(f"encoder_norm={norm!r} is unknown; allowed: {', '.join(ENCODER_NORMS)}")
        self.norm = norm
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels, channels, kernel, stride=stride, padding=kernel // 2, bias=False)
            for _ in range(n)
        )
        self.bn = nn.BatchNorm2d(channels if norm == "shared" else n * channels)
        self.sn = new_neuron()

    def current(self, x: torch.Tensor) -> torch.Tensor:
        first = self.convs[0]
        if self.norm == "shared":
            weight = sum((c.weight for c in self.convs[1:]), first.weight)
            return self.bn(F.conv2d(x, weight, None, first.stride, first.padding))
        weight = torch.cat([c.weight for c in self.convs])  # [n*C, ...]: branch i is channels i*C .. (i+1)*C
        y = self.bn(F.conv2d(x, weight, None, first.stride, first.padding))
        return y.unflatten(1, (len(self.convs), -1)).sum(1)

    def forward(self, x: torch.Tensor, T: int) -> torch.Tensor:
        if x.dim() == 4:
            y = self.current(x)
            y = y.unsqueeze(0).expand(T, *y.shape)
        else:
            y = fold(self.current, x)
        return self.sn(y)

    def extra_repr(self) -> str:
        return f"norm={self.norm}"


class ConvBlock(nn.Module):
    """``nCk``: k x k convolution (stride 1, padding k // 2, no bias) + BatchNorm + neuron."""

    def __init__(self, in_channels: int, channels: int, kernel: int, new_neuron: Callable[[], nn.Module]):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, kernel, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.sn = new_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sn(fold(lambda z: self.bn(self.conv(z)), x))


class _MaxPoolKeepIndices(torch.autograd.Function):
    """Max-pooling with kernel = stride that keeps only the argmax indices for backward.

    ``F.max_pool2d``'s autograd also keeps its input, although its backward reads only the input's shape; in
    an SNN that input is a spike tensor nothing else keeps, so holding it costs one activation per pooling
    layer (and, packed, a cast back to float that is never read). With non-overlapping windows the gradient
    is the scatter of ``grad`` to the indices, which is exactly ``max_unpool2d`` (the same numbers as
    torch's backward, tested).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: int) -> torch.Tensor:
        y, indices = F.max_pool2d(x, kernel, kernel, return_indices=True)
        ctx.save_for_backward(indices)
        ctx.kernel, ctx.size = kernel, x.shape[-2:]
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (indices,) = ctx.saved_tensors
        return F.max_unpool2d(grad, indices, ctx.kernel, ctx.kernel, output_size=ctx.size), None


class MaxPool(nn.Module):
    """``MPn``: n x n max-pooling, stride n, time folded; keeps only the indices for backward."""

    def __init__(self, kernel: int):
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fold(lambda z: _MaxPoolKeepIndices.apply(z, self.kernel), x)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel}, stride={self.kernel}"


class FCBlock(nn.Module):
    """``nFC``: dropout (0.5, mask shared over time) + linear + neuron; flattens ``[T, B, C, H, W]`` first."""

    def __init__(
        self,
        in_features: int,
        features: int,
        new_neuron: Callable[[], nn.Module],
        dropout: float,
        bias: bool = True,
    ):
        super().__init__()
        self.drop = SeqDropout(dropout)
        self.fc = nn.Linear(in_features, features, bias=bias)
        self.sn = new_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() > 3:
            x = x.flatten(2)
        return self.sn(self.fc(self.drop(x)))


class VotingDecoder(FCBlock):
    """The voting decoder of Sec. 2.4 (from Wu et al. 2019 [27], as in Fang et al. 2021): ``(10nFC-AP10)``.

    An FC layer of ``voters x classes`` spiking neurons; each class owns ``voters`` consecutive neurons and
    its score is their mean firing rate over the T steps, ``[T, B, voters*classes] -> [B, classes]``. The mean
    over each group is ``AvgPool1d(voters, voters)`` written as a reshape (the same numbers, no unsqueeze).
    DVS128 Gesture: 110 neurons, 11 classes.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        new_neuron: Callable[[], nn.Module],
        dropout: float,
        voters: int = 10,
        bias: bool = True,
    ):
        super().__init__(in_features, voters * num_classes, new_neuron, dropout, bias)
        self.num_classes, self.voters = num_classes, voters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = super().forward(x)
        return s.unflatten(-1, (self.num_classes, self.voters)).mean(-1).mean(0)
