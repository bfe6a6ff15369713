"""The fused kernel against the per-step autograd reference, for every registered neuron."""

from __future__ import annotations

import pytest
import torch

from suite import neurons
from suite.neurons import kernel


def _run(n, x, g, fused: bool):
    n.use_fused = fused
    params = [p for p in n.parameters()]
    s = n(x)
    grads = torch.autograd.grad((s * g).sum(), [x, *params])
    return s.detach(), grads


def _set_k(n, k):
    if k is not None and isinstance(n.k, torch.nn.Parameter):
        with torch.no_grad():
            n.k.fill_(k)


@pytest.mark.parametrize("detach_reset", [False, True], ids=["reset-grad", "detach-reset"])
@pytest.mark.parametrize("k", [None, 0.5, 5.0], ids=["k-init", "k-low", "k-high"])
@pytest.mark.parametrize("name", neurons.names())
def test_fused_equals_reference_float64(name, k, detach_reset):
    torch.manual_seed(hash((name, k, detach_reset)) % 2**31)
    n = neurons.make(name, detach_reset=detach_reset).double()
    _set_k(n, k)
    # Mean below zero, wide spread: many steps drive H and F negative, many fire.
    x = (torch.randn(7, 3, 11, dtype=torch.float64) * 2.5 - 0.5).requires_grad_()
    g = torch.randn(7, 3, 11, dtype=torch.float64)
    with kernel.compiling(False):
        s_f, g_f = _run(n, x, g, fused=True)
    s_r, g_r = _run(n, x, g, fused=False)
    assert 0 < s_r.mean() < 1, "the input must make some neurons fire and some not"
    assert torch.equal(s_f, s_r)
    assert len(g_f) == 1 + len(list(n.parameters()))
    for a, b in zip(g_f, g_r):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["LIF", "KLIF", "KLIF*", "PLIF"])
def test_compiled_kernel_equals_eager(name):
    """The compiled loops are the same math as the eager ones (float32, looser tolerance)."""
    torch.manual_seed(0)
    n = neurons.make(name)
    x = (torch.randn(4, 2, 3, 5) * 2).requires_grad_()
    g = torch.randn_like(x)
    with kernel.compiling(True):
        s_c, g_c = _run(n, x, g, fused=True)
    with kernel.compiling(False):
        s_e, g_e = _run(n, x, g, fused=True)
    assert torch.equal(s_c, s_e)
    for a, b in zip(g_c, g_e):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_fused_saves_only_the_input():
    """Tensors saved for backward: the input (one input-sized tensor) and the 0-dim parameters, nothing else."""
    n = neurons.make("KLIF")
    x = torch.randn(4, 2, 8, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        n(x)
    big = [t for t in saved if t.numel() > 1]
    assert len(big) == 1 and big[0].shape == x.shape
