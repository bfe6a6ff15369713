"""The fused kernel's time loop written for eager execution: the path when no compiler runs.

Same equations as :func:`suite.neurons.dynamics.forward_seq` / :func:`~suite.neurons.dynamics.backward_seq`
(tested equal in float64), arranged for eager PyTorch, which pays a memory pass and a few microseconds per
op and runs unvectorised on bool tensors:

- **Column blocks.** The neurons are independent, so both loops run over ``[T, N]`` in blocks of
  :data:`BLOCK` columns, with workspaces allocated once per call and reused by every block (a fresh
  multi-MB tensor per op costs its page faults every time). A block's temporaries stay in cache between
  the ops that touch them; only X, dL/dS and the outputs travel to and from memory.
- **Few in-place ops per step, floats only.** The state is kept as ``a_t = k H_t``:
  ``a_t = k d (X_t + V_reset) + k (1 - d) V_{t-1}`` (eq. 2 times k), so a forward step is one
  ``addcmul_`` into a block precomputed once, the activation in place, one comparison written straight into
  the float output, and the hard reset ``R (1 - S) + V_reset S`` as one ``addcmul`` (``V_reset = 0``) or
  ``lerp`` (both exact for S in {0, 1}; bool masks and ``masked_fill`` are 10-50x slower than a float op).
- **BPTT as a linear recurrence.** With ``ga_t = dL/da_t`` and ``gv_t = dL/dV_t = k (1 - d) ga_{t+1}``, eqs.
  (2)-(7) give ``ga_t = P_t + k (1 - d) Q_t ga_{t+1}`` where, with ``sg_t`` the surrogate at ``F_t - V_th``,
  ``P_t = act'(a_t) sg_t dL/dS_t`` and ``Q_t = act'(a_t) [(V_reset - R_t) sg_t + (1 - S_t) / (k if eq. 10
  else 1)]`` (the ``sg`` term only without ``detach_reset``). P and Q hold no recurrence, so each is a few
  ops over the whole block; the recurrence is one ``addcmul_`` per step, in place; ``dL/dX_t = k d ga_t``.
- **Recompute rather than store.** The backward reruns the forward loop from X (the autograd Function saves
  X and nothing else), keeping a_t, F_t and S_t for one block only.

Parameter gradients are dot products over the block: ``dL/dk = sum(ga a) / k`` (k > 0 is enforced by its
bounds) plus eq. (10)'s reset term, ``dL/dd = k sum(ga (V_reset + X - V_{t-1}))`` and
``dL/dV_th = -sum(g_tot sg)`` with ``g_tot_t = dL/dS_t + gv_t (V_reset - R_t)``.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import torch

from suite.neurons import surrogates
from suite.neurons.dynamics import ACTIVATIONS, Activation, Constants

BLOCK = 1 << 15  # columns per block: 32k measured best on a 2-core Xeon (16k-64k within ~15%)


def _atan_(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """eq. (9) in place, three ops: ``alpha / 2 / (1 + (pi/2 alpha x)^2)``."""
    c = math.pi / 2.0 * alpha
    one = torch.ones((), dtype=x.dtype, device=x.device)
    return torch.addcmul(one, x, x, value=c * c, out=x).reciprocal_().mul_(alpha / 2.0)


# Surrogates with an in-place form; the others are applied out of place (same values, one allocation).
_SURROGATES_INPLACE = {"atan": _atan_}


def _surrogate_(name: str, x: torch.Tensor, alpha: float) -> torch.Tensor:
    fast = _SURROGATES_INPLACE.get(name)
    return fast(x, alpha) if fast else x.copy_(surrogates.get(name).grad(x, alpha))


def _act_into(act: Activation, a: torch.Tensor, p: float, out: torch.Tensor) -> torch.Tensor:
    return act.into(a, p, out) if act.into else out.copy_(act.fwd(a, p))


def _grad_into(act: Activation, a: torch.Tensor, p: float, out: torch.Tensor) -> torch.Tensor:
    return act.grad_into(a, p, out) if act.grad_into else out.copy_(act.grad(a, p))


def _reset_into(r: torch.Tensor, s: torch.Tensor, v_reset: float, vr: torch.Tensor, out: torch.Tensor):
    """``R (1 - S) + V_reset S`` into ``out`` (may be ``r``), exact for S in {0, 1}."""
    if v_reset == 0.0:
        return torch.addcmul(r, s, r, value=-1.0, out=out)
    return torch.lerp(r, vr, s, out=out)


def _blocks(span: range, block: int):
    for lo in range(span.start, span.stop, block):
        yield slice(lo, min(lo + block, span.stop))


def _start(x: torch.Tensor, kd, kq, c: Constants, out: torch.Tensor) -> torch.Tensor:
    """``k d (X + V_reset)`` for every step of the block, plus ``k (1 - d) V_0`` at step 0."""
    torch.addcmul(kd * c.v_reset, x, kd, out=out)
    if c.v_init != 0.0:
        out[0].add_(kq * c.v_init)
    return out


def _split(n: int, block: int, threads: int) -> list[range]:
    """Column ranges, one per thread, in whole blocks (a single range below two blocks' worth)."""
    parts = max(1, min(threads, n // block))
    step = -(-n // parts)
    step = -(-step // block) * block
    return [range(lo, min(lo + step, n)) for lo in range(0, n, step)]


def _parallel(fn, n: int, block: int, device: torch.device) -> list:
    """``fn(columns)`` over the column ranges of :func:`_split`, one Python thread each, torch at 1 thread.

    Per-step ops of a block are below ATen's parallel grain (32k elements), so ATen would run them on one
    core; the blocks themselves are independent, so the threads take whole column ranges instead (ops
    release the GIL). On a GPU, or with one thread, one range in this thread.
    """
    threads = torch.get_num_threads()
    ranges = _split(n, block, threads if device.type == "cpu" else 1)
    if len(ranges) == 1:
        return [fn(ranges[0])]

    def run(span: range):
        with torch.no_grad():  # grad mode is per thread; these loops are never differentiated
            return fn(span)

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(len(ranges)) as pool:
            return list(pool.map(run, ranges))
    finally:
        torch.set_num_threads(threads)


def forward_seq(xs, k, decay, v_th, c: Constants, block: int = BLOCK) -> torch.Tensor:
    """Spikes ``[T, ...]`` from input ``[T, ...]`` (contiguous), no autograd."""
    act = ACTIVATIONS[c.activation]
    T = xs.shape[0]
    x2 = xs.reshape(T, -1)
    out = torch.empty_like(x2)
    kd, kq = k * decay, k * (1.0 - decay)
    vr = torch.full((), c.v_reset, dtype=xs.dtype, device=xs.device)
    _parallel(
        lambda span: _forward_span(x2, out, span, k, kd, kq, vr, v_th, c, act, block),
        x2.shape[1],
        block,
        xs.device,
    )
    return out.view_as(xs)


def _forward_span(
    x2, out, span: range, k, kd, kq, vr, v_th, c: Constants, act: Activation, block: int
) -> None:
    T = x2.shape[0]
    work = torch.empty(T, min(block, len(span)), dtype=x2.dtype, device=x2.device)
    for cols in _blocks(span, block):
        a_all = _start(x2[:, cols], kd, kq, c, work[:, : cols.stop - cols.start])
        for t in range(T):
            a = a_all[t] if t == 0 else a_all[t].addcmul_(a_all[t - 1], kq)  # eq. (2) times k
            f = a if act.identity else _act_into(act, a, c.act_param, a)  # eq. (5)
            s = torch.gt(f, v_th, out=out[t, cols])  # eqs. (3), (6)
            if t < T - 1:  # V_t, kept in a_t's place
                r = f.div_(k) if c.reset_div_k else f  # eq. (10) vs (7)
                _reset_into(r, s, c.v_reset, vr, r)


def backward_seq(xs, gs, k, decay, v_th, c: Constants, needs, block: int = BLOCK):
    """``(dL/dX, dL/dk, dL/dd, dL/dV_th)`` from X and dL/dS (both ``[T, ...]``, contiguous); ``None`` where
    ``needs`` (k, d, V_th) says no."""
    need_k, need_d, need_th = needs
    T = xs.shape[0]
    x2, g2 = xs.reshape(T, -1), gs.reshape(T, -1)
    gx = torch.empty_like(x2)
    kd, kq = k * decay, k * (1.0 - decay)
    parts = _parallel(
        lambda span: _backward_span(x2, g2, gx, span, k, kd, kq, v_th, c, needs, block),
        x2.shape[1],
        block,
        xs.device,
    )

    def total(name, need):
        return torch.stack([t for part in parts for t in part[name]]).sum() if need else None

    return gx.view_as(xs), total("k", need_k), total("d", need_d), total("th", need_th)


def _backward_span(x2, g2, gx, span: range, k, kd, kq, v_th, c: Constants, needs, block: int) -> dict:
    """One column range of :func:`backward_seq`; returns the parameter gradients' per-block terms."""
    act = ACTIVATIONS[c.activation]
    need_k, need_d, need_th = needs
    T = x2.shape[0]
    kq_f = float(kq)
    vr = torch.full((), c.v_reset, dtype=x2.dtype, device=x2.device)
    one = torch.ones((), dtype=x2.dtype, device=x2.device)
    spaces = 5 + 2 * (not act.identity) + need_d
    ws = torch.empty(spaces, T, min(block, len(span)), dtype=x2.dtype, device=x2.device)
    sums = {"k": [], "d": [], "th": []}
    for cols in _blocks(span, block):
        w = cols.stop - cols.start
        a_all, s_all, sg, q, ga, *more = (buf[:, :w] for buf in ws)
        f_all, d_act = (a_all, None) if act.identity else (more.pop(0), more.pop(0))
        v_all = more.pop(0) if need_d else None  # V_{t-1} per step (dL/dd only)
        x, g = x2[:, cols], g2[:, cols]

        # Forward again, keeping a_t = k H_t, F_t, S_t (and V_{t-1}); V_t lives in ga's rows meanwhile.
        _start(x, kd, kq, c, a_all)
        if need_d:
            v_all[0].fill_(c.v_init)
        for t in range(T):
            a = a_all[t]
            if t:
                v = v_all[t] if need_d else ga[t - 1]
                a.addcmul_(v, kq)
            f = a if act.identity else _act_into(act, a, c.act_param, f_all[t])
            s = torch.gt(f, v_th, out=s_all[t])
            if t < T - 1:
                v = v_all[t + 1] if need_d else ga[t]
                r = torch.div(f, k, out=v) if c.reset_div_k else f
                _reset_into(r, s, c.v_reset, vr, v)

        # The whole block at once: sg, act', Q, P (module docstring).
        torch.sub(f_all, v_th, out=sg)
        _surrogate_(c.surrogate, sg, c.alpha)
        if d_act is not None:
            _grad_into(act, a_all, c.act_param, d_act)
        torch.sub(one, s_all, out=q)  # 1 - S
        if c.reset_div_k:
            q.div_(k)
        reset_sg = None
        if not c.detach_reset:  # + (V_reset - R) sg
            r_minus = f_all / k if c.reset_div_k else f_all
            if c.v_reset != 0.0:
                r_minus = r_minus - c.v_reset
            if need_th:
                reset_sg = torch.mul(r_minus, sg).neg_()
                q.add_(reset_sg)
            else:
                q.addcmul_(r_minus, sg, value=-1.0)
        if d_act is not None:
            q.mul_(d_act)
        torch.mul(g, sg, out=ga)
        if need_th:
            sums["th"].append(-ga.sum())  # -sum_t dL/dS_t sg_t
        if d_act is not None:
            ga.mul_(d_act)
        for t in range(T - 2, -1, -1):  # the recurrence, in place
            ga[t].addcmul_(q[t], ga[t + 1], value=kq_f)
        torch.mul(ga, kd, out=gx[:, cols])
        flat = ga.reshape(-1)
        if need_th and reset_sg is not None:
            sums["th"].append(-kq * torch.vdot(ga[1:].reshape(-1), reset_sg[:-1].reshape(-1)))
        if need_k:
            sums["k"].append(torch.vdot(flat, a_all.reshape(-1)) / k)
            if c.reset_div_k:  # eq. (10)'s reset R = F / k: -sum_t gv_t (1 - S_t) F_t / k^2
                kept = (1.0 - s_all[:-1]) * f_all[:-1]
                sums["k"].append(-kq / (k * k) * torch.vdot(ga[1:].reshape(-1), kept.reshape(-1)))
        if need_d:
            d_in = torch.sub(x, v_all).add_(c.v_reset)
            sums["d"].append(k * torch.vdot(flat, d_in.reshape(-1)))

    return sums
