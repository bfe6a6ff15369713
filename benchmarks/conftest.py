"""Collects derived figures (ratios against baselines measured in the same run) and prints them at the end;
builds the field's neuron implementations for the side-by-side benchmarks.

Peers (:data:`PEERS`): SpikingJelly 2.0's ``KLIFNode`` / ``LIFNode`` (multi-step, its torch loop on a CPU)
and snnTorch 1.0's ``Leaky`` stepped over T, each set up as the suite's neuron of the same name (tau = 2,
i.e. decay 1/2 = snnTorch's beta, V_th = 1, hard reset to 0, ATan surrogate with alpha = 2, reset not
detached). Each is wrapped as an ``nn.Module`` mapping ``[T, ...]`` input current to ``[T, ...]`` spikes
from a fresh state, like :class:`suite.neurons.SpikingNeuron`, so the same network can hold any of them.
They run only where installed (``nox -s bench`` installs them without their dependencies, which would
replace the CPU torch); a test asking for a missing one is skipped.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

RESULTS: list[tuple[str, str]] = []


@pytest.fixture(scope="session")
def report():
    def add(section: str, line: str) -> None:
        RESULTS.append((section, line))

    return add


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    terminalreporter.section("klif-suite benchmark ratios")
    last = None
    for section, line in RESULTS:
        if section != last:
            terminalreporter.write_line(f"[{section}]")
            last = section
        terminalreporter.write_line(f"  {line}")


class _SpikingJelly(nn.Module):
    def __init__(self, name: str):
        super().__init__()
        sj = pytest.importorskip("spikingjelly.activation_based.neuron")
        from spikingjelly.activation_based import surrogate

        kind = {"KLIF": sj.KLIFNode, "LIF": sj.LIFNode}[name]
        self.node = kind(tau=2.0, surrogate_function=surrogate.ATan(alpha=2.0), step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.node.reset()
        return self.node(x)


class _SnnTorchLeaky(nn.Module):
    def __init__(self, name: str):
        super().__init__()
        snntorch = pytest.importorskip("snntorch")
        self.leaky = snntorch.Leaky(
            beta=0.5, threshold=1.0, reset_mechanism="zero", spike_grad=snntorch.surrogate.atan()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem = self.leaky.init_leaky()
        out = []
        for x_t in x.unbind(0):
            s, mem = self.leaky(x_t, mem)
            out.append(s)
        return torch.stack(out)


# label -> (module class, the neurons it provides)
PEERS = {
    "SpikingJelly 2.0": (_SpikingJelly, ("LIF", "KLIF")),
    "snnTorch Leaky": (_SnnTorchLeaky, ("LIF",)),
}


def peer(label: str, name: str) -> nn.Module:
    """A fresh ``label`` implementation of neuron ``name`` (skips the test where the package is missing)."""
    return PEERS[label][0](name)


@pytest.fixture(scope="session")
def make_peer():
    """:func:`peer`, for test modules (which cannot import this conftest under ``--import-mode=importlib``)."""
    return peer
