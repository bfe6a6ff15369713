"""The fused kernel's time loop written for eager execution: the path when no compiler runs.

Same equations as :func:`suite.neurons.dynamics.forward_seq` / :func:`~suite.neurons.dynamics.backward_seq`
(tested equal in float64), arranged for eager PyTorch, which pays a memory pass and a few microseconds per
op and runs unvectorised on bool tensors:

- **Column blocks.** The neurons are independent, so both loops run over ``[T, N]`` in blocks of columns
  (:data:`BLOCK` per torch thread), with workspaces allocated once per call and reused by every block (a
  fresh multi-MB tensor per op costs its page faults every time). Only X, dL/dS and the outputs travel to
  and from memory; a block's rows stay in cache between the ops that touch them. Each op's row is split
  over the torch threads by ATen itself: Python threads taking whole column ranges were 20-30% slower
  (each op's dispatch holds the GIL, and the two threads' blocks competed for the caches).
- **Few in-place ops per step, Python numbers, floats only.** The state is kept as ``a_t = k H_t``:
  ``a_t = k d (X_t + V_reset) + k (1 - d) V_{t-1}`` (eq. 2 times k), so a forward step is one ``add_`` into a
  block precomputed once, the activation in place, one comparison written straight into the float output,
  and the hard reset ``R (1 - S) + V_reset S`` as one ``addcmul_`` (``V_reset = 0``) or ``lerp`` (both exact
  for S in {0, 1}; bool masks and ``masked_fill`` are 10-50x slower than a float op). Scalars are passed as
  Python numbers (k, the decay and V_th are read once per call): a 0-dim tensor operand costs a copy, or a
  broadcast slow path, per op.
- **BPTT as a linear recurrence.** With ``ga_t = dL/da_t`` and ``gv_t = dL/dV_t = k (1 - d) ga_{t+1}``, eqs.
  (2)-(7) give ``ga_t = P_t + k (1 - d) Q_t ga_{t+1}`` where, with ``sg_t`` the surrogate at ``F_t - V_th``,
  ``P_t = act'(a_t) sg_t dL/dS_t`` and ``Q_t = act'(a_t) [(V_reset - R_t) sg_t + (1 - S_t) / (k if eq. 10
  else 1)]`` (the ``sg`` term only without ``detach_reset``). P and Q hold no recurrence, so the backward's
  forward sweep computes them step by step while F_t and S_t are in cache; the backward sweep is one
  ``addcmul_`` per step, in place; ``dL/dX_t = k d ga_t``.
- **Recompute rather than store.** The backward reruns the forward loop from X (the autograd Function saves
  X and nothing else), keeping a_t, P_t and Q_t for one block only.

Parameter gradients are dot products over the block: ``dL/dk = sum(ga a) / k`` (k > 0 is enforced by its
bounds) plus eq. (10)'s reset term, ``dL/dd = k sum(ga (V_reset + X - V_{t-1}))`` and
``dL/dV_th = -sum(g_tot sg)`` with ``g_tot_t = dL/dS_t + gv_t (V_reset - R_t)``.
"""

from __future__ import annotations

import math

import torch

from suite.neurons import surrogates
from suite.neurons.dynamics import ACTIVATIONS, Activation, Constants

# Columns per block and torch thread: 64k measured best on the 2-core Xeon VM (forward+backward, T = 8; 32k
# and 128k within ~20%).
BLOCK = 1 << 16


def _atan_(x: torch.Tensor, alpha: float) -> tuple[torch.Tensor, float]:
    """eq. (9) in place up to a constant, three cheap ops: ``alpha / 2 / (1 + (pi/2 alpha x)^2)`` is
    ``s / (x^2 + 1 / c^2)`` with ``c = pi/2 alpha`` and ``s = alpha / (2 c^2)``; returns ``(1 / (x^2 + 1 / c^2),
    s)`` (an ``addcmul`` with a 0-dim ``1`` is slower than two ops, and s folds into the scalars downstream)."""
    c2 = (math.pi / 2.0 * alpha) ** 2
    return x.mul_(x).add_(1.0 / c2).reciprocal_(), alpha / (2.0 * c2)


# Surrogates with an in-place form; the others are applied out of place (same values, one allocation).
_SURROGATES_INPLACE = {"atan": _atan_}


def _surrogate_(name: str, x: torch.Tensor, alpha: float) -> tuple[torch.Tensor, float]:
    """The surrogate at ``x`` as ``(u, scale)``, ``u`` in ``x``'s place and ``sg = scale * u``."""
    fast = _SURROGATES_INPLACE.get(name)
    return fast(x, alpha) if fast else (x.copy_(surrogates.get(name).grad(x, alpha)), 1.0)


def _act_into(act: Activation, a: torch.Tensor, p: float, out: torch.Tensor) -> torch.Tensor:
    return act.into(a, p, out) if act.into else out.copy_(act.fwd(a, p))


def _grad_into(act: Activation, a: torch.Tensor, p: float, out: torch.Tensor) -> torch.Tensor:
    return act.grad_into(a, p, out) if act.grad_into else out.copy_(act.grad(a, p))


