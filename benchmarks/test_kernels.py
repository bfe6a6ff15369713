"""Neuron kernels against this machine's memory bandwidth and against the field's implementations, one run.

A multi-step neuron is memory-bound: per element and step, the forward must read X and write S (8 bytes in
float32) and forward+backward must also read dL/dS, re-read X and write dL/dX (20 bytes). The bound is those
bytes over the bandwidth of a 256 MB tensor copy (which reads and writes 256 MB each), measured first in the
same run. Targets (issue 15, forward+backward, 2 threads): compiled <= 1.3x the bound, eager <= 4x.

Rows, each timed on the same ``[8, 32, 128, 14, 14]`` float32 input: ours compiled (``torch.compile``) and
eager (:mod:`suite.neurons.eager`, ``SUITE_COMPILE=0``), the naive per-step autograd loop
(:func:`suite.neurons.kernel.reference`), SpikingJelly 2.0's ``KLIFNode`` / ``LIFNode`` (multi-step, its torch
loop on a CPU, ATan surrogate) and snnTorch's ``Leaky`` stepped over T (reset to zero, ATan): the peers run only
where installed (``nox -s bench`` installs them without their dependencies, which would replace the CPU
torch). The summary prints every row as time, x the bound and x ours compiled.
"""

from __future__ import annotations

import math

import pytest
import torch

from suite import neurons
from suite.neurons import kernel

SHAPE = (8, 32, 128, 14, 14)
BYTES = {"fwd": 8, "fwd+bwd": 20}
THREADS = 2
_bandwidth: dict[int, float] = {}
_ours: dict[tuple[str, str], float] = {}


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield THREADS
    torch.set_num_threads(before)


def test_bandwidth_copy_256mb(benchmark, threads, report):
    src = torch.ones(64 * 1024 * 1024)  # 256 MB of float32
    dst = torch.empty_like(src)
    benchmark.pedantic(dst.copy_, args=(src,), rounds=10, warmup_rounds=2)
    gbps = 2 * src.numel() * 4 / benchmark.stats.stats.median / 1e9
    _bandwidth[threads] = gbps
    report("kernels", f"bandwidth, {threads} threads: {gbps:.1f} GB/s (256 MB copy, read + write)")


def _ours_path(name, path):
    n = neurons.make(name, fused=path != "naive per-step")
    return n, list(n.parameters())


def _sj(name, path):
    sj = pytest.importorskip("spikingjelly.activation_based.neuron")
    from spikingjelly.activation_based import surrogate

    kind = {"KLIF": sj.KLIFNode, "LIF": sj.LIFNode}[name]
    n = kind(tau=2.0, surrogate_function=surrogate.ATan(alpha=2.0), step_mode="m")  # CPU: its torch loop

    def run(x):
        n.reset()
        return n(x)

    return run, list(n.parameters())


def _snntorch(name, path):
    snntorch = pytest.importorskip("snntorch")
    leaky = snntorch.Leaky(
        beta=0.5, threshold=1.0, reset_mechanism="zero", spike_grad=snntorch.surrogate.atan()
    )

    def run(x):
        mem = leaky.init_leaky()
        out = []
        for x_t in x.unbind(0):
            s, mem = leaky(x_t, mem)
            out.append(s)
        return torch.stack(out)

    return run, list(leaky.parameters())


# path -> (how to build it, which neurons it has)
IMPLEMENTATIONS = {
    "ours compiled": (_ours_path, ("LIF", "KLIF")),
    "ours eager": (_ours_path, ("LIF", "KLIF")),
    "naive per-step": (_ours_path, ("LIF", "KLIF")),
    "SpikingJelly 2.0": (_sj, ("LIF", "KLIF")),
    "snnTorch Leaky": (_snntorch, ("LIF",)),
}
CASES = [
    pytest.param(name, mode, path, id=f"{name}-{mode}-{path.replace(' ', '_')}")
    for name in ("LIF", "KLIF")
    for path, (_, has) in IMPLEMENTATIONS.items()
    if name in has
    for mode in (("fwd", "fwd+bwd") if path.startswith("ours") else ("fwd+bwd",))
]


@pytest.mark.parametrize("name, mode, path", CASES)
def test_kernel(benchmark, threads, report, name, mode, path):
    torch.manual_seed(0)
    build, _ = IMPLEMENTATIONS[path]
    n, params = build(name, path)
    x = (torch.randn(SHAPE) * 1.5).requires_grad_()
    g = torch.randn(SHAPE)

    def fwd():
        with torch.no_grad():
            n(x)

    def fwd_bwd():
        torch.autograd.grad(n(x), [x, *params], g)

    with kernel.compiling(path == "ours compiled"):
        fn = fwd if mode == "fwd" else fwd_bwd
        fn()  # compile (cached on disk after the first run) and warm up
        slow = path in ("naive per-step", "SpikingJelly 2.0", "snnTorch Leaky")
        benchmark.group = f"{name} {mode}"
        benchmark.pedantic(fn, rounds=5 if slow else 15, warmup_rounds=1 if slow else 2)
    t = benchmark.stats.stats.median
    if path == "ours compiled":
        _ours[name, mode] = t
    bound = x.numel() * BYTES[mode] / (_bandwidth.get(threads, math.nan) * 1e9)
    vs = t / _ours.get((name, mode), math.nan)
    benchmark.extra_info.update({"x_bound": round(t / bound, 3), "x_ours_compiled": round(vs, 3)})
    report(
        "kernels",
        f"{name:4s} {mode:7s} {path:17s} {t * 1e3:8.2f} ms  {t / bound:6.2f}x bound ({bound * 1e3:.2f} ms)  "
        f"{vs:6.2f}x ours compiled",
    )
