"""Neuron kernels against this machine's memory bandwidth, measured in the same run.

A multi-step neuron is memory-bound: per element and step, the forward must read X and write S (8 bytes in
float32) and forward+backward must also read dL/dS, re-read X and write dL/dX (20 bytes). The bound is those
bytes over the bandwidth of a 256 MB tensor copy (which reads and writes 256 MB each). Targets: fused KLIF
forward+backward within 2x of the bound with 2 threads, the eager fallback within 6x.
"""

from __future__ import annotations

import pytest
import torch

from suite import neurons
from suite.neurons import kernel

SHAPE = (8, 32, 128, 14, 14)
BYTES = {"fwd": 8, "fwd+bwd": 20}
_bandwidth: dict[int, float] = {}


@pytest.fixture(params=[1, 2], ids=lambda n: f"{n}thr")
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def test_bandwidth_copy_256mb(benchmark, threads, report):
    src = torch.ones(64 * 1024 * 1024)  # 256 MB of float32
    dst = torch.empty_like(src)
    benchmark.pedantic(dst.copy_, args=(src,), rounds=10, warmup_rounds=2)
    gbps = 2 * src.numel() * 4 / benchmark.stats.stats.median / 1e9
    _bandwidth[threads] = gbps
    report("bandwidth", f"{threads} thread(s): {gbps:.1f} GB/s (256 MB copy, read + write)")


@pytest.mark.parametrize("path", ["fused-compiled", "fused-eager", "reference"])
@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("name", ["LIF", "KLIF"])
def test_kernel(benchmark, threads, report, name, mode, path):
    torch.manual_seed(0)
    n = neurons.make(name, fused=path != "reference")
    x = (torch.randn(SHAPE) * 1.5).requires_grad_()
    g = torch.randn(SHAPE)

    def fwd():
        with torch.no_grad():
            n(x)

    def fwd_bwd():
        torch.autograd.grad(n(x), [x, *n.parameters()], g)

    with kernel.compiling(path == "fused-compiled"):
        fn = fwd if mode == "fwd" else fwd_bwd
        fn()  # compile (cached on disk after the first run) and warm up
        benchmark.pedantic(fn, rounds=15 if path != "reference" else 5, warmup_rounds=2)
    t = benchmark.stats.stats.median
    if threads in _bandwidth:
        bound = x.numel() * BYTES[mode] / (_bandwidth[threads] * 1e9)
        report(
            "kernels vs bandwidth bound",
            f"{name:5s} {mode:8s} {path:15s} {threads} thr: {t * 1e3:7.2f} ms = {t / bound:5.2f}x bound "
            f"({bound * 1e3:.2f} ms)",
        )
