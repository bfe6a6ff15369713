"""The generated LaTeX drops into a paper: every study's ``.tex`` and figures compile with ``pdflatex``.

Golden files pin the bytes; only TeX says whether those bytes are valid LaTeX (an unescaped ``%``, a
Unicode sign pdflatex has no glyph for, a ``\\resizebox`` that swallows a brace). Each study's tables are
``\\input`` into a minimal article with only the packages ``suite.report.latex`` says it needs, and each of
its figures (PNG and PDF, as :mod:`suite.report.figures` writes them) is ``\\includegraphics``-ed. CI installs
TeX (``.ci/run``); where it cannot be installed the test is skipped with the reason (``-ra`` prints it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from suite.report import latex, render_frames
from suite.report.fmt import tex_escape

PDFLATEX = shutil.which("pdflatex")
pytestmark = pytest.mark.skipif(
    PDFLATEX is None,
    reason="pdflatex not found: install TeX (Debian: apt-get install texlive-latex-base "
    "texlive-latex-recommended) to compile the generated tables",
)

DOCUMENT = r"""\documentclass{article}
\usepackage{booktabs,graphicx}
\begin{document}
\input{%(tex)s}
%(figures)s
\end{document}
"""


def _figure(path: Path) -> str:
    return "\\clearpage\n\\begin{figure}[p]\\centering\n" + (
        f"\\includegraphics[width=\\linewidth,height=0.8\\textheight,keepaspectratio]{{{path.name}}}\n"
        f"\\caption{{{tex_escape(path.name)}}}\\end{{figure}}"
    )


def _errors(log: str) -> list[str]:
    """TeX's error lines (``! ...``) and the warnings that mean a broken document."""
    bad = re.compile(r"^(! .*|.*(?:undefined|Missing character|Unicode character).*)$", re.M)
    return bad.findall(log)


@pytest.mark.parametrize("study", ["table2", "table3", "table4", "table5", "controls"])  # conftest.POINTS
def test_every_table_and_figure_compiles_with_pdflatex(study, tmp_path, points, make_frames):
    runs, history = make_frames(points(study))
    paths = render_frames(study, runs, history, profile="cpu", out_dir=tmp_path, command=f"report {study}")
    tex = tmp_path / f"{study}.tex"
    assert tex in paths and latex.PREAMBLE.split("\n")[0] in tex.read_text(encoding="utf-8")
    figures = [p for p in paths if p.suffix in (".png", ".pdf")]
    doc = tmp_path / "doc.tex"
    doc.write_text(
        DOCUMENT % {"tex": tex.name, "figures": "\n".join(_figure(p) for p in figures)}, encoding="utf-8"
    )
    proc = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", doc.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )
    log = (tmp_path / "doc.log").read_text(errors="replace") if (tmp_path / "doc.log").exists() else ""
    assert proc.returncode == 0 and not _errors(log), f"{study}.tex does not compile:\n" + "\n".join(
        _errors(log) or [proc.stdout[-3000:]]
    )
    pages = re.search(r"Output written on doc\.pdf \((\d+) pages?", log)
    assert pages and int(pages.group(1)) >= 1 + len(figures), "every table and figure is typeset"
    assert (tmp_path / "doc.pdf").stat().st_size > 0
