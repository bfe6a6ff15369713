"""Spikes saved for backward are stored as ``bool``: 1 byte per element instead of 4.

Why: a convolution saves its input for the backward pass (for the weight gradient). In an SNN that input
is a spike tensor ``[T*B, ...]``, exactly 0 or 1, held in float32; with the neuron's own saved input (the
fused kernel keeps its input current, :mod:`suite.neurons.kernel`) an SNN conv block holds three
activation-sized tensors where the ANN holds two (BatchNorm input and ReLU output, which the next layer
shares). Keeping the spikes as ``bool`` until the backward pass reads them brings the SNN's block to 2.25,
for one cheap cast on save and one on use (SpikingJelly's ``spike_op`` does the same for its spiking
convolutions). Max-pooling keeps no input at all (:class:`suite.models.layers.MaxPool`), and its output is
spikes too (the max of 0s and 1s): in Fang et al.'s networks every conv after the first reads a pooled map,
so a pool's output is recorded as spikes when its input was.

How: :class:`SpikePacker` is a context a network enters around its forward pass. It records the output
tensors of the network's :class:`~suite.neurons.SpikingNeuron` layers (forward hooks, removed on exit) and
installs ``torch.autograd.graph.saved_tensors_hooks`` that pack any saved floating-point tensor sharing its
storage with a recorded spike tensor (the spikes themselves or a view such as ``flatten(0, 1)``) into
``bool``, and cast it back on unpack. Everything else is saved untouched. A recorded output is held by a weak
reference only, so the float spikes are freed as soon as the network is done with them; a tensor is packed
only while that reference is alive, which guarantees its memory still holds the spikes (a freed address
reused by another tensor is never mistaken for spikes). Nothing happens when autograd is off (evaluation) or the model has no spiking
neuron (the ANN). Spike values are exactly 0 and 1, so the round trip is lossless and gradients are
bit-identical (``tests/models`` checks this).
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import torch
from torch import nn

from suite.models.layers import MaxPool
from suite.neurons import SpikingNeuron


class _Packed(NamedTuple):
    bits: torch.Tensor
    dtype: torch.dtype


def _unpack(saved):
    return saved.bits.to(saved.dtype) if isinstance(saved, _Packed) else saved


class SpikePacker:
    """``with SpikePacker(model): out = ...`` stores the model's saved spike tensors as ``bool``."""

    def __init__(self, model: nn.Module, enabled: bool = True):
        self.neurons = [m for m in model.modules() if isinstance(m, SpikingNeuron)] if enabled else []
        self.pools = [m for m in model.modules() if isinstance(m, MaxPool)] if self.neurons else []
        self.live: dict[int, weakref.ref] = {}
        self._handles: list = []
        self._hooks = None

    def _record(self, module, inputs, out: torch.Tensor) -> None:
        self.live[out.untyped_storage().data_ptr()] = weakref.ref(out)

    def _record_pooled(self, module, inputs, out: torch.Tensor) -> None:
        if self._alive(inputs[0]):  # max-pooled spikes are spikes; pooled currents (ANN) are not
            self._record(module, inputs, out)

    def _alive(self, t: torch.Tensor) -> bool:
        ref = self.live.get(t.untyped_storage().data_ptr())
        return ref is not None and ref() is not None

    def _pack(self, t: torch.Tensor):
        if t.is_floating_point() and t.layout == torch.strided and self._alive(t):
            return _Packed(t.to(torch.bool), t.dtype)
        return t

    def __enter__(self) -> SpikePacker:
        if self.neurons and torch.is_grad_enabled():
            self._handles = [m.register_forward_hook(self._record) for m in self.neurons]
            self._handles += [m.register_forward_hook(self._record_pooled) for m in self.pools]
            self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, _unpack)
            self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._hooks is not None:
            self._hooks.__exit__(*exc)
            self._hooks = None
        for h in self._handles:
            h.remove()
        self._handles = []
        self.live.clear()
