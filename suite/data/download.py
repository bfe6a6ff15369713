"""Fetching the official dataset files, verified by md5, failing within seconds when offline.

Our machines are offline, so every network step is bounded: a probe of the host in a daemon thread (so a
hanging DNS lookup cannot stall a run; ``urlopen``'s timeout does not cover name resolution), then the
transfer with a socket timeout. A file is written under a ``.part`` name and renamed only after its md5
matches, so a failed or interrupted download never looks like data.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tarfile
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

TIMEOUT_S = 5.0


def probe(url: str, timeout: float = TIMEOUT_S) -> str | None:
    """None when ``url``'s host accepts a connection within ``timeout``, else the reason it did not."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    answer: list[str | None] = []

    def connect() -> None:
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
            answer.append(None)
        except OSError as e:
            answer.append(f"{parts.hostname}: {type(e).__name__}: {e}")

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return answer[0] if answer else f"{parts.hostname}: no answer within {timeout:.0f} s"


@contextmanager
def socket_timeout(seconds: float = TIMEOUT_S) -> Iterator[None]:
    """Bound every socket read made inside (third-party downloaders such as tonic's set none)."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def fetch(urls: Sequence[str], dest: Path, md5: str, timeout: float = TIMEOUT_S) -> None:
    """Download the first of ``urls`` (mirrors of one file) that answers and whose md5 matches to ``dest``.

    Raises OSError naming every URL tried and why it failed.
    """
    reasons = []
    for url in urls:
        reason = probe(url, timeout)
        if reason is None:
            part = dest.with_name(dest.name + ".part")
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.md5()
                with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
                    while chunk := response.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() == md5:
                    os.replace(part, dest)
                    return
                reason = f"md5 {digest.hexdigest()} != expected {md5}"
            except OSError as e:
                reason = f"{type(e).__name__}: {e}"
            part.unlink(missing_ok=True)
        reasons.append(f"{url} ({reason})")
    raise OSError("could not download " + dest.name + " from " + "; ".join(reasons))


def extract_tar(archive: Path, into: Path) -> None:
    """Unpack ``archive`` into ``into``, refusing members that would land outside it."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
