"""The one lookup every name registry of the suite uses (networks, neurons, surrogates, datasets, tables).

A registry is a plain mapping from name to entry; a name it lacks raises one error that lists the names it
has, so a typo is answered with the spellings that would work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

V = TypeVar("V")

UNKNOWN = "unknown {what} {name!r}; known {what}s: {known}"


def lookup(
    table: Mapping[str, V],
    name: str,
    what: str,
    *,
    known: Callable[[], Iterable[str]] | None = None,
    error: type[Exception] = ValueError,
    message: str = UNKNOWN,
) -> V:
    """``table[name]``, or ``error(message)`` naming ``what`` was looked up and the ``known`` names.

    ``known`` lists the names for the message (default: the table's keys, in order); ``message`` is a
    ``str.format`` template over ``what``, ``name`` and ``known`` (the names joined by ", ").
    """
    try:
        return table[name]
    except KeyError:
        names = ", ".join(table if known is None else known())
        raise error(message.format(what=what, name=name, known=names)) from None
