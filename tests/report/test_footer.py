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
