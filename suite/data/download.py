"""One file from the network onto disk: bounded probes, resumable transfer, checksums, atomic rename, unpack.

Every network step is bounded, because many of our machines are offline and must say so in seconds: the
hosts are probed first, all at once, each in a daemon thread (``urlopen``'s timeout does not cover name
resolution, so a hanging DNS lookup could otherwise stall a run); a transfer then reads with a socket
timeout. Choices:

- The bytes go to ``<file>.part``. A transfer cut short leaves the ``.part`` in place and the next attempt
  asks for the rest with an HTTP ``Range`` request; a server that ignores it (answers 200, not 206) is read
  from the start again. A server that closes early is caught by comparing the bytes received with its
  ``Content-Length`` (``http.client`` itself returns short reads silently).
- The whole ``.part`` is hashed once complete (md5 and/or sha256, whichever the source gives); only then is
  it renamed to its final name (``os.replace``, atomic on one file system), so a partial or corrupt file
  never looks like data. A mismatch deletes the ``.part`` (its bytes are wrong; resuming would keep them);
  a resumed file that fails is fetched once more from the start before giving up.
- An archive is unpacked into a hidden staging folder beside it, members confined to it (tar's ``data``
  filter; zipfile drops ``..`` and absolute names), and each top-level entry is then renamed into place, so
  an interrupted unpack leaves nothing half-written where the loaders look. The archive is removed after.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from suite.data.sources import FileSource

TIMEOUT_S = 5.0  # a probe: connect (DNS included)
READ_TIMEOUT_S = 30.0  # one socket read during a transfer
CHUNK = 1 << 16
AGENT = {"User-Agent": "klif-suite (dataset fetch)"}


class FetchError(OSError):
    """A file that could not be fetched; the message names it, each URL tried and why that failed."""


class Meter(Protocol):
    """What a transfer reports to a progress bar."""

    def begin(self, total: int | None, done: int, url: str) -> None: ...

    def advance(self, n: int) -> None: ...


def host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def probe(url: str, timeout: float = TIMEOUT_S) -> str | None:
    """None when ``url``'s host accepts a connection within ``timeout``, else the reason it did not."""
    return probe_hosts([url], timeout)[host(url)]


def probe_hosts(urls: Iterable[str], timeout: float = TIMEOUT_S) -> dict[str, str | None]:
    """``host:port`` -> None (it answers) or why not, for every host of ``urls``, probed concurrently so
    that offline the whole answer takes one ``timeout`` at most, however many hosts there are."""
    answers: dict[str, str | None] = {}
    threads = []
    for hp in dict.fromkeys(host(u) for u in urls):
        name, port = hp.rsplit(":", 1)

        def connect(hp=hp, name=name, port=int(port)) -> None:
            try:
                socket.create_connection((name, port), timeout=timeout).close()
                answers[hp] = None
            except OSError as e:
                answers[hp] = f"{name}: {type(e).__name__}: {e}"

        threads.append((hp, name, threading.Thread(target=connect, daemon=True)))
        threads[-1][2].start()
    for hp, name, thread in threads:
        thread.join(timeout)
        answers.setdefault(hp, f"{name}: no answer within {timeout:g} s")
    return {hp: answers[hp] for hp, _, _ in threads}


def remote_size(url: str) -> int | None:
    """The size a server announces for ``url`` (a HEAD request), None when it does not say."""
    request = urllib.request.Request(url, method="HEAD", headers=AGENT)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
    except OSError:
        return None
    return int(length) if length and length.isdigit() else None


def verify(path: Path, src: FileSource) -> str | None:
    """None when ``path`` has every checksum ``src`` gives, else which one differs."""
    digests = {algo: hashlib.new(algo) for algo in src.checks()}
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            for d in digests.values():
                d.update(chunk)
    for algo, want in src.checks().items():
        if digests[algo].hexdigest() != want:
            return f"{algo} {digests[algo].hexdigest()} != expected {want}"
    return None


def fetch_file(src: FileSource, root: Path, meter: Meter, reachable: dict[str, str | None]) -> Path:
    """``root / src.path``, fetched from the first mirror that works and checked; unpacked if an archive.

    ``reachable`` is :func:`probe_hosts`'s answer; hosts that did not answer are not tried again. Raises
    :class:`FetchError` naming every URL tried and why it failed.
    """
    dest = root / src.path
    if not (dest.is_file() and verify(dest, src) is None):  # a verified archive left by a cut unpack
        _transfer_any(src, dest, meter, reachable)
    if src.unpack:
        unpack(dest, src.inner)
        dest.unlink()
    return dest


def _transfer_any(src: FileSource, dest: Path, meter: Meter, reachable: dict[str, str | None]) -> None:
    part = dest.with_name(dest.name + ".part")
    reasons = []
    for url in src.urls:
        reason = reachable.get(host(url), "not probed")
        if reason is None:
            try:
                reason, resumed = _transfer(url, part, src, meter)
                if reason and resumed:  # the kept bytes were bad (and are gone): once more, from zero
                    reason, _ = _transfer(url, part, src, meter)
            except OSError as e:  # the .part stays: the next attempt resumes it
                reason = f"{type(e).__name__}: {e}"
            if reason is None:
                os.replace(part, dest)
                return
        reasons.append(f"{url} ({reason})")
    raise FetchError(f"could not download {src.name} from " + "; ".join(reasons))


def _transfer(url: str, part: Path, src: FileSource, meter: Meter) -> tuple[str | None, bool]:
    """Bring ``part`` to the whole file (resuming what it holds), then check it: (None, or why it failed;
    whether bytes from an earlier attempt were kept)."""
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    if not (src.size is not None and have == src.size):  # else complete already: just check it
        headers = {**AGENT, **({"Range": f"bytes={have}-"} if have else {})}
        try:
            response = urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=READ_TIMEOUT_S
            )
        except urllib.error.HTTPError as e:
            if e.code != 416 or not have:  # 416: nothing past what we hold; let the checksum judge it
                raise
        else:
            with response:
                if have and (response.status != 206 or not _resumes_at(response, have)):
                    have = 0  # the server sent the whole file (or another range): start over
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                meter.begin(have + expected if expected is not None else src.size, have, url)
                got = 0
                with open(part, "ab" if have else "wb") as out:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        got += len(chunk)
                        meter.advance(len(chunk))
                if expected is not None and got < expected:
                    raise FetchError(f"connection closed after {have + got} of {have + expected} bytes")
    wrong = verify(part, src)
    if wrong:
        part.unlink()
        return f"{wrong}; the partial file was removed", have > 0
    return None, have > 0


def _resumes_at(response, offset: int) -> bool:
    return (response.headers.get("Content-Range") or "").startswith(f"bytes {offset}-")


def unpack(archive: Path, inner: tuple[str, ...] = ()) -> None:
    """Unpack ``archive`` (tar, tar.gz or zip) beside itself, then the ``inner`` archives it held, each
    into the folder holding it; move the results into place entry by entry (see the module doc)."""
    folder = archive.parent
    staging = folder / f".{archive.name}.unpack"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _extract(archive, staging)
        for name in inner:
            for nested in sorted(staging.rglob(name)):
                _extract(nested, nested.parent)
                nested.unlink()
        _merge(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(archive: Path, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")


def _merge(src: Path, dst: Path) -> None:
    """Rename each entry of ``src`` into ``dst``; folders both have are merged, files ``dst`` has are kept."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if not target.exists():
            os.replace(entry, target)
        elif entry.is_dir() and target.is_dir():
            _merge(entry, target)
