"""The fused kernel against the per-step autograd reference, for every registered neuron."""

from __future__ import annotations

import pytest
import torch

from suite import neurons
from suite.neurons import dynamics, eager, kernel


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


def _needs(n):
    v = n.variant
    return (v.learn_k, v.learn_tau, v.learn_vth)


@pytest.mark.parametrize("threads", [1, 2], ids=["1thr", "2thr"])
@pytest.mark.parametrize("reset", [(0.0, 0.0), (-0.3, 0.2)], ids=["vr0", "vr-0.3-v0-0.2"])
@pytest.mark.parametrize("surrogate", ["atan", "sigmoid", "rect"])
@pytest.mark.parametrize("name", ["LIF", "KLIF", "KLIF*", "KLIF-CELU", "PLIF", "LIF-vth"])
def test_eager_blocks_equal_the_step_equations_float64(name, surrogate, reset, threads):
    """The eager loop (blocks of 5 columns over 36, so a partial last block; 1 and 2 torch threads) against the
    plain loops of ``dynamics``, with a non-zero V_reset / V_0 and every surrogate: spikes equal, gradients
    to 1e-10, with and without ``detach_reset``."""
    torch.manual_seed(0)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for detach in (False, True):
            n = neurons.make(
                name, surrogate=surrogate, v_reset=reset[0], v_init=reset[1], detach_reset=detach
            )
            p, c = n.double().params(torch.float64), n.constants
            x = torch.randn(6, 4, 9, dtype=torch.float64) * 2.5 - 0.5
            g = torch.randn_like(x)
            with torch.no_grad():
                args = (p.k, p.decay, p.v_th, c)
                assert torch.equal(eager.forward_seq(x, *args, block=5), dynamics.forward_seq(x, *args))
                got = eager.backward_seq(x, g, *args, _needs(n), block=5)
                want = dynamics.backward_seq(x, g, *args, _needs(n))
            assert got[0].shape == x.shape
            for a, b in zip(got, want):
                assert (a is None) == (b is None)
                if a is not None:
                    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    finally:
        torch.set_num_threads(before)


def test_failed_compile_falls_back_to_eager(monkeypatch):
    """A compile that raises switches to the eager loop (same spikes and gradients) and warns once per key."""
    n = neurons.make("KLIF")
    x = (torch.randn(4, 2, 3) * 2).requires_grad_()
    g = torch.randn_like(x)
    with kernel.compiling(False):
        s_e, g_e = _run(n, x, g, fused=True)

    def broken(fn, **kw):
        def fail(*a, **k):
            raise torch._dynamo.exc.TorchRuntimeError("no compiler here")

        return fail

    monkeypatch.setattr(kernel.torch, "compile", broken)
    monkeypatch.setattr(kernel, "_compiled", {})
    monkeypatch.setattr(kernel, "_compile_broken", False)
    with kernel.compiling(True), pytest.warns(UserWarning, match="using the eager loop"):
        s_b, g_b = _run(n, x, g, fused=True)
    assert torch.equal(s_b, s_e)
    for a, b in zip(g_b, g_e):
        torch.testing.assert_close(a, b)
