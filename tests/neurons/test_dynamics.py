"""The paper's equations, pinned by hand-computed traces (tau = 2, V_th = 1, V_reset = 0)."""

from __future__ import annotations

import math

import pytest
import torch

from suite import neurons
from suite.neurons import kernel
from suite.neurons.dynamics import step


def trace(name: str, xs: list[float], k: float | None = None, **params):
    """Run ``step`` by hand and return the spikes and membrane potentials V_t."""
    n = neurons.make(name, **params).double()
    if k is not None:
        with torch.no_grad():
            n.k.fill_(k)
    p, c = n.params(torch.float64), n.constants
    v = torch.zeros(1, dtype=torch.float64)
    spikes, vs = [], []
    for x in xs:
        s, v = step(torch.tensor([x], dtype=torch.float64), v, p, c)
        spikes.append(s.item())
        vs.append(v.item())
    return spikes, vs


# Each row: neuron, k, inputs, expected spikes, expected V_t (computed by hand in the comments).
TRACES = [
    # LIF eqs. 2-4: H = 0.75 -> V 0.75; H = 0.75 - 0.375 + 0.75 = 1.125 > 1 fires, V 0; H = 0.75.
    ("LIF", None, [1.5, 1.5, 1.5], [0, 1, 0], [0.75, 0.0, 0.75]),
    # LIF goes negative: H = -0.5; H = -0.25 + 1.5 = 1.25 fires; H = 0.5.
    ("LIF", None, [-1.0, 3.0, 1.0], [0, 1, 0], [-0.5, 0.0, 0.5]),
    # KLIF eqs. 2, 5-7, k = 1.5: H = 0.5, F = 0.75 -> V = F = 0.75; H = 0.75 - 0.375 + 0.5 = 0.875,
    # F = 1.3125 fires, V 0; H = 0.5, F = 0.75.
    ("KLIF", 1.5, [1.0, 1.0, 1.0], [0, 1, 0], [0.75, 0.0, 0.75]),
    # KLIF* eq. 10, k = 1.5: V = F/k = 0.5; H = 0.5 - 0.25 + 0.5 = 0.75, F = 1.125 fires; V = 0.5.
    ("KLIF*", 1.5, [1.0, 1.0, 1.0], [0, 1, 0], [0.5, 0.0, 0.5]),
    # k-only (F = kH), k = 0.5: H = -0.5, F = V = -0.25; H = -0.125 + 1.5 = 1.375, F = 0.6875;
    # H = 0.34375 + 1.5 = 1.84375, F = 0.921875 (no spike: kH stays under the threshold).
    ("k-only", 0.5, [-1.0, 3.0, 3.0], [0, 0, 0], [-0.25, 0.6875, 0.921875]),
    # ReLU-only (F = ReLU(H)): H = -0.5 -> V = 0 (rectified); H = 1.5 fires; H = 0.5.
    ("ReLU-only", None, [-1.0, 3.0, 1.0], [0, 1, 0], [0.0, 0.0, 0.5]),
    # KLIF, k = 2, negative drive: H = -1, F = 0, V = 0; H = 0 + 1 = 1, F = 2 fires; H = -0.5, F = 0.
    ("KLIF", 2.0, [-2.0, 2.0, -1.0], [0, 1, 0], [0.0, 0.0, 0.0]),
    # KLIF-CELU, k = 1: H = -1, F = exp(-1) - 1; H = F/2 + 0.5*0 ... = (e^-1 - 1)/2, F = CELU(H).
    (
        "KLIF-CELU",
        1.0,
        [-2.0, 0.0, 4.0],
        [0, 0, 1],
        [
            math.exp(-1) - 1,
            math.exp((math.exp(-1) - 1) / 2) - 1,
            0.0,
        ],
    ),
    # KLIF-LeakyReLU, k = 1: H = -1, F = -0.01; H = -0.005 + 0.5 = 0.495, F = 0.495; H = 0.2475 + 1.5 fires.
    ("KLIF-LeakyReLU", 1.0, [-2.0, 1.0, 3.0], [0, 0, 1], [-0.01, 0.495, 0.0]),
]


