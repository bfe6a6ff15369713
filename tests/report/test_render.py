"""render() end to end on a temporary MLflow store in the runner's schema: files, content, determinism."""

from __future__ import annotations

from pathlib import Path

import pytest

from suite.report import layout, render
from suite.study.spec import StudyError

GOLDEN = Path(__file__).with_name("golden")
COMMAND = "python -m suite report table2 --profile cpu"
FILES = [
    *("table2.md", "table2.tex", "fig4.png", "fig4.pdf", "fig5.png", "fig5.pdf", "fig6.png", "fig6.pdf"),
    *("table2-curves.png", "table2-curves.pdf"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory, points, log_runs):
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"
    pts = points("table2")
    extras = [
        dict(pts[0], hash="hF", status="failed", base=1.0),  # a failed rerun of LIF/mnist seed 0: ignored
        dict(pts[1], hash="hG", profile="gpu", base=1.0),  # another profile: ignored
    ]
    log_runs(uri, pts + extras)
    return uri


def _bytes(paths):
    return {p.name: p.read_bytes() for p in paths}


def test_render_writes_tables_and_figures_and_reruns_byte_identical(store, tmp_path):
    first = render("table2", profile="cpu", tracking_uri=store, out_dir=tmp_path / "a", command=COMMAND)
    assert [p.name for p in first] == FILES
    assert all(p.parent == tmp_path / "a" for p in first)
    blobs = _bytes(first)
    assert all(blobs[n].startswith(b"\x89PNG") for n in FILES if n.endswith(".png"))
    assert all(blobs[n].startswith(b"%PDF") for n in FILES if n.endswith(".pdf"))
    assert b"CreationDate" not in blobs["fig4.pdf"]
    again = render("table2", profile="cpu", tracking_uri=store, out_dir=tmp_path / "a", command=COMMAND)
    assert _bytes(again) == blobs
    elsewhere = render("table2", profile="cpu", tracking_uri=store, out_dir=tmp_path / "b", command=COMMAND)
    assert _bytes(elsewhere) == blobs  # written afresh, not merely left in place


def test_tables_from_the_store_equal_the_tables_from_the_same_frames(store, tmp_path):
    """The MLflow path (load_runs) and the DataFrame path (golden) agree on every printed number."""
    md = render("table2", profile="cpu", tracking_uri=store, out_dir=tmp_path, command=COMMAND)[0]
    cut = "### Runs behind each cell"
    assert (
        md.read_text(encoding="utf-8").split(cut)[0]
        == (GOLDEN / "table2.md").read_text(encoding="utf-8").split(cut)[0]
    )


def test_render_all_writes_every_study_with_dashes_where_nothing_ran(store, tmp_path):
    paths = render(
        "all", profile="cpu", tracking_uri=store, out_dir=tmp_path, command="python -m suite report all"
    )
    names = {p.name for p in paths}
    assert {f"{s}.md" for s in layout.names()} <= names and {f"{s}.tex" for s in layout.names()} <= names
    table5 = (tmp_path / "table5.md").read_text(encoding="utf-8")
    assert "(n=" not in table5 and "| KLIF(CELU)" in table5 and "no finished run" in table5
    assert paths[-1] == tmp_path / "claims.md"  # after the tables, from the same loaded runs
    claims_md = paths[-1].read_text(encoding="utf-8")
    assert (
        "| MNIST          | 98.82 ± 0.31 (n=3) | 98.20 ± 0.46 (n=3) | +0.62 [-0.10, +1.33] (n=3)" in claims_md
    )
    assert "KLIF(CELU) is slightly worse than KLIF(ReLU)" in claims_md  # table5 never ran: kept, "no runs"
    assert (
        claims_md.count("| no runs") >= 4 + 2 * 7 and "**Command:** python -m suite report all" in claims_md
    )


def test_claims_md_only_with_all(store, tmp_path):
    render("table2", profile="cpu", tracking_uri=store, out_dir=tmp_path, command=COMMAND)
    assert not (tmp_path / "claims.md").exists()
    with pytest.raises(StudyError, match="unknown study 'table9'; known studies: controls, table2"):
        render("table9", profile="cpu", tracking_uri=store, out_dir=tmp_path, command="x")
