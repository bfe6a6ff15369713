"""Surrogate derivatives of the Heaviside spike function, one registry entry per shape.

The forward pass of every spiking neuron is the exact step ``S = Θ(F - V_th)`` (eqs. 3 and 6); only the
backward pass uses a smooth stand-in for ``dS/dF``. Each surrogate is a pure function ``grad(x, alpha)`` of
``x = F - V_th`` and its own steepness constant ``alpha``:

- ``atan``  (the paper's, eq. 9): ``alpha / (2 * (1 + (pi/2 * alpha * x)^2))``, default ``alpha = 2``;
- ``sigmoid``: ``alpha * sig(alpha x) * (1 - sig(alpha x))``, default ``alpha = 4`` (SpikingJelly's);
- ``rect``: ``1/alpha`` on ``|x| < alpha/2`` and 0 elsewhere, default ``alpha = 1`` (unit area box).

All three integrate to 1 over the real line, so the spike function they stand for steps from 0 to 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from suite.registry import lookup


@dataclass(frozen=True)
class Surrogate:
    name: str
    grad: Callable[[torch.Tensor, float], torch.Tensor]
    default_alpha: float


def _atan(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return alpha / (2.0 * (1.0 + (math.pi / 2.0 * alpha * x) ** 2))


def _sigmoid(x: torch.Tensor, alpha: float) -> torch.Tensor:
    s = torch.sigmoid(alpha * x)
    return alpha * s * (1.0 - s)


def _rect(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return (x.abs() < alpha / 2.0).to(x.dtype) / alpha


_REGISTRY: dict[str, Surrogate] = {
    s.name: s
    for s in (
        Surrogate("atan", _atan, 2.0),
        Surrogate("sigmoid", _sigmoid, 4.0),
        Surrogate("rect", _rect, 1.0),
    )
}


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> Surrogate:
    return lookup(_REGISTRY, name, "surrogate", known=names)
