"""Helpers for the network tests, as fixtures: build a registered network small, and make its input."""

from __future__ import annotations

import pytest
import torch

import suite.models as models

B, T = 2, 2


def example_input(name: str, batch: int = B, steps: int = T) -> torch.Tensor:
    """A random batch of the input ``name`` was designed for: ``[B, C, H, W]`` or ``[T, B, C, H, W]``."""
    ex = models.entry(name).example
    shape = (steps, batch, *ex.in_shape) if ex.events else (batch, *ex.in_shape)
    return torch.rand(shape)


def build(name: str, neuron: str = "KLIF", **kw) -> models.Network:
    """Network ``name`` for its own dataset, small (width 1/8, T = 2) unless ``kw`` says otherwise."""
    ex = models.entry(name).example
    kw = {"T": T, "width": 0.125, **kw}
    return models.make(name, neuron=neuron, in_shape=ex.in_shape, num_classes=ex.num_classes, **kw)


@pytest.fixture(name="build")
def _build():
    return build


@pytest.fixture(name="example_input")
def _example_input():
    return example_input
