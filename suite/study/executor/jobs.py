"""Executors that run each point as a submitit job: ``submitit-local`` (subprocesses here) and ``slurm``.

Both go through the same code: :class:`~suite.study.executor.node.RunPoint` pickled by submitit into the
job folder, run by ``python -m submitit.core._submit`` (on a node, or in a local subprocess), the result
pickled back. ``submitit-local`` is Slurm minus ``sbatch``: the same job function, requeue and result
path, which is what the tests and a workstation need.

Submission honours the executor contract (:mod:`suite.study.executor`): a list of tasks on Slurm is one job
array (``map_array``; ``array_parallelism`` runs at once, the ``%`` of ``--array``); a lazy iterable (a
search asking for its next trial) is drawn from only as slots free, one job per task. Local jobs are
always submitted as slots free (submitit's local executor has no array throttle).

A job is over when its result pickle exists, or (Slurm) when it has left the queue without one (cancelled,
killed, out of memory: :class:`JobFailed`, naming its log). ``sacct`` is not needed: a cluster without
accounting works too. A job's failure comes back as its last traceback line; a tracking-server outage on a
node comes back as :class:`~suite.study.tracking.StoreUnreachable`, so the runner stops the study resumably
as it does for local workers.

Ctrl-C (or SIGTERM) on the submitter: ``on_interrupt = "ask"`` asks whether to cancel the jobs (without a
terminal: cancels); ``"keep"`` leaves them running (their runs finish in the store; a rerun sees them
running elsewhere, then done); ``"cancel"`` cancels. Local jobs share the terminal's process group, so a
terminal's Ctrl-C stops them whatever the answer.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from suite.study import tracking
from suite.study.executor.base import Event, ExecutorError
from suite.study.executor.node import RunPoint
from suite.study.executor.pool import Machine, split
from suite.study.executor.settings import JobSettings, SlurmSettings
from suite.study.executor.watch import Watch


class JobFailed(RuntimeError):
    """A job ended without a result, or with an error: one line, and where its log is."""


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


class JobExecutor:
    """What submitit-local and slurm share: submitting, watching, collecting, cancelling."""

    name = "submitit"

    def __init__(self, settings: JobSettings, machine: Machine | None = None):
        self.settings = settings
        self.machine = machine
        self.slots = settings.array_parallelism if settings.array_parallelism != "auto" else 1
        self.gpus_per_run = 0  # submitit-local: this machine's; slurm: the setting
        self.epoch_s = settings.epoch_s

    # -- placement --------------------------------------------------------------------------------------
    def folder(self) -> Path:
        return Path(self.settings.folder or tracking.home() / "jobs")

    def check(self, uri: str, home: str, data_root: str | None) -> None:
        """A cluster's nodes must reach the store over http(s) and see the same absolute paths."""
        if not self.settings.cluster:
            return
        if not uri.startswith(("http://", "https://")):
            raise ExecutorError(
                f"{self.name}: tracking URI {tracking.redact(uri)}: a cluster's runs need an http(s):// MLflow "
                f"server (start one with `python -m suite server`; sqlite on a shared filesystem loses writes)"
            )
        given = os.environ.get("SUITE_HOME", "")
        if not os.path.isabs(given):
            raise ExecutorError(
                f"{self.name}: SUITE_HOME={given or '(unset)'}: set it to an absolute folder on the filesystem "
                f"every node shares (checkpoints and claims live there)"
            )
        data = data_root or os.environ.get("SUITE_DATA", "")
        if not os.path.isabs(data):
            raise ExecutorError(
                f"{self.name}: data root {data or '(unset)'}: pass --data-root (or SUITE_DATA) as an absolute "
                f"folder every node shares"
            )

    # -- what the subclasses provide -------------------------------------------------------------------
    def _executor(self, slots: int):
        raise NotImplementedError

    def _cpus(self, slots: int) -> int | None:
        return self.settings.cpus_per_run

    def _over(self, jobs: list) -> set:
        """The jobs among ``jobs`` that are over (result or not)."""
        raise NotImplementedError

    def _cancel(self, jobs: list) -> None:
        for job in jobs:
            job.cancel(check=False)

    # -- the run loop -----------------------------------------------------------------------------------
    def run(self, tasks: Iterable[dict], on_event: Callable[[Event], None]) -> Iterator[tuple[dict, Any]]:
        if isinstance(tasks, list):
            self.plan(len(tasks))
        slots = self.slots
        executor = self._executor(slots)
        fn = RunPoint(self._cpus(slots))
        pending: dict[Any, dict] = {}
        watch = Watch({})
        source = iter(tasks)

        def submit(batch: list[dict]) -> None:
            jobs = executor.map_array(fn, batch) if len(batch) > 1 else [executor.submit(fn, batch[0])]
            for job, task in zip(jobs, batch):
                pending[job] = task
                watch.tasks[task["hash"]] = task

        def fill() -> None:  # the next task is taken only when a slot is free
            while len(pending) < slots and (task := next(source, None)) is not None:
                submit([task])

        try:
            if isinstance(tasks, list) and self._arrays:
                if tasks:
                    submit(list(tasks))
                source = iter(())
            fill()
            last_poll = 0.0
            while pending:
                over = self._over(list(pending))
                if over or time.monotonic() - last_poll >= self.settings.poll_s:
                    watch.poll(on_event)  # before an outcome: its last epochs are shown first
                    last_poll = time.monotonic()
                for job in over:
                    task = pending.pop(job)
                    watch.forget(task["hash"])
                    yield task, self._outcome(job)
                fill()
                time.sleep(1.0 if pending else 0)  # result files: one stat per job per second
        except BaseException as err:  # Ctrl-C, SIGTERM (the runner's), the runner giving up
            if pending:
                self._interrupted(list(pending), err)
            raise

    _arrays = False  # whether a list of tasks is submitted as one job array

    def _outcome(self, job) -> Any:
        if not job.paths.result_pickle.exists():
            return JobFailed(
                f"job {job.job_id} ended without a result (cancelled or killed); log: {job.paths.stderr}"
            )
        try:
            return job.result()
        except Exception as err:  # noqa: BLE001 - the job's error, returned as the run's outcome
            line = _last_line(str(err))
            if line.startswith("suite.study.tracking.StoreUnreachable:"):
                return tracking.StoreUnreachable(line.split(":", 1)[1].strip())
            return JobFailed(f"job {job.job_id}: {line}; log: {job.paths.stderr}")

    def _interrupted(self, jobs: list, err: BaseException) -> None:
        choice = self.settings.on_interrupt
        if not isinstance(err, KeyboardInterrupt):
            choice = "cancel"  # the runner gave up (an outage, a bug): nothing should train on unseen
        elif choice == "ask":
            choice = "cancel"
            if sys.stdin.isatty():
                try:
                    answer = input(f"\ncancel the {len(jobs)} submitted jobs? [Y/n] ").strip().lower()
                    choice = "keep" if answer in ("n", "no") else "cancel"
                except (EOFError, KeyboardInterrupt):
                    pass
        if choice == "cancel":
            self._cancel(jobs)
        print(
            f"{self.name}: {len(jobs)} jobs {'cancelled' if choice == 'cancel' else 'left running'}",
            file=sys.stderr,
        )


