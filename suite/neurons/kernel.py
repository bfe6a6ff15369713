"""The time loop, in one place: the fused multi-step kernel and the per-step autograd reference.

``run(xs, params, constants, fused=True)`` maps input current ``[T, B, ...]`` to spikes of the same shape.

Fused path (:class:`_Fused`): a ``torch.autograd.Function`` whose forward runs the whole time loop without an
autograd graph and saves only the input X (no H, no V, no surrogate values: one input-sized tensor); its
backward recomputes H from X and runs BPTT by hand, returning gradients for X, k, the decay and the
threshold. The neurons are independent, so both loops see X as ``[T, N]`` (N = B x C x ...): one compiled
kernel per (constants, T, dtype, device) serves every layer and batch size (N is dynamic).

- Compiled: :func:`suite.neurons.dynamics.forward_seq` / ``backward_seq`` through ``torch.compile`` (inductor
  fuses each unrolled loop into one element-wise kernel that reads X once and writes S once; on CUDA, a
  Triton kernel). Inductor's on-disk caches keep the artifacts across processes; :mod:`suite.neurons.warm`
  fills them once per study, before the workers start.
- Eager, where no compiler works (a failed compile switches every later call over), or ``SUITE_COMPILE=0``:
  :mod:`suite.neurons.eager`, the same equations written for eager execution.

Reference path (:func:`reference`): :func:`suite.neurons.dynamics.step` applied per step under autograd,
iterating with ``unbind`` (``x[t]`` inside autograd zero-fills a full ``[T, ...]`` gradient per step).
"""

from __future__ import annotations

import contextlib
import os
import warnings

import torch

from suite.neurons import dynamics, eager
from suite.neurons.dynamics import Constants, Params, step

_compiled: dict[tuple, object] = {}
_compile_broken = False
_limits_raised = False
_override: bool | None = None


def _raise_recompile_limits() -> None:
    """Raise Dynamo's recompile limits to at least 1024, once, before the first ``torch.compile``.

    Dynamo counts recompiles per code object: every neuron variant, T and dtype is one more entry of the
    same two loops, far beyond the default limit of 8.
    """
    global _limits_raised
    if _limits_raised:
        return
    _limits_raised = True
    for name in (
        "recompile_limit",
        "cache_size_limit",
        "accumulated_recompile_limit",
        "accumulated_cache_size_limit",
    ):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, max(getattr(torch._dynamo.config, name), 1024))


def compile_enabled() -> bool:
    if _override is not None:
        return _override and not _compile_broken
    return os.environ.get("SUITE_COMPILE", "1") != "0" and not _compile_broken


@contextlib.contextmanager
def compiling(enabled: bool):
    """Force the compiled (or eager) loops inside the block, whatever ``SUITE_COMPILE`` says."""
    global _override
    before, _override = _override, enabled
    try:
        yield
    finally:
        _override = before


def reset() -> None:
    """Forget this process's compiled kernels (the next call compiles, or loads from the on-disk cache, again)."""
    _compiled.clear()
    torch._dynamo.reset()


def _kernel(fn, key):
    """``fn`` compiled once per key (constants, device type, dtype); ``None`` when not compiling."""
    if not compile_enabled():
        return None
    if key not in _compiled:
        _raise_recompile_limits()
        _compiled[key] = torch.compile(fn, dynamic=True, fullgraph=True)
    return _compiled[key]


def _call(compiled_fn, eager_fn, key, xs, *args):
    """``compiled_fn`` on ``xs`` (and dL/dS, the first of ``args`` in the backward) seen as ``[T, N]``, or
    ``eager_fn`` where nothing compiles."""
    global _compile_broken
    kern = _kernel(compiled_fn, key)
    if kern is not None:
        try:
            # detach(): a reshaped view keeps its base, and Dynamo guards on the base's rank and strides
            # (one recompile per layer shape); the detached view is the same memory without a base.
            flat = [a.reshape(a.shape[0], -1).detach() if a.shape == xs.shape else a for a in (xs, *args[:1])]
            # specialize_float: the loops' floats are Constants, already in the key; left symbolic, Dynamo
            # traces each loop, fails to turn them into tensors and traces it again (a second or two per
            # kernel in every fresh worker).
            with torch._dynamo.config.patch(specialize_float=True):
                out = kern(*flat, *args[len(flat) - 1 :])
            return (out[0].view_as(xs), *out[1:]) if isinstance(out, tuple) else out.view_as(xs)
        except Exception as err:  # no C++ compiler, unsupported backend: the eager loop is the same math
            if isinstance(err, (torch._dynamo.exc.BackendCompilerFailed, OSError, RuntimeError)):
                _compile_broken = True  # the toolchain itself is unusable: stop trying for every key
            _compiled[key] = None
            warnings.warn(
                f"torch.compile failed ({type(err).__name__}: {err}); using the eager loop", stacklevel=3
            )
    return eager_fn(xs, *args)


class _Fused(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xs, k, decay, v_th, c: Constants):
        key = ("fwd", c, xs.device.type, xs.dtype)
        spikes = _call(dynamics.forward_seq, eager.forward_seq, key, xs, k, decay, v_th, c)
        ctx.save_for_backward(xs, k, decay, v_th)
        ctx.c = c
        return spikes

    @staticmethod
    def backward(ctx, gs):
        xs, k, decay, v_th = ctx.saved_tensors
        needs = tuple(ctx.needs_input_grad[1:4])
        key = ("bwd", ctx.c, needs, xs.device.type, xs.dtype)
        gx, gk, gd, gth = _call(
            dynamics.backward_seq, eager.backward_seq, key, xs, gs.contiguous(), k, decay, v_th, ctx.c, needs
        )
        if not ctx.needs_input_grad[0]:
            gx = None
        return gx, gk, gd, gth, None


def fused(xs: torch.Tensor, p: Params, c: Constants) -> torch.Tensor:
    return _Fused.apply(xs.contiguous(), p.k, p.decay, p.v_th, c)


def reference(xs: torch.Tensor, p: Params, c: Constants) -> torch.Tensor:
    v = torch.full_like(xs[0], c.v_init)
    out = []
    for x in xs.unbind(0):
        s, v = step(x, v, p, c)
        out.append(s)
    return torch.stack(out)


def run(xs: torch.Tensor, p: Params, c: Constants, use_fused: bool = True) -> torch.Tensor:
    return fused(xs, p, c) if use_fused else reference(xs, p, c)
