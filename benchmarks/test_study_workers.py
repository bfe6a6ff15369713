"""Wall time of a small study at 1 worker against ``--workers auto``, on this machine, in the same run.

The study: 4 runs (LIF, KLIF x 2 seeds) of Table 1's MNIST network at width 1/8, T = 4, 2 epochs on 1,000 real
training images (``../shared/data`` or ``SUITE_DATA``), each invocation on a fresh store so both train
everything. The two invocations run one after the other; the ratio is what ``--workers auto`` (the default)
buys over running the points one at a time with all threads each. Printed, not asserted.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from suite.study import executor, run_study

STUDY = """
name = "workers"
title = "--workers 1 vs auto"
seeds = [0, 1]
[base]
dataset = "mnist"
width = 0.125
T = 4
batch_size = 32
lr = 1e-3
[grid]
neuron = ["LIF", "KLIF"]
[profiles.bench]
epochs = 2
t_max = 2
limit_train = 1000
limit_test = 500
"""
DATA = Path(os.environ.get("SUITE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def test_study_wall_time_one_worker_vs_auto(benchmark, tmp_path, monkeypatch, report):
    if not (DATA / "MANIFEST.md").exists():
        pytest.skip(f"real data not found at {DATA}")
    study = tmp_path / "workers.toml"
    study.write_text(STUDY)
    wall = {}

    def invocation(workers):
        home = tmp_path / f"home-{workers}"
        monkeypatch.setenv("SUITE_HOME", str(home))
        t0 = time.perf_counter()
        code = run_study(
            str(study),
            profile="bench",
            workers=workers,
            data_root=str(DATA),
            tracking_uri=f"sqlite:///{home}/mlflow.db",
            report=False,
            out=lambda line: None,
        )
        assert code == 0
        wall[workers] = time.perf_counter() - t0

    def both():
        invocation(1)
        invocation("auto")

    benchmark.group = "study wall time"
    benchmark.pedantic(both, rounds=1, iterations=1)
    split = executor.LocalPool(executor.PoolSettings()).plan(4)
    ratio = wall[1] / wall["auto"]
    benchmark.extra_info.update({"workers_1_s": round(wall[1], 1), "auto_s": round(wall["auto"], 1)})
    report(
        "study wall time",
        f"4-run MNIST study: --workers 1 {wall[1]:.1f} s, --workers auto ({split}) {wall['auto']:.1f} s: "
        f"auto is {ratio:.2f}x faster",
    )
