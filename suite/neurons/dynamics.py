"""The neuron dynamics as pure step functions of (input, state, params) -> (spikes, new state).

Every neuron of the suite is one instance of the generalised KLIF step below; a variant is data (a
:class:`Variant`), never a copy of the equations. With ``d = 1/tau`` (or ``sigmoid(w)`` for PLIF):

    H_t = V_{t-1} + d (V_reset - V_{t-1}) + d X_t          eq. (2)   charge
    F_t = act(k H_t)                                        eq. (5)   scale and rectify (LIF: act = id, k = 1)
    S_t = Θ(F_t - V_th)                                     eqs. (3), (6)   fire
    R_t = F_t            (LIF, KLIF and its ablations)      eqs. (4), (7)
    R_t = F_t / k        (KLIF*)                            eq. (10)
    V_t = R_t (1 - S_t) + V_reset S_t                       hard reset

For LIF ``F = H`` so eq. (7) reduces to eq. (4). The backward pass replaces ``dS/dF`` by a surrogate
(eq. 9, :mod:`suite.neurons.surrogates`); the reset term ``V_reset - R`` carries gradient through ``S``
unless ``detach_reset`` is set.

This module holds the equations twice on purpose, and nothing else: :func:`step` is the per-step autograd
reference (autograd differentiates it), :func:`forward_seq` / :func:`backward_seq` are the same recurrence
written for the fused kernel (no autograd graph; BPTT by hand). ``tests/neurons`` checks one against the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as fn

from suite.neurons import surrogates


@dataclass(frozen=True)
class Activation:
    """``act(a)`` and its derivative ``act'(a)``; ``p`` is the activation's own constant.

    For the eager kernel (:mod:`suite.neurons.eager`), which avoids allocating and bool tensors:
    ``into(a, p, out)`` / ``grad_into(a, p, out)`` write ``act(a)`` / ``act'(a)`` into ``out`` (which may be
    ``a``) in one op where torch has one, and ``identity`` says F is a itself (nothing to apply, act' = 1).
    """

    fwd: Callable[[torch.Tensor, float], torch.Tensor]
    grad: Callable[[torch.Tensor, float], torch.Tensor]
    default_param: float = 0.0
    into: Callable[[torch.Tensor, float, torch.Tensor], torch.Tensor] | None = None
    grad_into: Callable[[torch.Tensor, float, torch.Tensor], torch.Tensor] | None = None
    identity: bool = False


ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation(lambda a, p: a, lambda a, p: torch.ones_like(a), identity=True),
    # relu'(0) = 0, as torch defines it: at H = 0 no gradient reaches k (eq. 9's H < 0 branch).
    "relu": Activation(
        lambda a, p: torch.relu(a),
        lambda a, p: (a > 0).to(a.dtype),
        into=lambda a, p, out: torch.clamp_min(a, 0.0, out=out),
        grad_into=lambda a, p, out: torch.gt(a, 0.0, out=out),
    ),
    "celu": Activation(
        lambda a, p: fn.celu(a, alpha=p),
        lambda a, p: torch.where(a > 0, torch.ones_like(a), torch.exp(torch.clamp(a, max=0.0) / p)),
        1.0,
    ),
    "leaky_relu": Activation(
        lambda a, p: fn.leaky_relu(a, negative_slope=p),
        lambda a, p: torch.where(a > 0, torch.ones_like(a), torch.full_like(a, p)),
        0.01,
    ),
}


@dataclass(frozen=True)
class Variant:
    """What distinguishes one neuron from another: which parameters learn and which activation F uses."""

    name: str
    doc: str
    activation: str = "identity"
    learn_k: bool = False
    reset_div_k: bool = False
    learn_tau: bool = False
    learn_vth: bool = False


class Params(NamedTuple):
    """Per-layer scalars as 0-dim tensors (learnable or constant): scale k, decay d = 1/tau, threshold."""

    k: torch.Tensor
    decay: torch.Tensor
    v_th: torch.Tensor


@dataclass(frozen=True)
class Constants:
    """Everything that is a plain number or flag: baked into a compiled kernel, part of its cache key."""

    activation: str = "identity"
    act_param: float = 0.0
    reset_div_k: bool = False
    v_reset: float = 0.0
    v_init: float = 0.0
    surrogate: str = "atan"
    alpha: float = 2.0
    detach_reset: bool = False


class _Spike(torch.autograd.Function):
    """Θ(x) forward, surrogate derivative backward (eqs. 3, 6 and 9)."""

    @staticmethod
    def forward(ctx, x, surrogate: str, alpha: float):
        ctx.save_for_backward(x)
        ctx.surrogate, ctx.alpha = surrogate, alpha
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * surrogates.get(ctx.surrogate).grad(x, ctx.alpha), None, None


def step(x: torch.Tensor, v: torch.Tensor, p: Params, c: Constants) -> tuple[torch.Tensor, torch.Tensor]:
    """One time step, differentiable by autograd: the reference the fused kernel is tested against."""
    act = ACTIVATIONS[c.activation]
    h = v + p.decay * (c.v_reset - v) + p.decay * x  # eq. (2)
    f = act.fwd(p.k * h, c.act_param)  # eq. (5)
    s = _Spike.apply(f - p.v_th, c.surrogate, c.alpha)  # eqs. (3), (6), (9)
    r = f / p.k if c.reset_div_k else f  # eq. (10) vs (7)
    s_r = s.detach() if c.detach_reset else s
    return s, r * (1.0 - s_r) + c.v_reset * s_r  # eqs. (4), (7), (10)


def forward_seq(xs: torch.Tensor, k: torch.Tensor, decay: torch.Tensor, v_th: torch.Tensor, c: Constants):
    """Spikes ``[T, ...]`` of the whole sequence, no autograd; the fused kernel's forward loop."""
    act = ACTIVATIONS[c.activation]
    v = torch.full_like(xs[0], c.v_init)
    out = []
    for x in xs.unbind(0):
        h = v + decay * (c.v_reset - v) + decay * x
        f = act.fwd(k * h, c.act_param)
        s = (f > v_th).to(xs.dtype)
        r = f / k if c.reset_div_k else f
        v = r * (1.0 - s) + c.v_reset * s
        out.append(s)
    return torch.stack(out)


def backward_seq(
    xs: torch.Tensor,
    gs: torch.Tensor,
    k: torch.Tensor,
    decay: torch.Tensor,
    v_th: torch.Tensor,
    c: Constants,
    needs: tuple[bool, bool, bool],
):
    """BPTT by hand: recompute H from X (cheaper than storing it), then run the recurrence backwards.

    ``gs`` is dL/dS ``[T, ...]``. Returns ``(dL/dX, dL/dk, dL/dd, dL/dV_th)``; a parameter's gradient is
    accumulated element-wise over time and reduced once at the end (``None`` where ``needs`` says no).
    """
    act = ACTIVATIONS[c.activation]
    sg = surrogates.get(c.surrogate).grad
    need_k, need_d, need_th = needs
    xs_t = xs.unbind(0)
    v = torch.full_like(xs_t[0], c.v_init)
    v_prev, hs = [], []
    for x in xs_t:
        h = v + decay * (c.v_reset - v) + decay * x
        f = act.fwd(k * h, c.act_param)
        s = (f > v_th).to(xs.dtype)
        r = f / k if c.reset_div_k else f
        v_prev.append(v)
        hs.append(h)
        v = r * (1.0 - s) + c.v_reset * s

    gv = None
    gk = gd = gth = None
    gxs = [None] * len(hs)
    for t, g_s in reversed(list(enumerate(gs.unbind(0)))):
        h = hs[t]
        a = k * h
        f = act.fwd(a, c.act_param)
        s = (f > v_th).to(xs.dtype)
        sgrad = sg(f - v_th, c.alpha)
        if gv is None:  # t = T-1: nothing flows back from the future
            g_tot, gf = g_s, g_s * sgrad
        else:
            r = f / k if c.reset_div_k else f
            g_tot = g_s if c.detach_reset else g_s + gv * (c.v_reset - r)
            g_r = gv * (1.0 - s)
            gf = g_tot * sgrad + (g_r / k if c.reset_div_k else g_r)
            if need_k and c.reset_div_k:
                term = -g_r * f / (k * k)
                gk = term if gk is None else gk + term
        if need_th:
            term = -(g_tot * sgrad)
            gth = term if gth is None else gth + term
        ga = gf * act.grad(a, c.act_param)
        gh = ga * k
        if need_k:
            term = ga * h
            gk = term if gk is None else gk + term
        if need_d:
            term = gh * (c.v_reset + xs_t[t] - v_prev[t])
            gd = term if gd is None else gd + term
        gxs[t] = gh * decay
        gv = gh * (1.0 - decay)

    def total(acc):
        return None if acc is None else acc.sum()

    return torch.stack(gxs), total(gk), total(gd), total(gth)


def plif_w0(tau: float) -> float:
    """Fang et al.'s initial w: ``sigmoid(w0) = 1/tau0``, i.e. ``w0 = -log(tau0 - 1)`` (0 for tau0 = 2)."""
    return -math.log(tau - 1.0)
