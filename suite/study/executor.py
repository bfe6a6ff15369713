"""Executors run study tasks; the runner only sees this interface, so cluster backends plug in here.

An executor is built from its settings (:func:`make`: a name and a mapping, validated against the
executor's settings dataclass, so a cluster executor's partition, GPUs or time limit come from a file, not
code) and has ``slots`` (how many tasks run at once, for the ETA) and
``run(tasks, on_event) -> Iterator[(task, Result | exception)]``: it starts the tasks (each a JSON-able
dict for :func:`suite.study.worker.execute`), calls ``on_event`` with the progress dicts the workers send,
and yields each task with its outcome as it completes. Workers log to the tracking store themselves and
claim points by a lock in ``SUITE_HOME``, so the runner needs nothing else from an executor.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import queue
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from suite.study.worker import execute

Event = dict[str, Any]


class ExecutorError(ValueError):
    """A bad executor name or setting: one line naming it and what is allowed."""


class Executor(Protocol):
    slots: int

    def run(self, tasks: list[dict], on_event: Callable[[Event], None]) -> Iterator[tuple[dict, Any]]: ...


@dataclass(frozen=True)
class PoolSettings:
    workers: int = 1  # concurrent runs
    threads: int | None = None  # torch threads per run; None = this machine's cores / workers

    def __post_init__(self):
        if type(self.workers) is not int or self.workers < 1:
            raise ExecutorError(f"pool: workers: {self.workers!r} is out of range; allowed: an integer >= 1")
        if self.threads is not None and (type(self.threads) is not int or self.threads < 1):
            raise ExecutorError(f"pool: threads: {self.threads!r} is out of range; allowed: an integer >= 1")


class LocalPool:
    """A pool of local worker processes (spawned: no inherited threads, fresh torch state).

    The cores are divided among the workers here, where the runs execute: each task gets its
    ``runtime.threads`` unless it already says.
    """

    def __init__(self, settings: PoolSettings):
        self.settings = settings
        self.slots = settings.workers

    def _threads(self) -> int:
        return self.settings.threads or max(1, (os.cpu_count() or 1) // self.slots)

    def run(self, tasks: list[dict], on_event: Callable[[Event], None]) -> Iterator[tuple[dict, Any]]:
        ctx = mp.get_context("spawn")
        threads = self._threads()
        with ctx.Manager() as manager, ProcessPoolExecutor(self.slots, mp_context=ctx) as pool:
            events = manager.Queue()
            pending = {}
            for task in tasks:
                runtime = {"threads": threads, **task.get("runtime", {})}
                pending[pool.submit(execute, {**task, "runtime": runtime}, events)] = task
            while pending:
                done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                _drain(events, on_event)
                for fut in done:
                    task = pending.pop(fut)
                    try:
                        yield task, fut.result()
                    except Exception as err:  # a failed run, or a worker killed (BrokenProcessPool)
                        yield task, err
            _drain(events, on_event)


def _drain(events, on_event) -> None:
    while True:
        try:
            on_event(events.get_nowait())
        except queue.Empty:
            return


# name -> (settings dataclass, executor class)
EXECUTORS: dict[str, tuple[type, type]] = {"pool": (PoolSettings, LocalPool)}


def names() -> list[str]:
    return list(EXECUTORS)


def make(name: str, settings: Mapping[str, Any] | None = None) -> Executor:
    """The executor ``name`` built from ``settings`` (unknown or bad keys: one-line ExecutorError)."""
    if name not in EXECUTORS:
        raise ExecutorError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")
    settings_type, cls = EXECUTORS[name]
    fields = [f.name for f in dataclasses.fields(settings_type)]
    for key in settings or {}:
        if key not in fields:
            raise ExecutorError(f"{name}: {key}: unknown executor setting; allowed: {', '.join(fields)}")
    return cls(settings_type(**(settings or {})))
