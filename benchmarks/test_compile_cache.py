"""What a freshly spawned study worker pays in compilation before its first epoch: cold, and after the runner's
warm-up (:func:`suite.neurons.warm.warm`) filled the shared on-disk cache.

Each measurement is a fresh Python process, as a spawned worker is: it builds a run's network exactly as
a worker does (``train.resolve`` and the run's network: Table 1's MNIST network, KLIF, width 0.5, T = 8,
1 thread) and times two training steps (batch 16); the compile it paid is the first step's time minus the
second's. Cold: an empty inductor cache. Warm: a separate "runner" process first calls
``warm.warm(configs, home)`` for the same config, and the worker gets the ``TORCHINDUCTOR_CACHE_DIR`` that
set (as a worker spawned after it inherits it). Target (issue 15): under 2 s warm. Printed, not asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CONFIG = {"dataset": "mnist", "neuron": "KLIF", "width": 0.5, "batch_size": 16}

WORKER = """
import json, sys, time
import torch, torch.nn.functional as F
from suite import data, train
cfg = train.resolve(json.loads(sys.argv[1]))
torch.set_num_threads(1)
torch.manual_seed(0)
net = train._network(cfg, data.info(cfg["dataset"]))
opt = torch.optim.Adam(net.parameters(), lr=1e-4)
x, y = torch.rand(16, 1, 28, 28), F.one_hot(torch.randint(0, 10, (16,)), 10).float()
def step():
    opt.zero_grad()
    F.mse_loss(net(x), y).backward()
    opt.step()
t0 = time.perf_counter(); step(); t1 = time.perf_counter(); step(); t2 = time.perf_counter()
print(json.dumps({"first": t1 - t0, "second": t2 - t1}))  # inductor's import is in the first step too
"""

RUNNER = """
import json, sys
from suite.neurons import warm
print(json.dumps({"warm_s": warm.warm([json.loads(sys.argv[1])], sys.argv[2], threads=1)}))
"""


def _python(code: str, *args: str, env: dict) -> dict:
    env = {**os.environ, "SUITE_COMPILE": "1", **env}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_worker_startup_compile_cold_vs_warmed(benchmark, tmp_path, report):
    result = {}

    def measure():
        cold = _python(WORKER, json.dumps(CONFIG), env={"TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cold")})
        home = tmp_path / "home"
        runner = _python(RUNNER, json.dumps(CONFIG), str(home), env={})
        cache = str((home / "compile-cache").resolve())
        warmed = _python(WORKER, json.dumps(CONFIG), env={"TORCHINDUCTOR_CACHE_DIR": cache})
        result.update(cold=cold, runner=runner, warmed=warmed)

    benchmark.group = "worker start-up compile"
    benchmark.pedantic(measure, rounds=1, iterations=1)
    cold = result["cold"]["first"] - result["cold"]["second"]
    warmed = result["warmed"]["first"] - result["warmed"]["second"]
    benchmark.extra_info.update({"cold_s": round(cold, 2), "warmed_s": round(warmed, 2)})
    report(
        "worker start-up compile",
        f"fresh worker, table1-mnist KLIF w0.5 T8: cold cache {cold:.1f} s, after the runner's warm-up "
        f"({result['runner']['warm_s']:.1f} s, once per study) {warmed:.1f} s "
        f"({'meets' if warmed < 2 else 'MISSES'} the 2 s target)",
    )
