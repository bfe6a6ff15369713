"""Executors run study tasks; the runner only sees this interface, so cluster backends plug in here.

An executor is built from its settings (:func:`make`: a name and a mapping or a settings file, validated
against the executor's settings dataclass, so a cluster's partition, GPUs or time limit come from a file,
not code: :mod:`.settings`) and has ``slots`` (how many tasks run at once, for the ETA), ``plan(n)`` (how it
will run n tasks, in words, for the plan line), ``check(uri, home, data_root)`` (whether its runs can reach
the store, the runs folder and the data from where they run) and
``run(tasks, on_event) -> Iterator[(task, Result | exception)]``: it starts the tasks (each a JSON-able
dict for :func:`suite.study.worker.execute`), calls ``on_event`` with the progress dicts the workers send,
and yields each task with its outcome as it completes. ``tasks`` may be a list or a lazy iterable: an
executor takes the next task only when a slot frees, after the caller has seen the outcomes before it, so a
search (:mod:`suite.study.search`) can ask its sampler for the next trial knowing every finished one.
Workers log to the tracking store themselves and claim points by a lock in ``SUITE_HOME``, so the runner
needs nothing else from an executor.

The executors (:data:`EXECUTORS`): ``pool`` (the default: local worker processes, :mod:`.pool`),
``submitit-local`` and ``slurm`` (a submitit job per point, a Slurm job array per invocation: :mod:`.jobs`,
with what runs on the node in :mod:`.node`). docs/cluster.md is the lab's guide.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from suite.study.executor.base import Event, Executor, ExecutorError
from suite.study.executor.estimate import line as estimate
from suite.study.executor.jobs import JobFailed, Slurm, SubmititLocal
from suite.study.executor.pool import RUN_MEMORY_GB, LocalPool, Machine, PoolSettings, split
from suite.study.executor.settings import JobSettings, SlurmSettings, build, load, markdown

__all__ = [
    "EXECUTORS",
    "RUN_MEMORY_GB",
    "Event",
    "Executor",
    "ExecutorError",
    "estimate",
    "JobFailed",
    "LocalPool",
    "Machine",
    "PoolSettings",
    "make",
    "names",
    "settings_markdown",
    "split",
]

# name -> (settings dataclass, executor class, the setting --workers sets)
EXECUTORS: dict[str, tuple[type, type, str]] = {
    "pool": (PoolSettings, LocalPool, "workers"),
    "submitit-local": (JobSettings, SubmititLocal, "array_parallelism"),
    "slurm": (SlurmSettings, Slurm, "array_parallelism"),
}

CONFIG_ENV = "SUITE_EXECUTOR_CONFIG"  # the settings file when --executor-config is not given


def names() -> list[str]:
    return list(EXECUTORS)


def make(
    name: str,
    settings: Mapping[str, Any] | None = None,
    *,
    config: str | os.PathLike | None = None,
    workers: int | str = "auto",
) -> Executor:
    """The executor ``name`` from the ``[name]`` table of the settings file ``config`` (default
    ``$SUITE_EXECUTOR_CONFIG``; a file must have the table), overridden by ``settings``, then by
    ``workers`` (``--workers``: concurrent runs) unless "auto". Bad input: a one-line ExecutorError."""
    if name not in EXECUTORS:
        raise ExecutorError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")
    settings_type, cls, workers_key = EXECUTORS[name]
    config = config or os.environ.get(CONFIG_ENV) or None
    values = {**load(config, name), **(settings or {})}
    if workers != "auto":
        values[workers_key] = workers
    return cls(build(name, settings_type, values, config))


def settings_markdown() -> str:
    """Every executor's settings (default, allowed, what), for docs/cluster.md and the CLI."""
    return markdown({name: entry[0] for name, entry in EXECUTORS.items()})
