"""One training step of Table 1's MNIST network, KLIF against the same network as an ANN, in the same run.

Step = zero_grad, forward, MSE loss between class rates and one-hot labels (the paper's loss), backward,
Adam step. Network ``table1-mnist`` at width 0.5, T = 8, batch 16 (input ``[16, 1, 28, 28]``). The ANN is
the same network with ``nn.ReLU`` in place of every neuron and T folded into the batch exactly as in the SNN
(:mod:`suite.models.network`), so the ratios isolate what the spiking neuron costs. A third variant, KLIF with
``pack_spikes=False``, shows what storing saved spikes as bool (:mod:`suite.models.packing`) buys.

Time: one intra-op thread, so that the process's CPU time measures the work of a step even when other jobs
share the machine (wall-clock time there depends on the neighbours; both are reported, CPU time is the
figure to compare with the target). The variants' steps are interleaved round by round, and each ratio uses
each variant's minimum over the rounds, the least disturbed estimate.

Memory: the peak of the CPU allocator during one step above what was allocated before it (parameters and
Adam state, which exist before the step, are not counted; gradients, saved activations and temporaries
are), read from ``torch.profiler``'s memory events ("Total Allocated" of the CPU allocator in the exported
trace). Gradients were freed (``zero_grad(set_to_none=True)``) just before the measured step.

Targets (printed, not asserted): SNN step time <= 1.10 x the ANN's, peak memory <= 1.4 x.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from suite import models

NET = dict(in_shape=(1, 28, 28), num_classes=10, T=8, width=0.5)
BATCH, ROUNDS, THREADS = 16, 10, 1
VARIANTS = {
    "ANN": dict(neuron="ANN"),
    "KLIF": dict(neuron="KLIF"),
    "KLIF-unpacked": dict(neuron="KLIF", pack_spikes=False),
}


class Step:
    def __init__(self, **kw):
        torch.manual_seed(0)
        self.net = models.make("table1-mnist", **NET, **kw)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-4)
        self.x = torch.rand(BATCH, *NET["in_shape"])
        self.y = F.one_hot(torch.randint(0, NET["num_classes"], (BATCH,)), NET["num_classes"]).float()

    def __call__(self, zero_grad: bool = True) -> None:
        if zero_grad:
            self.opt.zero_grad(set_to_none=True)
        F.mse_loss(self.net(self.x), self.y).backward()
        self.opt.step()

    def peak_bytes(self) -> int:
        self.opt.zero_grad(set_to_none=True)
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            self(zero_grad=False)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "trace.json")
            prof.export_chrome_trace(path)
            with open(path) as f:
                events = json.load(f)["traceEvents"]
        mem = sorted(
            (e for e in events if e.get("name") == "[memory]" and e["args"].get("Device Type") == 0),
            key=lambda e: e["ts"],
        )
        start = mem[0]["args"]["Total Allocated"] - mem[0]["args"]["Bytes"]
        return max(e["args"]["Total Allocated"] for e in mem) - start


@pytest.fixture(scope="module")
def steps() -> dict[str, Step]:
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    out = {name: Step(**kw) for name, kw in VARIANTS.items()}
    for step in out.values():  # compile the neuron kernels (cached on disk after the first run), warm up
        step()
        step()
    yield out
    torch.set_num_threads(threads)


@pytest.mark.parametrize("variant", ["ANN", "KLIF"])
def test_train_step(benchmark, steps, variant):
    """Each network's step on its own, for pytest-benchmark's saved history (compare across commits)."""
    benchmark.group = "train-step table1-mnist w0.5 T8 B16"
    benchmark.pedantic(steps[variant], rounds=5, warmup_rounds=1)


def test_train_step_snn_vs_ann(benchmark, steps, report):
    wall: dict[str, list[float]] = {name: [] for name in steps}
    cpu: dict[str, list[float]] = {name: [] for name in steps}

    def one_round():
        for name, step in steps.items():
            w0, c0 = time.perf_counter(), time.process_time()
            step()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)

    benchmark.group = "train-step ratios"
    benchmark.pedantic(one_round, rounds=ROUNDS, warmup_rounds=1)
    peak = {name: step.peak_bytes() for name, step in steps.items()}
    best_cpu = {name: min(t) for name, t in cpu.items()}
    best_wall = {name: min(t) for name, t in wall.items()}
    for name in steps:
        report(
            "train step",
            f"{name:14s} CPU {best_cpu[name] * 1e3:7.1f} ms  wall {best_wall[name] * 1e3:7.1f} ms (min of "
            f"{ROUNDS}, {THREADS} thread)  peak {peak[name] / 2**20:6.1f} MiB",
        )
    for snn in ("KLIF", "KLIF-unpacked"):
        t_ratio, m_ratio = best_cpu[snn] / best_cpu["ANN"], peak[snn] / peak["ANN"]
        benchmark.extra_info[f"{snn}/ANN time"] = round(t_ratio, 3)
        benchmark.extra_info[f"{snn}/ANN memory"] = round(m_ratio, 3)
        report(
            "train step",
            f"{snn}/ANN step time {t_ratio:.2f}x CPU (target <= 1.10x), {best_wall[snn] / best_wall['ANN']:.2f}x "
            f"wall; peak memory {m_ratio:.2f}x (target <= 1.4x)",
        )
