"""Report -> Markdown: one pipe table per section, its notes, then the provenance footer.

Why padded columns: the files are committed and read as plain text in diffs as often as rendered.
"""

from __future__ import annotations

from suite.report.fmt import MARKDOWN, cell
from suite.report.model import Report, Section


def table(section: Section) -> list[str]:
    """The section's padded pipe table, header first (claims.md draws its tables with it too)."""
    head = [MARKDOWN.escape(h) for h in section.header]
    body = [[cell(c, MARKDOWN) for c in row] for row in section.rows]
    widths = [max(3, len(h), *(len(r[i]) for r in body)) for i, h in enumerate(head)]

    def line(values):
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"

    return [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in body)]


def render(report: Report) -> str:
    out = [f"# {MARKDOWN.escape(report.title)}", ""]
    for section in report.sections:
        out += [f"## {MARKDOWN.escape(section.title)}", "", *table(section), ""]
        out += [f"- {MARKDOWN.escape(n)}" for n in section.notes]
        out.append("")
    out += ["## Provenance", ""]
    out += [f"- **{name}:** {MARKDOWN.escape(value)}" for name, value in report.footer]
    out += ["", "### Runs behind each cell (MLflow run ids)", ""]
    out += [f"- {MARKDOWN.escape(p)}" for p in report.provenance] or ["- none: no finished run"]
    return "\n".join(out) + "\n"
