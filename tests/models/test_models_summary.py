"""docs/networks.md is the output of ``python -m suite networks``, and that output describes the networks."""

from __future__ import annotations

from pathlib import Path

import suite.models as models
from suite.models import summary

REPO = Path(__file__).resolve().parents[2]


def test_docs_networks_md_is_the_generated_table():
    assert (REPO / "docs" / "networks.md").read_text(encoding="utf-8") == summary.markdown(), (
        "regenerate: python -m suite networks > docs/networks.md"
    )


def test_stages_follow_the_blocks_with_their_shapes():
    s = summary.summarize("table1-mnist")
    assert [(t.block, t.layer, t.shape) for t in s.stages] == [
        ("enc", "(128C3+128C3+128C3)", (128, 28, 28)),
        ("pool1", "MP2", (128, 14, 14)),
        ("conv1", "128C3", (128, 14, 14)),
        ("pool2", "MP2", (128, 7, 7)),
        ("fc1", "2048FC", (2048,)),
        ("vote", "100FC-AP10", (10,)),
    ]
    assert sum(t.params for t in s.stages) == s.params
    assert (s.params - s.no_linear_bias, s.per_branch - s.params, s.klif_k) == (2048 + 100, 4 * 128, 4)


def test_event_networks_are_traced_with_time_first_input():
    s = summary.summarize("table1-dvs-gesture-literal")
    assert s.in_shape == (2, 128, 128)
    assert s.stages[-2].shape == (512,) and s.stages[-1].shape == (11,)


def test_covers_both_readings_of_every_table1_row():
    names = [s.name for s in summary.table1()]
    assert names == [n for base, *_ in models.TABLE1 for n in (base, base + models.LITERAL)]


def test_the_cli_prints_it(capsys):
    from suite import cli

    assert cli.main(["networks"]) == 0
    assert capsys.readouterr().out == summary.markdown()
