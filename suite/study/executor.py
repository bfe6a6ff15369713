"""Executors run study tasks; the runner only sees this interface, so a cluster backend plugs in later.

An executor is any object with ``run(tasks, on_event) -> Iterator[(task, result | exception)]``: it
starts the tasks (each a JSON-able dict for :func:`suite.study.worker.execute`), calls ``on_event`` with
the progress dicts the workers send, and yields each task with its outcome as it completes. A SLURM or
Ray backend submits ``python -m suite worker <task.json>`` jobs and polls; workers log to the tracking
server themselves and claim points by a lock in the shared ``SUITE_HOME``, so nothing else changes.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol

from suite.study.worker import execute

Event = dict[str, Any]


class Executor(Protocol):
    def run(self, tasks: list[dict], on_event: Callable[[Event], None]) -> Iterator[tuple[dict, Any]]: ...


class LocalPool:
    """A pool of local worker processes (spawned: no inherited threads, fresh torch state)."""

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))

    def run(self, tasks: list[dict], on_event: Callable[[Event], None]) -> Iterator[tuple[dict, Any]]:
        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager, ProcessPoolExecutor(self.workers, mp_context=ctx) as pool:
            events = manager.Queue()
            pending = {pool.submit(execute, task, events): task for task in tasks}
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


EXECUTORS: dict[str, Callable[[int], Executor]] = {"local": LocalPool}