class SubmititLocal(JobExecutor):
    """submitit's LocalExecutor: each run a real subprocess on this machine, requeued on ``SIGUSR2``."""

    name = "submitit-local"

    def __init__(self, settings: JobSettings, machine: Machine | None = None):
        super().__init__(settings, machine)
        self.machine = machine or Machine.here()
        self.gpus_per_run = 1 if self.machine.gpus else 0

    def plan(self, tasks: int) -> str:
        workers = self.settings.array_parallelism
        self.slots, threads = split(self.machine, tasks, workers, self.settings.cpus_per_run)
        return f"submitit-local: {self.slots} job{'s' * (self.slots != 1)} at once × {threads} thread{'s' * (threads != 1)}"

    def _cpus(self, slots: int) -> int | None:
        return self.settings.cpus_per_run or max(1, self.machine.cores // slots)

    def _executor(self, slots: int):
        import submitit

        executor = submitit.LocalExecutor(
            folder=self.folder() / "%j", max_num_timeout=self.settings.timeout_requeues
        )
        executor.update_parameters(
            timeout_min=self.settings.time_min,
            gpus_per_node=self.gpus_per_run,
            signal_delay_s=self.settings.signal_delay_s,
            setup=list(self.settings.setup),
        )
        return executor

    def _over(self, jobs: list) -> set:
        return {job for job in jobs if job.done()}


class Slurm(JobExecutor):
    """One Slurm job array per invocation through submitit's SlurmExecutor."""

    name = "slurm"
    _arrays = True

    def __init__(self, settings: SlurmSettings, machine: Machine | None = None):
        super().__init__(settings, machine)
        self.gpus_per_run = settings.gpus_per_run
        self._queue_checked = 0.0
        self._gone: set[str] = set()  # job ids absent from the queue at the last check

    def plan(self, tasks: int) -> str:
        s = self.settings
        self.slots = max(1, tasks) if s.array_parallelism == "auto" else s.array_parallelism
        where = f"partition {s.partition}" if s.partition else "the default partition"
        per_run = f"{s.gpus_per_run} GPU × {s.cpus_per_run or 1} CPUs × {s.mem_gb:g} GB, {s.time_min} min"
        return f"slurm: 1 job array of {tasks} runs, {min(self.slots, max(tasks, 1))} at once, {where}, {per_run} each"

    def _executor(self, slots: int):
        import submitit

        s = self.settings
        executor = submitit.SlurmExecutor(
            folder=self.folder() / "%j", max_num_timeout=s.timeout_requeues, python=s.python
        )
        params: dict[str, Any] = dict(
            time=s.time_min,
            cpus_per_task=s.cpus_per_run or 1,
            mem=f"{int(s.mem_gb * 1024)}M",
            signal_delay_s=s.signal_delay_s,
            array_parallelism=slots,
            setup=list(s.setup),
            job_name="klif-suite",
        )
        if s.gpus_per_run:
            params["gpus_per_task"] = s.gpus_per_run
        for key in ("partition", "account", "qos"):
            if getattr(s, key):
                params[key] = getattr(s, key)
        executor.update_parameters(**params)
        return executor

    def _over(self, jobs: list) -> set:
        """Jobs with a result, and jobs absent from the queue on two checks in a row without one (the
        second check covers a result file the shared filesystem shows late)."""
        over = {job for job in jobs if job.paths.result_pickle.exists()}
        if time.monotonic() - self._queue_checked < self.settings.poll_s:
            return over
        self._queue_checked = time.monotonic()
        queued = self._queue()
        for job in [] if queued is None else jobs:
            if job.job_id in queued or job in over:
                self._gone.discard(job.job_id)
            elif job.job_id in self._gone:
                over.add(job)
            else:
                self._gone.add(job.job_id)
        return over

    def _queue(self) -> set[str] | None:
        """This user's job ids in the queue, one per array task (None when squeue does not answer)."""
        try:
            out = subprocess.run(
                ["squeue", "-h", "-r", "-o", "%i", "-u", getpass.getuser()],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        return {line.strip() for line in out.splitlines() if line.strip()}

    def _cancel(self, jobs: list) -> None:
        ids = sorted({job.job_id for job in jobs})
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True, timeout=60, check=False)
