"""What every executor is: the protocol the runner sees, and its one error type."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

Event = dict[str, Any]


class ExecutorError(ValueError):
    """A bad executor name or setting, or a study an executor cannot place: one line naming it."""


class Executor(Protocol):
    slots: int  # how many tasks run at once (the ETA divides by it)
    gpus_per_run: int  # what one run holds, for --dry-run's GPU-hours
    epoch_s: float | None  # a documented per-epoch time for --dry-run when the store has none

    def plan(self, tasks: int) -> str:
        """How it will run ``tasks`` tasks, in words, for the plan line."""
        ...

    def check(self, uri: str, home: str, data_root: str | None) -> None:
        """Raise :class:`ExecutorError` when the runs could not reach the store, the runs folder or the data
        from where this executor runs them (a cluster node: no sqlite, no relative or defaulted paths)."""
        ...

    def run(self, tasks: Iterable[dict], on_event: Callable[[Event], None]) -> Iterator[tuple[dict, Any]]:
        """Start the tasks, send progress dicts to ``on_event``, yield each (task, Result | exception) as it
        completes; a lazy iterable is drawn from only when a slot frees."""
        ...