def _reset_into(r: torch.Tensor, s: torch.Tensor, v_reset: float, vr: torch.Tensor, out: torch.Tensor):
    """``R (1 - S) + V_reset S`` into ``out`` (may be ``r``), exact for S in {0, 1}."""
    if v_reset == 0.0:
        return r.addcmul_(s, r, value=-1.0) if out is r else torch.addcmul(r, s, r, value=-1.0, out=out)
    return torch.lerp(r, vr, s, out=out)


def _blocks(span: range, block: int):
    for lo in range(span.start, span.stop, block):
        yield slice(lo, min(lo + block, span.stop))


def _start(x: torch.Tensor, kd, kq, c: Constants, out: torch.Tensor) -> torch.Tensor:
    """``k d (X + V_reset)`` for every step of the block, plus ``k (1 - d) V_0`` at step 0."""
    torch.mul(x, float(kd), out=out)  # (an addcmul onto a 0-dim tensor broadcast is several times slower)
    if c.v_reset != 0.0:
        out.add_(float(kd * c.v_reset))
    if c.v_init != 0.0:
        out[0].add_(kq * c.v_init)
    return out


def _block(n: int, device: torch.device) -> int:
    """Columns per block: :data:`BLOCK` per torch thread on a CPU (each op's rows split over the threads),
    all of them on a GPU (launches, not caches, cost there)."""
    return BLOCK * torch.get_num_threads() if device.type == "cpu" else max(n, 1)


def forward_seq(xs, k, decay, v_th, c: Constants, block: int | None = None) -> torch.Tensor:
    """Spikes ``[T, ...]`` from input ``[T, ...]`` (contiguous), no autograd."""
    act = ACTIVATIONS[c.activation]
    T = xs.shape[0]
    x2 = xs.reshape(T, -1)
    out = torch.empty_like(x2)
    kd, kq = k * decay, k * (1.0 - decay)
    vr = torch.full((), c.v_reset, dtype=xs.dtype, device=xs.device)
    n = x2.shape[1]
    _forward_span(x2, out, range(n), k, kd, kq, vr, v_th, c, act, block or _block(n, xs.device))
    return out.view_as(xs)


def _forward_span(
    x2, out, span: range, k, kd, kq, vr, v_th, c: Constants, act: Activation, block: int
) -> None:
    T = x2.shape[0]
    k_f, kq_f, th_f = float(k), float(kq), float(v_th)  # Python numbers: a 0-dim tensor costs a copy per op
    work = torch.empty(T, min(block, len(span)), dtype=x2.dtype, device=x2.device)
    for cols in _blocks(span, block):
        a_rows = _start(x2[:, cols], kd, kq, c, work[:, : cols.stop - cols.start]).unbind(0)
        s_rows = out[:, cols].unbind(0)
        for t in range(T):
            a = a_rows[t] if t == 0 else a_rows[t].add_(a_rows[t - 1], alpha=kq_f)  # eq. (2) times k
            f = a if act.identity else _act_into(act, a, c.act_param, a)  # eq. (5)
            s = torch.gt(f, th_f, out=s_rows[t])  # eqs. (3), (6)
            if t < T - 1:  # V_t, kept in a_t's place
                r = f.div_(k_f) if c.reset_div_k else f  # eq. (10) vs (7)
                _reset_into(r, s, c.v_reset, vr, r)


def backward_seq(xs, gs, k, decay, v_th, c: Constants, needs, block: int | None = None):
    """``(dL/dX, dL/dk, dL/dd, dL/dV_th)`` from X and dL/dS (both ``[T, ...]``, contiguous); ``None`` where
    ``needs`` (k, d, V_th) says no."""
    need_k, need_d, need_th = needs
    T = xs.shape[0]
    x2, g2 = xs.reshape(T, -1), gs.reshape(T, -1)
    gx = torch.empty_like(x2)
    kd, kq = k * decay, k * (1.0 - decay)
    n = x2.shape[1]
    sums = _backward_span(x2, g2, gx, range(n), k, kd, kq, v_th, c, needs, block or _block(n, xs.device))

    def total(name, need):
        return torch.stack(sums[name]).sum() if need else None

    return gx.view_as(xs), total("k", need_k), total("d", need_d), total("th", need_th)


