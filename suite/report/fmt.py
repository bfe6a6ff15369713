"""How a typed cell prints, in Markdown or LaTeX: one set of number rules, two spellings of the symbols.

Why: "92.31 ± 0.42 (n=3)" must mean the same in both files, so the precision, the sign convention and the
missing-value dash are decided here once; a :class:`Style` only says how ±, —, minus and bold are written
and how text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from suite.report.model import Cell, Diff, Measured, Published, Text

ACC_DECIMALS = 2
_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


@dataclass(frozen=True)
class Style:
    pm: str
    dash: str
    minus: str
    bold: Callable[[str], str]
    escape: Callable[[str], str]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "—": "---",
    "−": "$-$",
    "×": r"$\times$",
    "·": r"$\cdot$",
    "√": r"$\surd$",
}


def tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


MARKDOWN = Style(pm="±", dash="—", minus="-", bold=lambda s: f"**{s}**", escape=_md_escape)
LATEX = Style(pm=r"$\pm$", dash="---", minus="$-$", bold=lambda s: rf"\textbf{{{s}}}", escape=tex_escape)


def acc(x: float) -> str:
    """A percentage as printed in every table; also what "best per column" compares."""
    return f"{x:.{ACC_DECIMALS}f}"


def _signed(x: float, style: Style) -> str:
    text = acc(abs(x))
    if text == acc(0.0):
        return text
    return ("+" if x > 0 else style.minus) + text


def _scaled(x: float) -> tuple[float, str]:
    rounded = abs(float(f"{x:.3g}"))  # so that 999999 prints as 1.00M, not 1000k
    for scale, suffix in _SI:
        if rounded >= scale:
            return scale, suffix
    return 1.0, ""


def count(x: float, std: float | None = None) -> tuple[str, str | None]:
    """(mean, std) of a count with an SI suffix: the mean at 3 significant figures (1.23M), the std at the
    same decimals and unit so the two line up."""
    scale, suffix = _scaled(x)
    v = float(f"{x / scale:.3g}")
    d = 0 if v == 0 else max(0, 2 - math.floor(math.log10(abs(v))))
    return f"{x / scale:.{d}f}{suffix}", None if std is None else f"{std / scale:.{d}f}{suffix}"


def _measured(cell: Measured, style: Style) -> str:
    s = cell.summary
    if s is None or math.isnan(s.mean):
        return style.dash
    if cell.format == "acc":
        text = acc(s.mean) if s.std is None else f"{acc(s.mean)} {style.pm} {acc(s.std)}"
    elif cell.format == "count":
        mean, std = count(s.mean, s.std)
        text = mean if std is None else f"{mean} {style.pm} {std}"
    else:
        raise ValueError(f"unknown number format {cell.format!r}")
    text = f"{text} (n={s.n})"
    return style.bold(text) if cell.bold else text


def _diff(cell: Diff, style: Style) -> str:
    d = cell.diff
    if d is None:
        return style.dash
    if d.lo is None:
        return f"{_signed(d.mean, style)} (n={d.n}, no CI)"
    return f"{_signed(d.mean, style)} [{_signed(d.lo, style)}, {_signed(d.hi, style)}] (n={d.n})"


def cell(c: Cell, style: Style) -> str:
    if isinstance(c, Text):
        return style.escape(c.text)
    if isinstance(c, Measured):
        return _measured(c, style)
    if isinstance(c, Published):
        return style.dash if c.text is None else style.escape(c.text)
    if isinstance(c, Diff):
        return _diff(c, style)
    raise TypeError(f"not a report cell: {c!r}")
