"""The store: created once under a lock, whoever races to create it."""

from __future__ import annotations

import subprocess
import sys

import pytest

CREATE = "import sys; from suite.study import tracking; print(tracking.init_store(sys.argv[1], 'race'))"


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(5))
def test_two_runners_creating_one_new_store_at_once(tmp_path, trial):
    uri = f"sqlite:///{tmp_path}/new/mlflow.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE, uri], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    ids = {o[0].strip().splitlines()[-1] for o in outs}
    assert len(ids) == 1, "both runners see the same experiment"
