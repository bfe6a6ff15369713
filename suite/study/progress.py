"""A study's progress as the runner shows it: plain lines (logs, CI, a caller's ``out``) or a live display.

One place decides which (:func:`display`): the live display only when the runner prints to the terminal
itself (``out`` is ``print`` and stdout is a TTY that is not ``dumb``), so CI logs, pipes and callers that
collect the lines get exactly the plain lines they always got. Both are fed the same things, the workers'
events (:class:`suite.contract.EventKind`: START when a point begins to train, EPOCH per epoch with its test
accuracy, RESUME from a checkpoint) and each point's outcome, and compute the ETA the same way.

The live display is drawn by ``rich`` (a maintained library: terminal width, redraws, cursor handling are
its job): an overall bar over every planned epoch, with runs done / total, the ETA and the elapsed time,
and one bar per running run with its epoch and last test accuracy. Outcome and resume lines still scroll
above it as plain text, so the finished runs' numbers stay on the screen after it ends.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from suite.contract import EventKind, Outcome, Result


@dataclass
class Progress:
    """Runs done/total, the running runs' epochs, and an ETA from the epoch times seen so far."""

    total_epochs: dict[str, int]
    names: dict[str, str]
    slots: int
    out: Callable[[str], None]
    epochs_done: dict[str, int] = field(default_factory=dict)
    epoch_times: list[float] = field(default_factory=list)
    finished: int = 0
    planned: int = 0  # runs announced before their tasks exist (a search's trials); see add

    @property
    def total(self) -> int:
        return max(self.planned, len(self.total_epochs))

    def add(self, h: str, epochs: int, name: str) -> None:
        """A run the runner learns of while others run (a search's next trial)."""
        self.total_epochs[h], self.names[h] = epochs, name

    def eta(self) -> str:
        left = sum(self.total_epochs[h] - self.epochs_done.get(h, 0) for h in self.total_epochs)
        if self.total_epochs and self.total > len(self.total_epochs):  # runs not asked for yet
            left += (
                (self.total - len(self.total_epochs))
                * sum(self.total_epochs.values())
                / len(self.total_epochs)
            )
        if not self.epoch_times or left <= 0:
            return "?"
        secs = left * (sum(self.epoch_times) / len(self.epoch_times)) / self.slots
        return (
            f"{int(secs // 3600)}h{int(secs % 3600 // 60):02d}m"
            if secs >= 3600
            else f"{int(secs // 60)}m{int(secs % 60):02d}s"
        )

    def event(self, ev: dict[str, Any]) -> None:
        h = ev["hash"]
        if ev.get("kind") == EventKind.START:
            return  # plain lines start with the first epoch, as they always did
        self.epochs_done[h] = ev.get("epoch", 0)
        if ev.get("kind") == EventKind.EPOCH:
            self.epoch_times.append(ev["time"])
            self.out(
                f"[{self.finished}/{self.total} done] {self.names[h]}: epoch {ev['epoch']}/"
                f"{self.total_epochs[h]} test_acc {ev['test_acc']:.2f}% ({ev['time']:.1f}s/epoch, ETA {self.eta()})"
            )
        elif ev.get("kind") == EventKind.RESUME:
            self.out(f"[resume] {self.names[h]}: from the checkpoint of epoch {ev['epoch']}")

    def complete(self, h: str, result: Result | BaseException) -> None:
        self.finished += 1
        self.epochs_done[h] = self.total_epochs[h]
        if isinstance(result, BaseException):
            what = f"FAILED: {type(result).__name__}: {result}"
        elif result.outcome == Outcome.TRAINED:
            m = result.metrics
            what = f"best {m['best_test_acc']:.2f}% final {m['final_test_acc']:.2f}%"
        else:
            what = str(result.outcome)
        self.out(f"[{self.finished}/{self.total} done] {self.names[h]}: {what}")


class LiveProgress(Progress):
    """:class:`Progress` drawn as rich bars on ``console``; :attr:`bars` is what the screen shows."""

    def __init__(self, total_epochs: dict[str, int], names: dict[str, str], slots: int, console):
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bars

        super().__init__(
            total_epochs, names, slots, out=lambda line: console.print(line, markup=False, highlight=False)
        )
        self.console = console
        self.bars = Bars(
            TextColumn("{task.description}", markup=False),  # names and lines may hold "[...]"
            BarColumn(bar_width=30),
            TextColumn("{task.fields[info]}", markup=False),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=4,  # the elapsed times tick between events
            expand=False,
        )
        self.overall = self.bars.add_task("", total=max(1, sum(total_epochs.values())), info="")
        self.running: dict[str, Any] = {}  # hash -> its bar
        self._refresh()

    def add(self, h: str, epochs: int, name: str) -> None:
        super().add(h, epochs, name)
        known = sum(self.total_epochs.values())
        self.bars.update(
            self.overall,
            total=max(1, known + (self.total - len(self.total_epochs)) * known // len(self.total_epochs)),
        )

    def _refresh(self) -> None:
        done = sum(min(self.epochs_done.get(h, 0), n) for h, n in self.total_epochs.items())
        info = f"{self.finished}/{self.total} runs done"
        info += f", ETA {self.eta()}" if self.finished < self.total else ""
        self.bars.update(self.overall, completed=done, description="study", info=info)
        self.bars.refresh()

    def _bar(self, h: str):
        if h not in self.running:
            epochs = self.total_epochs[h]
            self.running[h] = self.bars.add_task(
                f"  {self.names[h]}", total=max(1, epochs), info=f"epoch 0/{epochs} starting"
            )
        return self.running[h]

    def event(self, ev: dict[str, Any]) -> None:
        h, kind = ev["hash"], ev.get("kind")
        if kind == EventKind.START:
            self._bar(h)
        elif kind == EventKind.EPOCH:
            self.epochs_done[h] = ev["epoch"]
            self.epoch_times.append(ev["time"])
            info = f"epoch {ev['epoch']}/{self.total_epochs[h]} test_acc {ev['test_acc']:.2f}%"
            self.bars.update(self._bar(h), completed=ev["epoch"], info=f"{info} ({ev['time']:.1f}s/epoch)")
        elif kind == EventKind.RESUME:
            super().event(ev)  # the resume line, above the bars
            info = f"epoch {ev['epoch']}/{self.total_epochs[h]} resumed"
            self.bars.update(self._bar(h), completed=ev["epoch"], info=info)
        self._refresh()

    def complete(self, h: str, result: Result | BaseException) -> None:
        super().complete(h, result)  # the outcome line, above the bars
        if h in self.running:
            self.bars.remove_task(self.running.pop(h))
        self._refresh()


def live_wanted(out: Callable[[str], None]) -> bool:
    """The one TTY-or-plain decision: live only when ``out`` is the terminal itself."""
    term = os.environ.get("TERM", "")
    return out is print and sys.stdout.isatty() and term.lower() not in ("dumb", "unknown")


@contextlib.contextmanager
def display(
    total_epochs: dict[str, int], names: dict[str, str], slots: int, out: Callable[[str], None]
) -> Iterator[Progress]:
    """The progress the runner feeds while it runs a plan: live on a terminal (see :func:`live_wanted`),
    plain lines otherwise. The live display ends with the block, also on Ctrl-C, leaving the terminal as
    it was, so what the runner prints next lands below it."""
    if not live_wanted(out):
        yield Progress(total_epochs, names, slots, out)
        return
    from rich.console import Console

    progress = LiveProgress(total_epochs, names, slots, Console(highlight=False))
    with progress.bars:  # rich's own live area; the outcome lines print above it
        yield progress
