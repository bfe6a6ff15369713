"""Spiking neurons, looked up by name: ``make(name, **params) -> nn.Module`` over ``[T, B, ...]``.

Each name is a :class:`~suite.neurons.dynamics.Variant` (data) of the one generalised step in
:mod:`suite.neurons.dynamics`; see there for the equations. Paper defaults: tau = 2, V_th = 1, V_reset = 0,
hard reset, V0 = 0, ATan surrogate with alpha = 2 (eq. 9).
"""

from __future__ import annotations

import inspect

import torch

from suite.neurons import surrogates
from suite.neurons.dynamics import Variant
from suite.neurons.module import SpikingNeuron
from suite.registry import lookup

_VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("LIF", "leaky integrate-and-fire, eqs. 2-4"),
        Variant("KLIF", "F = ReLU(kH), learnable k, eqs. 2, 5-7", activation="relu", learn_k=True),
        Variant("k-only", "F = kH, no activation (Table 3 ablation)", learn_k=True),
        Variant("ReLU-only", "F = ReLU(H), k fixed at 1 (Table 3 ablation)", activation="relu"),
        Variant(
            "KLIF*", "KLIF whose reset keeps F/k, eq. 10 (Table 4)", "relu", learn_k=True, reset_div_k=True
        ),
        Variant("KLIF-CELU", "F = CELU(kH), alpha 1 (Table 5)", activation="celu", learn_k=True),
        Variant("KLIF-LeakyReLU", "F = LeakyReLU(kH), slope 0.01 (Table 5)", "leaky_relu", learn_k=True),
        Variant("PLIF", "LIF with learnable 1/tau = sigmoid(w), tau0 = 2 (Fang et al. 2021)", learn_tau=True),
        Variant("LIF-vth", "LIF with a learnable threshold (control for KLIF's V_th/k)", learn_vth=True),
    )
}

PARAMS = tuple(
    p for p in inspect.signature(SpikingNeuron.__init__).parameters if p not in ("self", "variant")
)


def names() -> list[str]:
    return list(_VARIANTS)


def variant(name: str) -> Variant:
    return lookup(_VARIANTS, name, "neuron")


def make(name: str, **params) -> SpikingNeuron:
    v = variant(name)
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ValueError(f"{name}: unknown neuron parameter(s) {unknown}; allowed: {', '.join(PARAMS)}")
    return SpikingNeuron(v, **params)


def project(model: torch.nn.Module) -> None:
    """Put every learnable k of ``model`` back inside its bounds."""
    for m in model.modules():
        if isinstance(m, SpikingNeuron):
            m.project_()


def constrain(optimizer: torch.optim.Optimizer, model: torch.nn.Module):
    """Project k after each ``optimizer.step()``; returns the hook handle."""
    return optimizer.register_step_post_hook(lambda *_: project(model))


__all__ = ["SpikingNeuron", "constrain", "make", "names", "project", "surrogates", "variant"]
