"""Compile the neuron kernels once per study, before the workers start, and share them through the disk.

A spawned worker starts with a fresh torch: every kernel it calls is traced and compiled again unless
inductor finds it in its on-disk caches (the FX graph cache and the AOT-autograd cache, both on by default,
under ``TORCHINDUCTOR_CACHE_DIR``). :func:`warm` points that directory at the study home
(``<home>/compile-cache``, beside the tracking store, so every runner and worker of the store shares it,
and a second study or a rerun finds it filled) and compiles, in the runner, each kernel the planned runs
will call, by taking one training step of each distinct run's network (:func:`warm`). The kernels see X
as ``[T, N]`` with N dynamic (:mod:`suite.neurons.kernel`), so a few artifacts per (neuron constants, T,
dtype, device, threads) serve every layer. The workers, spawned after, inherit the variable and load.

What a worker still pays is Dynamo's trace of the loop and the cache lookup (seconds, not the tens of
seconds of a cold compile); ``benchmarks/test_compile_cache.py`` measures both in fresh processes.

The runner calls ``warm([point.config for point in plan.todo], home, threads)`` once, before it starts
workers (and before it compiles anything itself: inductor keeps some of its first cache directory's
paths for the life of the process), with the threads each worker will use. It returns at once (and compiles nothing) where compiling is
off (``SUITE_COMPILE=0``) or broken.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from suite.neurons import kernel

ENV = "TORCHINDUCTOR_CACHE_DIR"


def cache_dir(home: str | Path) -> Path:
    return Path(home) / "compile-cache"


def use_cache(home: str | Path) -> Path:
    """Point inductor's on-disk caches at ``<home>/compile-cache`` in this process and every process it spawns
    from now on; returns the directory.

    Always set, never ``setdefault``: inductor writes its default (a per-user temp dir) into the variable
    the first time it compiles, so a value found there does not mean a user chose it. Elsewhere: a
    different ``SUITE_HOME``."""
    path = cache_dir(home).resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(path)
    return path


# What decides the shapes and constants the neuron kernels of a run see (and so which kernels it compiles).
SHAPE_KEYS = (
    "dataset",
    "network",
    "neuron",
    "T",
    "width",
    "encoder",
    "encoder_norm",
    "linear_bias",
    "batch_size",
)


def kernels(configs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The resolved configs of ``configs`` whose neuron kernels differ (one per network, neuron and its
    parameters, T, batch size, device, amp), in order; ANN runs compile nothing and are left out."""
    from suite import neurons, settings, train  # train imports the data layer: only when warming

    seen: dict[str, dict[str, Any]] = {}
    for config in configs:
        cfg = train.resolve(dict(config))
        if cfg["neuron"] not in neurons.names():
            continue
        cfg["device"] = train.pick_device(cfg["device"])
        keys = (*SHAPE_KEYS, *settings.NEURON_KEYS, "device", "amp")
        seen.setdefault(repr([(k, cfg[k]) for k in keys]), cfg)
    return list(seen.values())


def warm(configs: Iterable[Mapping[str, Any]], home: str | Path, threads: int | None = None) -> float:
    """Compile every neuron kernel the runs of ``configs`` will call into ``<home>/compile-cache``; returns
    the seconds spent (0 when compiling is off).

    Each distinct run (:func:`kernels`) builds its network as the worker will and takes one training step on
    a batch of its real shape, so the kernels are compiled in the order, at the sizes and for the thread
    count the worker meets first: inductor's cache key includes the thread count its C++ kernels are
    generated for, and its dynamic-shape kernels guard on the sizes first seen (the backward's reduction is
    split differently above 4096 elements). ``threads``: the torch threads per worker (default: this
    process's).
    """
    use_cache(home)
    if not kernel.compile_enabled():
        return 0.0
    from suite import data, train

    before = torch.get_num_threads()
    t0 = time.perf_counter()
    kernel.reset()  # kernels compiled earlier here (other threads, other cache) would be reused, not written
    try:
        torch.set_num_threads(threads or before)
        for cfg in kernels(configs):
            info = data.info(cfg["dataset"])
            device = torch.device(cfg["device"])
            net = train._network(cfg, info).to(device)
            x = torch.rand(cfg["batch_size"], *info.in_shape, device=device)
            with torch.autocast(device.type, enabled=bool(cfg["amp"]) and device.type == "cuda"):
                net(x).float().sum().backward()  # the forward (train and eval share it) and the backward
    finally:
        torch.set_num_threads(before)
    return time.perf_counter() - t0
