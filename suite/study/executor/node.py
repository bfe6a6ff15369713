"""What a submitit job runs on its node: one point, with threads decided there and requeue made safe.

:class:`RunPoint` is submitit-checkpointable: on a time limit or a preemption Slurm (or submitit's local
controller) sends ``SIGUSR2``; submitit's handler calls :meth:`RunPoint.checkpoint`, requeues the job and
exits. Nothing needs saving at that moment: the trainer checkpoints every epoch under
``<home>/runs/<hash>``, so the requeued job's :func:`~suite.study.worker.execute` finds the same unfinished
MLflow run and resumes from the last epoch (the epoch in progress is retrained, exactly: resume is exact).
Two choices make that safe:

- the exit is raised as :class:`~suite.study.worker.Requeued`, so the worker marks the run interrupted,
  never failed, and the flock on the point is released before the job ends (no duplicate run: the requeued
  job claims the same point, and finds the same run);
- ``SIGUSR2`` (and ``SIGTERM``, which Slurm sends before a preemption) is blocked in the main thread while
  the point trains, so the DataLoader worker processes it forks inherit the block: Slurm signals every
  process of the step, and a worker with the default action would die (failing the run with "DataLoader
  worker killed by signal") or, forked with submitit's handler, would requeue the job a second time. The
  signal still reaches the job: a watcher thread started before the block keeps it unblocked, the kernel
  delivers it there, and Python runs submitit's handler in the main thread, as it runs every handler.

Threads: ``SLURM_CPUS_PER_TASK`` where Slurm set it, else what the submitter asked per run, else the
cores this process may use; the device is picked by the worker (``train.pick_device``), on the node.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any

from submitit.helpers import Checkpointable, DelayedSubmission

from suite.study.worker import Requeued, execute

REQUEUE_SIGNALS = (signal.SIGUSR2, signal.SIGTERM)


def node_threads(asked: int | None) -> int:
    """Torch threads for a run on this node."""
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        return int(slurm)
    return asked or len(os.sched_getaffinity(0))


@contextlib.contextmanager
def requeue_as_interrupt():
    """Turn submitit's requeue exit (``sys.exit`` in its ``SIGUSR2`` handler) into :class:`Requeued`."""
    handler = signal.getsignal(signal.SIGUSR2)
    if not callable(handler):  # not under submitit (a direct call): nothing to convert
        yield
        return

    def on_requeue(signum, frame):
        try:
            handler(signum, frame)
        except SystemExit as exit_:
            raise Requeued(exit_.code) from None

    signal.signal(signal.SIGUSR2, on_requeue)
    try:
        yield
    finally:
        signal.signal(signal.SIGUSR2, handler)


@contextlib.contextmanager
def children_spared():
    """Block the requeue signals in the main thread (inherited by forked DataLoader workers), leaving a
    watcher thread to receive them for the process."""
    stop = threading.Event()
    watcher = threading.Thread(target=stop.wait, name="requeue-signal-watcher", daemon=True)
    watcher.start()  # created unblocked: the kernel delivers the job's signals to it
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, REQUEUE_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        stop.set()


class RunPoint(Checkpointable):
    """The job function: :func:`~suite.study.worker.execute` one task on the node that runs the job."""

    def __init__(self, cpus: int | None = None):
        self.cpus = cpus  # what the submitter asked per run (submitit-local: this machine's share)

    def __call__(self, task: dict[str, Any]):
        runtime = {"threads": node_threads(self.cpus), **task.get("runtime", {})}
        with requeue_as_interrupt(), children_spared():
            return execute({**task, "runtime": runtime})

    def checkpoint(self, task: dict[str, Any]) -> DelayedSubmission:
        """Requeue the same call: the state to resume from is the epoch checkpoint on the shared disk."""
        return DelayedSubmission(self, task)
