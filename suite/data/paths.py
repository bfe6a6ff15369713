"""Where datasets are read from and where framed event tensors are cached.

The data root may be read-only (the shared CI data is), so the cache never lives under it:
``SUITE_CACHE`` if set, else ``~/.cache/klif-suite``.
"""

from __future__ import annotations

import os
from pathlib import Path


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root`` if given, else env ``SUITE_DATA``, else ``./data``; made absolute (``..``
    folded, symlinks kept)."""
    if root is None:
        root = os.environ.get("SUITE_DATA") or "data"
    return Path(os.path.abspath(Path(root).expanduser()))


def cache_root() -> Path:
    """The framed-tensor cache folder: env ``SUITE_CACHE``, else ``~/.cache/klif-suite``."""
    env = os.environ.get("SUITE_CACHE")
    return Path(os.path.abspath(Path(env).expanduser())) if env else Path.home() / ".cache" / "klif-suite"
