"""The footer's thread split: shown when the runs logged it, left out for runs from before it was tagged."""

from __future__ import annotations

import pandas as pd

from suite.report.footer import _thread_split


def test_thread_split_in_words():
    used = pd.DataFrame({"run_threads": ["1", "1", "2"], "concurrent_runs": ["2", "2", "1"]})
    assert _thread_split(used) == [
        ("Thread split", "1 run at once × 2 threads each; 2 runs at once × 1 thread each")
    ]


def test_runs_without_the_tags_have_no_row():
    assert _thread_split(pd.DataFrame({"run_threads": [None, None]})) == []
    assert _thread_split(pd.DataFrame({"seed": [0]})) == []


def test_a_periodic_cosine_is_said_only_when_epochs_exceed_t_max():
    from suite.report.footer import _periodic_schedule

    within = pd.DataFrame({"epochs": ["100", "3"], "t_max": ["100", "3"]})
    assert _periodic_schedule(within) == []
    assert _periodic_schedule(pd.DataFrame({"seed": [0]})) == []
    over = pd.DataFrame({"epochs": ["100", "200", "200"], "t_max": ["100", "100", "100"]})
    [(label, text)] = _periodic_schedule(over)
    assert label == "Learning rate"
    assert text == (
        "cosine annealing, T_max = 100 over 200 epochs: the rate reaches 0 at epoch 100 and rises again "
        "(the paper's literal setting, Sec. 3); PyTorch's CosineAnnealingLR is periodic, not clamped at 0"
    )
