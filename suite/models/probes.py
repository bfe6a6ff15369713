"""Measurements on a network for the figures and beyond the paper: k per layer, firing rates, synaptic
operations, parameter count.

Usage (the trainer)::

    probe = probes.attach(model)          # forward hooks; nothing is measured until batches run
    for x, y in loader: model(x)          # sums accumulate as tensors on the model's device
    probe.firing_rates()                  # {layer: mean spikes per neuron per time step}    (Fig. 6)
    probe.synops_per_sample()             # synaptic operations per sample
    probes.k_values(model)                # {layer: k} for neurons with a learnable k        (Fig. 5)
    probes.param_count(model)
    probe.reset()                         # start a new epoch; probe.remove() detaches the hooks

Layer names: the module path of the block holding the neuron (its ``.sn`` stripped): ``enc``, ``conv1``,
``fc1``, ``vote`` for the Table 1 networks and VGG-16, ``layer2.0.sn1`` etc. for ResNet-18.

Firing rate of a layer: its spikes summed over time, batch and neurons, divided by (T x B x neurons), over
every batch since the last reset: spikes per neuron per time step, in [0, 1]. With ``per_neuron=True`` the
probe also keeps each neuron's count, for the distribution over neurons that Fig. 6 plots
(:meth:`Probe.neuron_rates`).

Synaptic operations (SynOps), counted as NeuroBench does (Yik et al. 2024, "effective" operations): every
non-zero input that reaches a synaptic layer (convolution or linear) triggers one operation per synapse it
feeds, its fan-out. Fan-out: ``out_features`` for a linear layer; ``out_channels * k_h * k_w / (s_h * s_w)``
for a convolution with kernel k and stride s (divided by the groups, if any), which ignores the borders (an
input pixel at the edge feeds fewer outputs) and so slightly over-counts. Counting at the synaptic layer's
input (not at the neuron's output) means a spike dropped by max-pooling or dropout costs nothing, as on
hardware. The encoder is left out: it
reads the analog image (multiply-accumulates, once per sample, not spikes). In the ANN the same count gives
the effective MACs of the ReLU activations. Reported per sample, averaged over the batches probed.

Cost: one reduction per spiking layer and one ``count_nonzero`` per synaptic layer per forward pass; the
sums stay on the device (no ``.item()``, no host sync) until a result is asked for.
"""

from __future__ import annotations

import torch
from torch import nn

from suite.models.layers import Encoder
from suite.neurons import SpikingNeuron

__all__ = ["Probe", "attach", "fan_out", "k_values", "layer_name", "param_count", "spiking_layers"]


def layer_name(path: str) -> str:
    """The stable name of the spiking layer whose neuron sits at module path ``path``."""
    return path[: -len(".sn")] if path.endswith(".sn") else path


def spiking_layers(model: nn.Module) -> dict[str, SpikingNeuron]:
    """``{layer name: neuron module}`` in forward order; empty for the ANN (ReLU has no spikes)."""
    return {layer_name(p): m for p, m in model.named_modules() if isinstance(m, SpikingNeuron)}


def k_values(model: nn.Module) -> dict[str, float]:
    """``{layer name: k}`` for every layer whose neuron learns k (KLIF and variants; none for LIF)."""
    return {n: float(m.k.detach()) for n, m in spiking_layers(model).items() if m.variant.learn_k}


