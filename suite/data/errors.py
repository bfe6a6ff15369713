"""The one error a user sees when a dataset's files are missing.

It subclasses ``FileNotFoundError`` so callers that already handle missing files keep working, and its
message is the whole story (dataset, folder looked in, files expected, where to get them, what the
download attempt said). Callers raise it ``from None`` so no stack trace from deep inside a reader hides
it. It takes the finished message as its only argument, so it pickles (DataLoader workers re-raise it).
"""

from __future__ import annotations

from pathlib import Path

NOT_ATTEMPTED = "not attempted (download=False)"


class DatasetNotFound(FileNotFoundError):
    @classmethod
    def build(cls, name: str, split: str, folder: Path, expected: str, source: str, download: str):
        return cls(
            f"{name} ({split} split): no data found in {folder}\n"
            f"  expected: {expected}\n"
            f"  get it from: {source}\n"
            f"  download: {download}\n"
            f"  set the data folder with load(..., root=...) or the SUITE_DATA environment variable"
        )


def annotate(e: Exception, context: str) -> Exception:
    """``e`` again (same type where it can be rebuilt from a message) with ``context`` in front, unless the
    message already names it: one clear line instead of a chained traceback."""
    msg = str(e) if context in str(e) else f"{context}: {e}"
    try:
        return type(e)(msg)
    except TypeError:
        return (OSError if isinstance(e, OSError) else ValueError)(msg)