@pytest.mark.parametrize("name,k,xs,spikes,vs", TRACES, ids=[f"{t[0]}-{i}" for i, t in enumerate(TRACES)])
def test_hand_computed_trace(name, k, xs, spikes, vs):
    got_s, got_v = trace(name, xs, k)
    assert got_s == spikes
    assert got_v == pytest.approx(vs, abs=1e-12)


@pytest.mark.parametrize("name,k,xs,spikes,vs", TRACES, ids=[f"{t[0]}-{i}" for i, t in enumerate(TRACES)])
def test_fused_trace_matches_hand_computed_spikes(name, k, xs, spikes, vs):
    n = neurons.make(name).double()
    if k is not None:
        with torch.no_grad():
            n.k.fill_(k)
    with kernel.compiling(False):
        out = n(torch.tensor(xs, dtype=torch.float64).view(3, 1))
    assert out.view(-1).tolist() == spikes


def _atan(x, alpha=2.0):
    return alpha / (2 * (1 + (math.pi / 2 * alpha * x) ** 2))


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("k", [0.5, 1.0, 2.5])
def test_surrogate_matches_eq9_both_branches(fused, k):
    """dS/dF of KLIF (eq. 9): constant for H < 0, the shifted, k-scaled ATan for H >= 0.

    dS/dV_th = -dS/dF, so a threshold that requires grad exposes dS/dF of a single step.
    """
    n = neurons.make("KLIF").double()
    with torch.no_grad():
        n.k.fill_(k)
    xs = torch.tensor([-3.0, -0.2, 0.0, 0.4, 1.0, 2.0, 5.0], dtype=torch.float64)
    h = 0.5 * xs  # one step from V0 = 0
    v_th = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    p = n.params(torch.float64)._replace(v_th=v_th)
    grads = []
    for x in xs:  # one sample at a time: dS/dV_th of a single neuron
        s = kernel.run(x.view(1, 1), p, n.constants, use_fused=fused)
        (g,) = torch.autograd.grad(s.sum(), v_th)
        grads.append(-g.item())
    expected = [
        _atan(1.0) if hv < 0 else 2.0 / (2 * (1 + (math.pi / 2 * 2.0 * k * (hv - 1.0 / k)) ** 2))
        for hv in h.tolist()
    ]
    # H = 0 is in the second branch of eq. 9 and equals the first there (F = 0).
    assert grads == pytest.approx(expected, rel=1e-12)
    assert expected[0] == pytest.approx(2.0 / (2 * (1 + (math.pi / 2 * 2.0 * 1.0) ** 2)))


def test_klif_k1_identity_equals_lif():
    """KLIF with k = 1 and the identity activation (the k-only variant at k = 1) is LIF, gradients included."""
    torch.manual_seed(0)
    x = (torch.randn(8, 4, 6, dtype=torch.float64) * 2).requires_grad_()
    outs = []
    for name in ("LIF", "k-only"):
        n = neurons.make(name).double()
        s = n(x)
        (g,) = torch.autograd.grad((s * torch.arange(s.numel()).view_as(s)).sum(), x)
        outs.append((s, g))
    assert torch.equal(outs[0][0], outs[1][0])
    assert torch.allclose(outs[0][1], outs[1][1])


def test_plif_at_initial_w_equals_lif():
    torch.manual_seed(1)
    x = (torch.randn(8, 4, 6, dtype=torch.float64) * 2).requires_grad_()
    res = []
    for name in ("LIF", "PLIF"):
        n = neurons.make(name).double()
        s = n(x)
        (g,) = torch.autograd.grad(s.sum(), x)
        res.append((s, g))
    assert torch.equal(res[0][0], res[1][0])
    assert torch.allclose(res[0][1], res[1][1], atol=1e-12)


def test_k_projected_back_inside_bounds_after_optimizer_steps():
    n = neurons.make("KLIF")
    opt = torch.optim.SGD(n.parameters(), lr=1000.0)
    neurons.constrain(opt, n)
    x = torch.rand(4, 8, 16) * 3
    for sign, bound in ((-1.0, 5.0), (1.0, 0.5)):  # loss decreasing in k pushes k up, and vice versa
        for _ in range(3):
            opt.zero_grad()
            (sign * n(x).sum() + sign * 1e3 * n.k).backward()
            opt.step()
            assert 0.5 <= n.k.item() <= 5.0
        assert n.k.item() == bound
