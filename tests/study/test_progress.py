"""The runner's progress: plain lines exactly as in CI logs, and the live display's content for the same events.

The live display is rendered to a string by a rich console that believes it is a terminal, so what a person
would see is checked without one.
"""

from __future__ import annotations

import io
import re
import sys

import pytest
from rich.console import Console

from suite.contract import EventKind, Outcome, Result
from suite.study import progress as prog

EPOCHS = {"a": 3, "b": 2}
NAMES = {"a": "neuron=LIF seed=0", "b": "neuron=KLIF seed=0 [bold]"}  # not rich markup
TRAINED = Result("a", Outcome.TRAINED, "rid", {"best_test_acc": 51.5, "final_test_acc": 50.25})


def _events():
    return [
        {"hash": "a", "kind": EventKind.START, "epochs": 3, "run_id": "r1"},
        {"hash": "b", "kind": EventKind.START, "epochs": 2, "run_id": "r2"},
        {"hash": "b", "kind": EventKind.RESUME, "epoch": 1, "run_id": "r2"},
        {"hash": "a", "kind": EventKind.EPOCH, "epoch": 1, "test_acc": 40.0, "time": 10.0},
        {"hash": "a", "kind": EventKind.EPOCH, "epoch": 2, "test_acc": 45.0, "time": 12.0},
    ]


def test_plain_lines_are_the_ones_ci_logs_always_had():
    lines: list[str] = []
    p = prog.Progress(EPOCHS, NAMES, 2, lines.append)
    for ev in _events():
        p.event(ev)
    p.complete("a", TRAINED)
    p.complete("b", RuntimeError("boom"))
    assert lines == [
        "[resume] neuron=KLIF seed=0 [bold]: from the checkpoint of epoch 1",
        "[0/2 done] neuron=LIF seed=0: epoch 1/3 test_acc 40.00% (10.0s/epoch, ETA 0m15s)",
        "[0/2 done] neuron=LIF seed=0: epoch 2/3 test_acc 45.00% (12.0s/epoch, ETA 0m11s)",
        "[1/2 done] neuron=LIF seed=0: best 51.50% final 50.25%",
        "[2/2 done] neuron=KLIF seed=0 [bold]: FAILED: RuntimeError: boom",
    ]


def _screen(console: Console, what) -> str:
    console.print(what)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue())


def _console() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=160, color_system=None)


def test_live_display_shows_an_overall_bar_with_eta_and_a_bar_per_running_run():
    console = _console()
    live = prog.LiveProgress(EPOCHS, NAMES, 2, console)
    for ev in _events():
        live.event(ev)
    screen = _screen(console, live.bars).splitlines()
    assert screen[0] == "[resume] neuron=KLIF seed=0 [bold]: from the checkpoint of epoch 1", (
        "resume: a line above"
    )
    bars = screen[1:]
    study, run_a, run_b = (next(ln for ln in bars if key in ln) for key in ("study", "=LIF", "=KLIF"))
    assert "0/2 runs done, ETA 0m11s" in study and "━" in study, "the overall bar, runs done and the ETA"
    assert "epoch 2/3 test_acc 45.00% (12.0s/epoch)" in run_a, "a running run: its epoch and last accuracy"
    assert "epoch 1/2 resumed" in run_b
    assert not any("test_acc 40.00%" in line for line in screen), "epochs update the bars, print no line"


def test_a_finished_run_leaves_the_bars_and_prints_its_outcome_line():
    console = _console()
    live = prog.LiveProgress(EPOCHS, NAMES, 2, console)
    for ev in _events():
        live.event(ev)
    live.complete("a", TRAINED)
    screen = _screen(console, live.bars)
    assert "[1/2 done] neuron=LIF seed=0: best 51.50% final 50.25%" in screen
    bars = screen.split("best 51.50% final 50.25%", 1)[1]
    assert "neuron=LIF" not in bars and "neuron=KLIF seed=0 [bold]" in bars and "1/2 runs done" in bars
    live.complete("b", Result("b", Outcome.COPIED))
    screen = _screen(console, live.bars)
    assert (
        "[2/2 done] neuron=KLIF seed=0 [bold]: copied" in screen
        and "2/2 runs done" in screen.splitlines()[-1]
    )


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "tty, term, own_out, live",
    [
        (True, "xterm-256color", False, True),
        (False, "xterm-256color", False, False),  # CI logs, pipes
        (True, "dumb", False, False),
        (True, "xterm-256color", True, False),  # a caller collecting the lines gets the lines
    ],
)
def test_one_place_decides_live_or_plain(monkeypatch, tty, term, own_out, live):
    monkeypatch.setattr(sys, "stdout", _Tty() if tty else io.StringIO())
    monkeypatch.setenv("TERM", term)
    out = [].append if own_out else print
    with prog.display(EPOCHS, NAMES, 1, out) as shown:
        assert isinstance(shown, prog.LiveProgress) is live
        shown.event(_events()[0])
        shown.complete("a", TRAINED)
