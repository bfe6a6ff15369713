"""Fetch what a dataset lacks: which splits are missing, which files bring them, one bar per file.

``fetch(names, root)`` is what ``python -m suite fetch`` and the study runner call before any run starts
(and ``load(..., download=True)`` for one split). It looks at the data root the way the loaders do (a split
is missing when no file of a layout they read is there), picks the files that bring the missing splits from
the sources table (:mod:`suite.data.sources`; ``SUITE_SOURCES`` points at a mirror's), probes every host
once and all at once, and fetches each file (:mod:`suite.data.download`: resumable, checked, renamed into
place). A file that is already there is not fetched again; an archive is, unless a verified copy is left.

Failures do not stop the others: the answer is every dataset that is still missing, each as the loaders'
own :class:`DatasetNotFound` (folder, files expected, where to get them, what the download said), so
offline one call says everything at once, in one probe timeout. ``dry_run`` says what would be fetched and
its size (the published size, else the one the server announces, else "size unknown").

Progress: one bar per file, drawn by rich when the output is the terminal itself (the same rule as the
study runner's progress), otherwise plain lines (start, each quarter of a file over 8 MB, end) to ``out``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from suite.data import sources
from suite.data.download import fetch_file, host, probe_hosts, remote_size
from suite.data.errors import DatasetNotFound
from suite.data.paths import resolve_root
from suite.data.registry import REGISTRY
from suite.registry import lookup

SPLITS = ("train", "test")
QUARTER_LINES_FROM = 8 << 20  # plain output: a line per quarter only for files this big


@dataclass(frozen=True)
class Need:
    """What one dataset lacks under a root: the splits, and the files that bring them."""

    dataset: str
    splits: tuple[str, ...]
    files: tuple[sources.FileSource, ...]


def needs(names: Iterable[str], root=None, splits: Iterable[str] = SPLITS) -> list[Need]:
    """The datasets among ``names`` that lack one of ``splits`` under ``root``; no network."""
    root, table = resolve_root(root), sources.table()
    out = []
    for name in dict.fromkeys(names):
        source = lookup(REGISTRY, name, "dataset").source
        lacking = tuple(s for s in splits if not source.has(root, s))
        if lacking:
            files = {f.path: f for s in lacking for f in sources.for_split(table.get(name, []), s)}
            todo = tuple(f for f in files.values() if f.unpack or not (root / f.path).is_file())
            out.append(Need(name, lacking, todo))
    return out


def fetch(
    names: Iterable[str], root=None, *, splits: Iterable[str] = SPLITS, out: Callable[[str], None] = print
) -> dict[str, DatasetNotFound]:
    """Fetch every missing split of ``names``; returns dataset -> its error, for those still missing."""
    root = resolve_root(root)
    return {
        name: REGISTRY[name].source.missing(name, root, split, status)
        for name, (split, status) in _fetch(needs(names, root, splits), root, out).items()
    }


def status_for_load(name: str, root: Path, split: str) -> str:
    """``load``'s download of one split; what happened, for its error message if the files are still
    missing. Progress goes to stderr (``load`` returns data, its caller owns stdout)."""
    failed = _fetch(needs([name], root, (split,)), root, lambda line: print(line, file=sys.stderr))
    return failed[name][1] if name in failed else "downloaded, but the expected files are still missing"


def dry_run(names: Iterable[str], root=None) -> list[str]:
    """What :func:`fetch` would bring, file by file, with sizes; asks servers only for unknown sizes."""
    root, names = resolve_root(root), list(names)
    todo = needs(names, root)
    ask = [f.urls[0] for n in todo for f in n.files if f.size is None]
    reachable = probe_hosts(ask) if ask else {}
    lines, total, unknown = [f"would fetch into {root}:"], 0, 0
    for need in todo:
        if not need.files:
            lines.append(f"  {need.dataset} ({', '.join(need.splits)}): no source (see SUITE_SOURCES)")
        else:
            lines.append(f"  {need.dataset} ({', '.join(need.splits)}):")
        for f in need.files:
            size = f.size
            if size is None and reachable.get(host(f.urls[0]), "unasked") is None:
                size = remote_size(f.urls[0])
            total, unknown = total + (size or 0), unknown + (size is None)
            lines.append(f"    {f.path}  {human(size) if size is not None else 'size unknown'}  {f.urls[0]}")
    done = sorted(set(names) - {n.dataset for n in todo})
    if done:
        lines.append(f"  already present: {', '.join(done)}")
    more = f" + {unknown} file(s) of unknown size" if unknown else ""
    lines.append(f"total {human(total)}{more}" if todo else "nothing to fetch")
    blocked = _unwritable(root) if todo else None
    return lines + ([f"but: {blocked}"] if blocked else [])


def human(n: int | None) -> str:
    """A byte count for people, in decimal units as hosts publish them (9912422 -> '9.9 MB')."""
    if n is None:
        return "?"
    value, unit = float(n), "B"
    for larger in ("kB", "MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, larger
    return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"


def _fetch(todo: list[Need], root: Path, out: Callable[[str], None]) -> dict[str, tuple[str, str]]:
    """dataset -> (first missing split, what the download said) for each dataset still missing."""
    if not todo:
        return {}
    blocked = _unwritable(root)
    if blocked:  # a shared, read-only data folder: never probe or fetch for it
        return {n.dataset: (n.splits[0], f"failed: {blocked}") for n in todo}
    reachable = probe_hosts([u for n in todo for f in n.files for u in f.urls])
    failed = {}
    with _meters(out) as meter:
        for need in todo:
            source = REGISTRY[need.dataset].source
            status = (
                "downloaded, but the expected files are still missing"
                if need.files
                else "not attempted: nothing to fetch (every file its source lists is there already, or it "
                "lists none; see suite/data/sources.toml, SUITE_SOURCES)"
            )
            try:
                for f in need.files:
                    t0 = time.perf_counter()
                    fetch_file(f, root, meter(f"{need.dataset}: {f.path}"), reachable)
                    checked = " and ".join(f.checks())
                    out(
                        f"fetched {need.dataset}: {f.path} ({checked} checked, {time.perf_counter() - t0:.1f} s)"
                    )
            except (OSError, tarfile.TarError, zipfile.BadZipFile) as e:
                status = f"failed: {e}"
            lacking = [s for s in need.splits if not source.has(root, s)]
            if lacking:
                failed[need.dataset] = (lacking[0], status)
    return failed


def _unwritable(root: Path) -> str | None:
    """Why nothing can be fetched into ``root``, else None: its nearest existing folder is read-only,
    to us or by its mode (no write bit for anyone, as the shared data folders are: even root, which
    ``os.access`` lets write anywhere, must not fetch into those)."""
    folder = root
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if os.access(folder, os.W_OK) and folder.stat().st_mode & 0o222:
        return None
    return f"{folder} is not writable; fetch into another folder (--data-root or SUITE_DATA)"


class PlainMeter:
    """A file's progress as lines: where from, each quarter of a large file, (the caller prints the end)."""

    def __init__(self, label: str, out: Callable[[str], None]):
        self.label, self.out, self.total, self.done, self.shown = label, out, None, 0, 0

    def begin(self, total: int | None, done: int, url: str) -> None:
        self.total, self.done, self.shown = total, done, 0
        resume = f", resuming at {human(done)}" if done else ""
        self.out(f"fetching {self.label} ({human(total)}{resume}) from {url}")

    def advance(self, n: int) -> None:
        self.done += n
        if self.total and self.total >= QUARTER_LINES_FROM:
            quarter = min(4 * self.done // self.total, 3)
            if quarter > self.shown:
                self.shown = quarter
                self.out(f"  {self.label}: {25 * quarter}% ({human(self.done)} of {human(self.total)})")


class RichMeter:
    """A file's progress as a rich bar (bytes, speed, time left) in a shared live display."""

    def __init__(self, label: str, bars):
        self.label, self.bars, self.task = label, bars, None

    def begin(self, total: int | None, done: int, url: str) -> None:
        if self.task is None:
            self.task = self.bars.add_task(self.label, total=total, completed=done)
        else:  # a retry from the start, or another mirror
            self.bars.reset(self.task, total=total, completed=done)

    def advance(self, n: int) -> None:
        self.bars.advance(self.task, n)


def _live(out: Callable[[str], None]) -> bool:
    """As the study runner decides (:func:`suite.study.progress.live_wanted`; not imported: data must not
    depend on the study package): live only when ``out`` is the terminal itself."""
    term = os.environ.get("TERM", "")
    return out is print and sys.stdout.isatty() and term.lower() not in ("dumb", "unknown")


@contextlib.contextmanager
def _meters(out: Callable[[str], None]) -> Iterator[Callable[[str], object]]:
    if not _live(out):
        yield lambda label: PlainMeter(label, out)
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, TimeRemainingColumn()) as bars:  # lines printed meanwhile scroll above it
        yield lambda label: RichMeter(label, bars)
