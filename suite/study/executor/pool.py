"""The default executor: a pool of local worker processes, the machine divided among them (:func:`split`)."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.managers import SyncManager
from typing import Any

from suite.study.executor.base import Event
from suite.study.executor.settings import AUTO_OR_POSITIVE, POSITIVE_OR_NONE, setting
from suite.study.worker import execute

RUN_MEMORY_GB = 1.5  # what one CPU run of a cpu profile holds at most (measured ~0.7 GB; margin for data)


@dataclass(frozen=True)
class Machine:
    """What the pool divides: cores, available memory, GPUs (read once, where the pool runs)."""

    cores: int
    memory_gb: float
    gpus: int

    @staticmethod
    def here() -> Machine:
        memory = math.inf
        try:
            for line in open("/proc/meminfo"):
                if line.startswith("MemAvailable:"):
                    memory = int(line.split()[1]) / 2**20
        except OSError:
            pass
        import torch

        return Machine(
            os.cpu_count() or 1, memory, torch.cuda.device_count() if torch.cuda.is_available() else 0
        )


def split(
    machine: Machine, tasks: int, workers: int | str = "auto", threads: int | None = None
) -> tuple[int, int]:
    """(concurrent runs, torch threads per run) for ``tasks`` runs on ``machine``.

    ``auto``: one run per GPU where there are GPUs; on a CPU one single-threaded run per core, as many as
    the memory holds. Small SNNs scale better over processes than over threads: table3's cpu profile on 2
    cores takes 23 min as 2 runs x 1 thread and 48 min as 1 run x 2 threads. Never more runs than tasks, so
    the last runs of a study get the cores the others freed.
    """
    if workers == "auto":
        by_memory = (
            max(1, int(machine.memory_gb // RUN_MEMORY_GB))
            if math.isfinite(machine.memory_gb)
            else machine.cores
        )
        workers = machine.gpus or min(machine.cores, by_memory)
        workers = max(1, min(workers, tasks))
    return workers, threads or max(1, machine.cores // workers)


@dataclass(frozen=True)
class PoolSettings:
    workers: int | str = setting("auto", AUTO_OR_POSITIVE, "concurrent runs (auto: see split)")
    threads: int | None = setting(None, POSITIVE_OR_NONE, "torch threads per run (default: cores / workers)")


def _die_with_parent() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass  # not Linux: the runner's own handler still stops the workers it can reach


def _init_worker(gpus) -> None:
    """Each worker process: dies with its runner, leaves Ctrl-C to it, and on a GPU host sees one GPU.

    A terminal's Ctrl-C reaches the whole process group; the runner alone handles it (stopping the workers
    and marking their runs interrupted), so a worker must not fail its run on it. PR_SET_PDEATHSIG makes the
    kernel kill a worker whose runner died, even by SIGKILL, instead of leaving it idle and holding memory.
    """
    _die_with_parent()
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get_nowait())  # before torch starts CUDA


def _stop(pool: ProcessPoolExecutor) -> None:
    """Kill the running workers and drop the queued tasks (the pool has no public way to kill)."""
    for proc in list(getattr(pool, "_processes", {}).values()):
        proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


class LocalPool:
    """A pool of local worker processes (spawned: no inherited threads, fresh torch state).

    The machine is divided here, where the runs execute (:func:`split`): each task gets its
    ``runtime.threads`` unless it already says, and on a GPU host each worker its own GPU.
    """

    def __init__(self, settings: PoolSettings, machine: Machine | None = None):
        self.settings = settings
        self.machine = machine or Machine.here()
        self.slots = self.settings.workers if self.settings.workers != "auto" else 1
        self.gpus_per_run = 1 if self.machine.gpus else 0
        self.epoch_s = None  # --dry-run's estimate measures it from the store

    def check(self, uri: str, home: str, data_root: str | None) -> None:
        """Nothing to check: the workers run here, with this machine's paths and store."""

    def plan(self, tasks: int) -> str:
        """Fix the split for ``tasks`` runs; returns it in words for the plan line."""
        self.slots, threads = split(self.machine, tasks, self.settings.workers, self.settings.threads)
        gpus = ", one GPU each" if self.machine.gpus and self.slots <= self.machine.gpus else ""
        return f"{self.slots} worker{'s' * (self.slots != 1)} × {threads} thread{'s' * (threads != 1)}{gpus}"

    def run(self, tasks: Iterable[dict], on_event: Callable[[Event], None]) -> Iterator[tuple[dict, Any]]:
        """Runs ``tasks`` (a list: split for its length; a lazy iterable: split as :meth:`plan` fixed it)."""
        ctx = mp.get_context("spawn")
        if isinstance(tasks, list):
            self.slots, threads = split(
                self.machine, len(tasks), self.settings.workers, self.settings.threads
            )
        else:
            threads = self.settings.threads or max(1, self.machine.cores // self.slots)
        slots, source = self.slots, iter(tasks)
        manager = SyncManager(
            ctx=ctx
        )  # the event queues' server process: it must not outlive the runner either
        manager.start(_die_with_parent)
        with manager:
            events, gpus = manager.Queue(), manager.Queue()
            pinned = self.machine.gpus and slots <= self.machine.gpus
            for i in range(slots if pinned else 0):
                gpus.put(i)
            init = {"initializer": _init_worker, "initargs": (gpus if pinned else None,)}
            with ProcessPoolExecutor(slots, mp_context=ctx, **init) as pool:
                try:
                    pending: dict = {}
                    broken: list[BaseException] = []  # a killed worker breaks the pool for good

                    def fill() -> None:  # never more queued than slots: the next task is taken late
                        while (
                            not broken and len(pending) < slots and (task := next(source, None)) is not None
                        ):
                            runtime = {"threads": threads, **task.get("runtime", {})}
                            job = {**task, "runtime": runtime, "concurrency": slots}
                            pending[pool.submit(execute, job, events)] = task

                    fill()
                    while pending:
                        done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                        _drain(events, on_event)
                        for fut in done:
                            task = pending.pop(fut)
                            try:
                                outcome = fut.result()
                            except Exception as err:  # a failed run, or a worker killed (BrokenProcessPool)
                                outcome = err
                                if isinstance(err, BrokenProcessPool):
                                    broken.append(err)
                            yield task, outcome
                        fill()
                    _drain(events, on_event)
                    if broken and isinstance(tasks, list):  # a list's tasks are all accounted for, as failed;
                        for task in source:  # a lazy stream (a search) is not asked for more
                            yield task, broken[0]
                except BaseException:  # Ctrl-C, SIGTERM, the runner giving up: no worker outlives it
                    _stop(pool)
                    raise


def _drain(events, on_event) -> None:
    while True:
        try:
            on_event(events.get_nowait())
        except queue.Empty:
            return
