"""Measurements on a network for the figures and beyond the paper: k per layer, firing rates, synaptic
operations, parameter count.

Usage (the trainer)::

    probe = probes.attach(model)          # forward hooks; nothing is measured until batches run
    for x, y in loader: model(x)          # sums accumulate as tensors on the model's device
    probe.firing_rates()                  # {layer: mean spikes per neuron per time step}    (Fig. 6)
    probe.rate_percentiles()              # {layer: {5: .., 25: .., 50: .., 75: .., 95: ..}}  (per_neuron)
    probe.synops_per_sample()             # synaptic operations per sample
    probes.k_values(model)                # {layer: k} for neurons with a learnable k        (Fig. 5)
    probes.param_count(model)
    probe.reset()                         # start a new epoch; probe.remove() detaches the hooks

Layer names: the module path of the block holding the neuron (its ``.sn`` stripped): ``enc``, ``conv1``,
``fc1``, ``vote`` for the Table 1 networks and VGG-16, ``layer2.0.sn1`` etc. for ResNet-18.

Firing rate of a layer: its spikes summed over time, batch and neurons, divided by (T x B x neurons), over
every batch since the last reset: spikes per neuron per time step, in [0, 1]. With ``per_neuron=True`` the
probe also keeps each neuron's count, for the distribution over neurons that Fig. 6 plots
(:meth:`Probe.neuron_rates`, summarised by :meth:`Probe.rate_percentiles`); the flag may be switched on
between resets (the trainer does, for its last epoch's evaluation only).

Synaptic operations (SynOps), counted as NeuroBench's ``SynapticOperations`` does (Yik et al. 2024,
"effective" operations): every non-zero input element that reaches a synaptic layer (convolution or linear)
triggers one operation per synapse it drives, its fan-out. The count is exact, per input position: the
fan-out of an element is the number of (output element, kernel tap) pairs it takes part in, i.e. the
multiply-accumulates it feeds. For a linear layer that is ``out_features``; for a convolution it is
``out_channels / groups`` times the number of output positions whose receptive field covers the element,
which is smaller at the borders (zero padding feeds no synapse) and after a stride. A constant
``C_out * k * k`` per input would over-count: 2.25 x for a 3 x 3 convolution with padding 1 on a 2 x 2 map
(each input there feeds the 4 output positions, not 9). The per-position map is the gradient of the
all-ones layer's output sum with respect to an all-ones input (:func:`fan_out`): the layer is linear in its
input, so that gradient counts exactly the (output, tap) pairs of each element, for any stride, padding
(mode), dilation or groups. It is computed once per input shape and cached on the device; each forward then
costs one ``count_nonzero`` over the batch and a dot product with the map, in exact int64.

NeuroBench obtains the same number by running a copy of the layer with binarised input and weights and
summing its output; it also skips weights that are exactly zero, which a trained float network does not
have (pruned networks would differ; ours are dense). Counting at the synaptic layer's input (not at the
neuron's output) means a spike dropped by max-pooling or dropout costs nothing, as on hardware. The encoder
is left out: it reads the analog image (multiply-accumulates, once per sample, not spikes). In the ANN the
same count gives the effective MACs of the ReLU activations. Synaptic layers see time folded into the batch
(``[T*B, ...]``) or ``[T, B, features]``: every leading dim is summed, so the count covers all T steps;
reported per sample (divided by the batch size the model returned), averaged over the batches probed.

Cost: one reduction per spiking layer and one ``count_nonzero`` (+ a dot with the cached map) per synaptic
layer per forward pass; the sums stay on the device (no ``.item()``, no host sync) until a result is asked for.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from suite.models.layers import Encoder
from suite.neurons import SpikingNeuron

__all__ = ["Probe", "attach", "fan_out", "k_values", "layer_name", "param_count", "spiking_layers"]

PERCENTILES = (
    5,
    25,
    50,
    75,
    95,
)  # of the per-neuron rates: Fig. 6's boxes (5-95 whiskers, quartiles, median)
SYNAPTIC = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)  # the layers whose inputs cost synaptic operations


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


def fan_out(module: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    """Synapses driven by each input element of a linear or convolution layer, exactly (int64, CPU).

    ``shape`` is one sample's input without the batch: ``(features,)`` for a linear layer, ``(C, H, W)``
    for a 2-D convolution. Returns a tensor of that shape: the gradient, with respect to an all-ones input,
    of the summed output of the layer with all-ones weights and no bias. The layer is linear in its input, so
    entry i counts the (output element, kernel tap) pairs input element i enters, borders, stride, dilation,
    padding mode and groups included.
    """
    if not isinstance(module, SYNAPTIC):
        raise ValueError(
            f"fan_out: {type(module).__name__} is not a synaptic layer; allowed: Linear, Conv1d/2d/3d"
        )
    shape = tuple(int(n) for n in shape)
    if len(shape) != module.weight.dim() - 1:
        raise ValueError(f"fan_out: input shape {shape} does not fit {module}")
    with torch.enable_grad(), torch.autocast("cpu", enabled=False):
        x = torch.ones((1, *shape), dtype=torch.float64, requires_grad=True)
        ones = torch.ones(module.weight.shape, dtype=torch.float64)
        y = F.linear(x, ones) if isinstance(module, nn.Linear) else module._conv_forward(x, ones, None)
        (grad,) = torch.autograd.grad(y.sum(), x)
    return grad[0].round().to(torch.int64)


def _synaptic_layers(model: nn.Module) -> dict[str, nn.Module]:
    encoders = [p for p, m in model.named_modules() if isinstance(m, Encoder)]
    return {
        p: m
        for p, m in model.named_modules()
        if isinstance(m, SYNAPTIC) and not any(p.startswith(e + ".") for e in encoders)
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
            self._handles.append(layer.register_forward_pre_hook(self._synapse_hook(path, layer)))
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

    def _synapse_hook(self, path: str, layer: nn.Module):
        dims = layer.weight.dim() - 1  # one sample's input dims: 1 for linear, C, H, W for a 2-D conv
        maps: dict[tuple, torch.Tensor] = {}  # (input shape, device) -> fan-out map, built on first use

        def hook(module, inputs):
            if not self.enabled:
                return
            x = inputs[0].detach()
            shape = tuple(x.shape[-dims:])
            fan = maps.get((shape, x.device))
            if fan is None:
                fan = maps[(shape, x.device)] = fan_out(module, shape).to(x.device)
            active = torch.count_nonzero(x.reshape(-1, *shape), dim=0)  # per input element, over T and B
            ops = (active * fan).sum()
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

    def rate_percentiles(self, percentiles=PERCENTILES) -> dict[str, dict[int, float]]:
        """``{layer: {p: p-th percentile of the per-neuron rates}}`` (linear interpolation); needs
        ``per_neuron``. A handful of numbers per layer instead of every neuron: what a run can log as
        metrics and a figure can draw as a box, pooled over seeds, without shipping per-neuron arrays."""
        return {
            n: dict(zip(percentiles, np.percentile(r.double().numpy().ravel(), percentiles).tolist()))
            for n, r in self.neuron_rates().items()
        }

    def synops_per_layer(self) -> dict[str, float]:
        """``{synaptic layer module path: operations per sample}``."""
        return {p: int(v) / self.samples for p, v in self._synops.items()} if self.samples else {}

    def synops_per_sample(self) -> float:
        """Synaptic operations per sample, all synaptic layers but the encoder; 0 before any batch."""
        if not self.samples or not self._synops:
            return 0.0
        return int(torch.stack(list(self._synops.values())).sum()) / self.samples


def attach(model: nn.Module, per_neuron: bool = False) -> Probe:
    """Hook a :class:`Probe` onto ``model`` (firing rates, SynOps); ``probe.remove()`` takes it off."""
    return Probe(model, per_neuron=per_neuron)
