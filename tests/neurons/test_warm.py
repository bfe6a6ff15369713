"""The runner's warm-up: which kernels the planned runs need, and a cache that a fresh process then hits."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from suite.neurons import kernel, warm


def test_kernels_are_the_distinct_runs_of_the_configs():
    configs = [
        {"dataset": "mnist", "neuron": "LIF", "seed": 0},
        {"dataset": "mnist", "neuron": "LIF", "seed": 1, "lr": 0.1},  # same kernels as the first
        {"dataset": "mnist", "neuron": "KLIF", "T": 4},
        {"dataset": "mnist", "neuron": "KLIF", "T": 4, "detach_reset": True},
        {"dataset": "mnist", "neuron": "KLIF", "T": 4, "batch_size": 3},  # other sizes seen first
        {"dataset": "mnist", "neuron": "ANN"},  # nothing to compile
    ]
    got = warm.kernels(configs)
    assert [(c["neuron"], c["T"], c["seed"]) for c in got] == [
        ("LIF", 8, 0),
        ("KLIF", 4, 0),
        ("KLIF", 4, 0),
        ("KLIF", 4, 0),
    ]
    assert [c["detach_reset"] for c in got[1:3]] != [True, True] and got[2]["detach_reset"] is True
    assert got[3]["batch_size"] == 3 and all(c["device"] == "cpu" for c in got)


def test_warm_points_the_cache_at_the_home_and_compiles_nothing_when_off(tmp_path, monkeypatch):
    monkeypatch.setenv(warm.ENV, "/somewhere/else")
    with kernel.compiling(False):
        assert warm.warm([{"dataset": "mnist", "neuron": "KLIF"}], tmp_path) == 0.0
    assert warm.os.environ[warm.ENV] == str((tmp_path / "compile-cache").resolve())
    assert (tmp_path / "compile-cache").is_dir()


FRESH = """
import json, torch
import torch.nn.functional as F
from torch._dynamo.utils import counters
from suite import data, train
torch.set_num_threads(1)
cfg = train.resolve({"dataset": "mnist", "neuron": "KLIF", "T": 2, "width": 0.125, "batch_size": 2})
net = train._network(cfg, data.info("mnist"))
F.mse_loss(net(torch.rand(2, 1, 28, 28)), torch.zeros(2, 10)).backward()  # a worker's first step
print(json.dumps(dict(counters["inductor"])))
"""


RUNNER = """
import sys
from suite.neurons import kernel, warm
config = {"dataset": "mnist", "neuron": "KLIF", "T": 2, "width": 0.125, "batch_size": 2}
with kernel.compiling(True):
    assert warm.warm([config], sys.argv[1], threads=1) > 0
"""


@pytest.mark.slow
def test_a_process_started_after_warm_loads_every_kernel_from_the_cache(tmp_path):
    """A runner process warms a KLIF run at T = 2; a fresh process (as a spawned worker, 1 thread, with the
    cache directory the runner set) then compiles nothing: inductor's FX graph cache hits for the forward
    and the backward and misses nothing."""
    env = {**os.environ, "SUITE_COMPILE": "1"}
    subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path)], check=True, env=env)
    env[warm.ENV] = str(warm.cache_dir(tmp_path).resolve())
    proc = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, check=True, env=env)
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert stats.get("fxgraph_cache_hit", 0) >= 2
    assert stats.get("fxgraph_cache_miss", 0) == 0
