"""A study's table from its axes alone: what varies, which axis makes the columns, the rows, the reference.

Why derived: every study must be reportable, also one its author never wrote a layout for (a new neuron
against KLIF, a surrogate sweep, another dataset). The rules are few and fixed, so a reader of the table can
predict it from the study file:

- the *arms* are the study's points without their seeds (grid combinations, then ``[[include]]`` points,
  as :func:`suite.study.spec.iter_points` walks them); a setting *varies* where two arms run different
  resolved values of it (``network = "auto"`` is the dataset's network, as the runs log it);
- the columns are ``dataset`` where it varies, else the last varying axis; a single varying axis that is
  not ``dataset`` makes the rows instead (so its values are compared, bolded and paired) and the dataset
  the one column;
- the rows are every other varying axis, one row per combination that some arm runs, in the study's order;
- each row is compared with its reference arm: the row equal to it except for the reference's settings
  (default: the first value of the first row axis; ``neuron = "LIF"`` compares every KLIF row with the LIF
  row of the same other settings).

Values are read per setting, never by expanding the whole grid, so a grid of a million points loads fast.
"""

from __future__ import annotations

import itertools
from typing import Any

from suite import settings, train
from suite.report.layout import Comparison, Row, column_label, value_label
from suite.report.runs import canonical
from suite.study.spec import NOT_HASHED, Study

COLUMN = "dataset"  # the columns where it varies: results per dataset side by side, as in the paper
NO_AXIS_HEADER = "Study"  # a table of one row (nothing varies but the columns) is labelled by the study


def _spaces(study: Study) -> list[dict[str, list[Any]]]:
    """The study's points as product spaces: the grid (a single base point where empty), then each include."""
    includes = [{k: v if isinstance(v, list) else [v] for k, v in inc.items()} for inc in study.include]
    return [dict(study.grid), *includes]


def candidates(study: Study) -> list[str]:
    """Settings an arm may set (grid axes, then include keys), in the study's order; not seeds, not paths."""
    keys = dict.fromkeys(k for space in _spaces(study) for k in space)
    return [k for k in keys if k != "seed" and k not in NOT_HASHED]


def combinations(study: Study, keys: list[str]) -> list[tuple]:
    """The distinct resolved values of ``keys`` that the study's arms run, in first-seen order.

    Only ``keys`` (and ``dataset``, which the defaults of T, epochs, batch size and network depend on) are
    multiplied out, so the cost is the size of the table, not of the grid.
    """
    need = list(dict.fromkeys([*keys, "dataset"]))
    seen: dict[tuple, None] = {}
    for space in _spaces(study):
        choices = [space.get(k, [study.base.get(k, settings.DEFAULTS[k])]) for k in need]
        for combo in itertools.product(*choices):
            cfg = train.resolve({**study.base, **dict(zip(need, combo))})
            seen.setdefault(tuple(canonical(cfg[k]) for k in keys), None)
    return list(seen)


def values(study: Study, key: str) -> list[Any]:
    return [c[0] for c in combinations(study, [key])]


def varying(study: Study) -> list[str]:
    return [k for k in candidates(study) if len(values(study, k)) > 1]


def default_columns(axes: list[str]) -> str:
    """``dataset`` where it varies, else the last of the varying ``axes``; ``dataset`` if fewer than two."""
    if COLUMN in axes or len(axes) < 2:
        return COLUMN
    return axes[-1]


def default_rows(axes: list[str], columns: str) -> list[str]:
    return [k for k in axes if k != columns]


def cost(study: Study, keys: list[str]) -> int:
    """How many combinations :func:`combinations` walks for ``keys`` (an upper bound of the rows)."""
    total = 0
    for space in _spaces(study):
        n = 1
        for k in [*keys, "dataset"]:
            n *= len(space.get(k, [None]))
        total += n
    return total


def axis_rows(study: Study, keys: list[str]) -> tuple[Row, ...]:
    """A row per combination of ``keys`` that some arm runs; a single row of every run for no ``keys``."""
    if not keys:
        return (Row(study.name, {}),)
    rows = []
    for combo in combinations(study, keys):
        label = ", ".join(value_label(k, v) for k, v in zip(keys, combo))
        rows.append(Row(label, dict(zip(keys, combo))))
    return tuple(rows)


def row_header(keys: list[str]) -> str:
    return ", ".join(keys) if keys else NO_AXIS_HEADER


def default_reference(study: Study, keys: list[str]) -> dict[str, Any]:
    """The first value of the first row axis (nothing to compare where no axis makes the rows)."""
    if not keys:
        return {}
    return {keys[0]: values(study, keys[0])[0]}


def against(rows: tuple[Row, ...], reference: dict[str, Any], *, named: bool) -> tuple[Comparison, ...]:
    """Each row minus the row equal to it but for the reference's settings (rows that are a reference: none).

    ``named``: rows of axes get a label that says what differs, then what is shared ("KLIF - LIF (alpha =
    2)"), numbers with their setting ("alpha: 2 - 1"); the notes under the paired block spell out a and b.
    """
    ref = {k: canonical(v) for k, v in reference.items()}
    by_where = {_key(r.where): r for r in rows}
    out = []
    for r in rows:
        target = {**r.where, **ref}
        if _key(target) == _key(r.where) or _key(target) not in by_where:
            continue
        b = by_where[_key(target)]
        differ = [k for k in r.where if r.where[k] != b.where.get(k)]
        shared = [k for k in r.where if k not in differ]
        a_text = ", ".join(value_label(k, r.where[k]) for k in differ)
        b_text = ", ".join(value_label(k, b.where[k]) for k in differ)
        names_itself = all(isinstance(r.where[k], str) for k in differ)  # "KLIF" says what it is, "2" not
        prefix = "" if names_itself else f"{', '.join(differ)}: "
        rest = ", ".join(f"{k} = {value_label(k, r.where[k])}" for k in shared)
        name = f"{prefix}{a_text} - {b_text}" + (f" ({rest})" if rest else "")
        out.append(Comparison(r.label, b.label, name if named and name != f"{r.label} - {b.label}" else None))
    return tuple(out)


def _key(where: dict[str, Any]) -> tuple:
    """A hashable form of a row's ``where`` (its values are canonical already: derived or declared)."""
    return tuple(sorted((k, repr(v)) for k, v in where.items()))


def column_labels(key: str, values_: list[Any]) -> tuple[str, ...]:
    return tuple(column_label(key, v) for v in values_)