def param_count(model: nn.Module, trainable: bool = True) -> int:
    """Number of parameters (scalars), by default those that require grad."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def fan_out(module: nn.Module) -> float:
    """Synapses fed by one input element of a linear or convolution layer (borders ignored)."""
    if isinstance(module, nn.Linear):
        return float(module.out_features)
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        sh, sw = module.stride
        return module.out_channels / module.groups * kh * kw / (sh * sw)
    raise ValueError(f"fan_out: {type(module).__name__} is not a synaptic layer; allowed: Linear, Conv2d")


def _synaptic_layers(model: nn.Module) -> dict[str, nn.Module]:
    encoders = [p for p, m in model.named_modules() if isinstance(m, Encoder)]
    return {
        p: m
        for p, m in model.named_modules()
        if isinstance(m, (nn.Linear, nn.Conv2d)) and not any(p.startswith(e + ".") for e in encoders)
    }


class Probe:
    """Forward hooks on a model's neurons and synaptic layers; create with :func:`attach`."""

    def __init__(self, model: nn.Module, per_neuron: bool = False):
        self.per_neuron = per_neuron
        self.enabled = True
        self._handles = []
        self.reset()
        for name, neuron in spiking_layers(model).items():
            self._handles.append(neuron.register_forward_hook(self._spike_hook(name)))
        for path, layer in _synaptic_layers(model).items():
            self._handles.append(layer.register_forward_pre_hook(self._synapse_hook(path, fan_out(layer))))
        self._handles.append(model.register_forward_hook(self._sample_hook))

    def reset(self) -> None:
        """Forget everything measured so far (e.g. at the start of an epoch)."""
        self._spikes: dict[str, torch.Tensor] = {}
        self._steps: dict[str, int] = {}  # neuron-steps seen: T * B * neurons
        self._per_neuron: dict[str, torch.Tensor] = {}
        self._per_neuron_steps: dict[str, int] = {}  # T * B
        self._synops: dict[str, torch.Tensor] = {}
        self.samples = 0

    def remove(self) -> None:
        """Detach every hook; the model runs as if never probed."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def _spike_hook(self, name: str):
        def hook(module, inputs, out):
            if not self.enabled:
                return
            s = out.detach()
            total = s.sum(dtype=torch.float64)
            self._spikes[name] = total if name not in self._spikes else self._spikes[name] + total
            self._steps[name] = self._steps.get(name, 0) + s.numel()
            if self.per_neuron:
                each = s.sum(dim=(0, 1), dtype=torch.float64)
                self._per_neuron[name] = (
                    each if name not in self._per_neuron else self._per_neuron[name] + each
                )
                self._per_neuron_steps[name] = self._per_neuron_steps.get(name, 0) + s.shape[0] * s.shape[1]

        return hook

    def _synapse_hook(self, path: str, fan: float):
        def hook(module, inputs):
            if not self.enabled:
                return
            ops = torch.count_nonzero(inputs[0].detach()).to(torch.float64) * fan
            self._synops[path] = ops if path not in self._synops else self._synops[path] + ops

        return hook

    def _sample_hook(self, module, inputs, out):
        if self.enabled:
            self.samples += out.shape[0]

    def firing_rates(self) -> dict[str, float]:
        """``{layer: spikes per neuron per time step}`` over the batches since the last reset."""
        return {n: float(s) / self._steps[n] for n, s in self._spikes.items()}

    def neuron_rates(self) -> dict[str, torch.Tensor]:
        """``{layer: per-neuron rate}``, CPU tensors shaped like one sample's layer; needs ``per_neuron``."""
        if not self.per_neuron:
            raise ValueError("neuron_rates() needs attach(model, per_neuron=True)")
        return {n: (s / self._per_neuron_steps[n]).float().cpu() for n, s in self._per_neuron.items()}

    def synops_per_layer(self) -> dict[str, float]:
        """``{synaptic layer module path: operations per sample}``."""
        return {p: float(v) / self.samples for p, v in self._synops.items()} if self.samples else {}

    def synops_per_sample(self) -> float:
        """Synaptic operations per sample, all synaptic layers but the encoder; 0 before any batch."""
        if not self.samples or not self._synops:
            return 0.0
        return float(torch.stack(list(self._synops.values())).sum()) / self.samples


def attach(model: nn.Module, per_neuron: bool = False) -> Probe:
    """Hook a :class:`Probe` onto ``model`` (firing rates, SynOps); ``probe.remove()`` takes it off."""
    return Probe(model, per_neuron=per_neuron)