def _backward_span(x2, g2, gx, span: range, k, kd, kq, v_th, c: Constants, needs, block: int) -> dict:
    """One column range of :func:`backward_seq`; returns the parameter gradients' per-block terms.

    One sweep forward in time computes, per step and on rows that stay in cache, a_t, F_t, the surrogate and
    the recurrence's P_t and Q_t (module docstring); one sweep backward turns P into ga in place. Only a, P
    and Q (and V, the reset's F or (R - V_reset) sg where a parameter gradient needs them) are kept per
    block: rows used once are computed into one reused row.
    """
    act = ACTIVATIONS[c.activation]
    need_k, need_d, need_th = needs
    T, cols_max = x2.shape[0], min(block, len(span))
    k_f, kq_f, th_f = float(k), float(kq), float(v_th)  # Python numbers: a 0-dim tensor costs a copy per op
    dt, dev = x2.dtype, x2.device
    keep_f = need_k and c.reset_div_k  # eq. (10)'s k gradient reads (1 - S_t) F_t
    keep_rs = need_th and not c.detach_reset  # dL/dV_th reads (R_t - V_reset) sg_t
    planes = 3 + (need_d or T > 1) + keep_f + keep_rs
    ws = torch.empty(planes, T, cols_max, dtype=dt, device=dev)
    row_names = ["sg"] + ["f", "d_act"] * (not act.identity) + ["r"] * (c.reset_div_k or c.v_reset != 0.0)
    rows_ws = torch.empty(len(row_names), cols_max, dtype=dt, device=dev)
    sums = {"k": [], "d": [], "th": []}
    for cols in _blocks(span, block):
        w = cols.stop - cols.start
        planes_w = iter(buf[:, :w] for buf in ws)
        a_all, p, q = next(planes_w), next(planes_w), next(planes_w)
        # V_{t-1} per step: every step's for dL/dd, else two rows used in turn
        v_all = next(planes_w) if (need_d or T > 1) else None
        kept = next(planes_w) if keep_f else None
        rs = next(planes_w) if keep_rs else None
        rows = dict(zip(row_names, (r[:w] for r in rows_ws)))
        x, g = x2[:, cols], g2[:, cols]

        _start(x, kd, kq, c, a_all)
        if need_d:
            v_all[0].fill_(c.v_init)
        a_rows, p_rows, q_rows, g_rows = (m.unbind(0) for m in (a_all, p, q, g))
        v_rows = v_all.unbind(0) if v_all is not None else ()
        for t in range(T):
            a, p_t, q_t = a_rows[t], p_rows[t], q_rows[t]
            if t:
                a.add_(v_rows[t if need_d else (t - 1) % 2], alpha=kq_f)
            f = a if act.identity else _act_into(act, a, c.act_param, rows["f"])  # eq. (5)
            keep = torch.le(f, th_f, out=q_t)  # 1 - S_t
            r = torch.div(f, k_f, out=rows["r"]) if c.reset_div_k else f  # eq. (10) vs (7)
            if t < T - 1:  # V_t = V_reset + (1 - S_t) (R_t - V_reset)
                v = v_rows[t + 1] if need_d else v_rows[t % 2]
                if c.v_reset == 0.0:
                    torch.mul(r, keep, out=v)
                else:
                    torch.sub(r, c.v_reset, out=v).mul_(keep).add_(c.v_reset)
                if keep_f:
                    torch.mul(keep, f, out=kept[t])
            # sg = scale u; P, ga and the stored (R - V_reset) u carry 1 / scale until the sums (linear)
            u, scale = _surrogate_(c.surrogate, torch.sub(f, th_f, out=rows["sg"]), c.alpha)
            torch.mul(u, g_rows[t], out=p_t)  # P_t / scale before act'
            if need_th:
                sums["th"].append(-scale * p_t.sum())  # -dL/dS_t sg_t
            if c.reset_div_k:
                q_t.div_(k_f)
            if not c.detach_reset:  # Q_t += (V_reset - R_t) sg_t
                rm = r if c.v_reset == 0.0 else torch.sub(r, c.v_reset, out=rows["r"])
                if keep_rs:
                    q_t.add_(torch.mul(rm, u, out=rs[t]), alpha=-scale)
                else:
                    q_t.addcmul_(rm, u, value=-scale)
            if not act.identity:
                d_act = _grad_into(act, a, c.act_param, rows["d_act"])
                p_t.mul_(d_act)
                q_t.mul_(d_act)

        for t in range(T - 2, -1, -1):  # ga_t = P_t + k (1 - d) Q_t ga_{t+1}, in P's place
            p_rows[t].addcmul_(q_rows[t], p_rows[t + 1], value=kq_f)
        ga = p  # dL/da / scale
        torch.mul(ga, float(kd) * scale, out=gx[:, cols])
        flat = ga.reshape(-1)
        if keep_rs:  # + k (1 - d) sum_t ga_{t+1} (R_t - V_reset) sg_t
            sums["th"].append(kq * scale**2 * torch.vdot(ga[1:].reshape(-1), rs[:-1].reshape(-1)))
        if need_k:
            sums["k"].append(scale * torch.vdot(flat, a_all.reshape(-1)) / k)
            if keep_f:  # eq. (10)'s reset R = F / k: -sum_t gv_t (1 - S_t) F_t / k^2
                sums["k"].append(
                    -kq * scale / (k * k) * torch.vdot(ga[1:].reshape(-1), kept[:-1].reshape(-1))
                )
        if need_d:
            d_in = torch.sub(x, v_all).add_(c.v_reset)
            sums["d"].append(k * scale * torch.vdot(flat, d_in.reshape(-1)))

    return sums
