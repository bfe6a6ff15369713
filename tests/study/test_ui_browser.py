"""The MLflow UI in a real browser: ``python -m suite ui``'s links open a study on its runs, datasets shown.

The UI is a React app: only a browser running it says what a person sees (an API answer does not: MLflow
3's UI decides by itself which page an experiment opens on). Headless Chromium loads the page, runs it for a
virtual 15 s and dumps the DOM. The store is written by the suite's own tracking code (a parent and two
child runs with their dataset inputs, as the runner and worker log them; nothing is trained). CI installs
Chromium (``.ci/run``); where it cannot be installed the test is skipped with the reason (``-ra``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from suite.contract import Role, Tag
from suite.data import DataSummary
from suite.study import tracking, worker

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium not found: install it (Debian: apt-get install chromium) to test the MLflow UI "
        "in a real browser",
    ),
]
PARENT = "tiny-smoke-20260101-000000"
CHILDREN = ("neuron=LIF seed=0", "neuron=KLIF seed=0")
DIGEST = "0123456789abcdef"


def _store(uri: str) -> dict[str, str]:
    """A study's experiment as the runner leaves it: a parent, two children, their data. Returns name -> id."""
    exp = tracking.init_store(uri, "tiny")
    client = tracking.MlflowClient(uri)
    parent = client.create_run(exp, tags={Tag.ROLE: Role.PARENT, Tag.STUDY: "tiny"}, run_name=PARENT)
    ids = {PARENT: parent.info.run_id}
    for name in CHILDREN:
        neuron = name.split()[0].removeprefix("neuron=")
        task = {
            "study": "tiny",
            "profile": "smoke",
            "hash": f"h-{neuron}",
            "axes": {"neuron": neuron, "seed": 0},
        }
        task |= {"name": name, "config": {"neuron": neuron, "epochs": 1}, "runtime": {"threads": 1}}
        task |= {"experiment_id": exp, "parent_run_id": parent.info.run_id, "commit": "test"}
        ids[name] = worker._create_run(client, task, "cpu")
        tracking.log_dataset(
            client, ids[name], DataSummary("mnist", {"train": 300, "test": 100}, DIGEST, "/d")
        )
        tracking.copy_inputs(client, client.get_run(ids[name]), parent.info.run_id)  # as the runner does
    return ids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ui(tmp_path):
    """``python -m suite ui`` on a fresh store: (the links it printed by name, run ids by name)."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    ids = _store(uri)
    port, log = _free_port(), tmp_path / "ui.log"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "suite", "ui", "--tracking-uri", uri, "--port", str(port)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # the server starts workers: stop the whole group
        )
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
                break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.3)
        links = dict(re.findall(r"^\s+(\S+): (http\S+)$", log.read_text(), re.M))
        yield links, ids
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _page(url: str, profile: Path, want: list[str]) -> str:
    """The page's text after the app rendered it; loaded again with more virtual time while ``want`` is
    missing (a slow machine)."""
    for budget in (15000, 30000, 60000):
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={profile}",
            ]
            + [f"--virtual-time-budget={budget}", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=180,
        ).stdout
        text = " ".join(
            re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)).split()
        )
        if all(w in text for w in want):
            break
    return text


def test_a_study_opens_on_its_runs_with_their_datasets(ui, tmp_path):
    links, ids = ui
    assert set(links) == {"tiny"}, "one link per study"
    table = _page(links["tiny"], tmp_path / "chromium", [PARENT])
    assert PARENT in table, f"the runs table with the parent run: {table[:2000]}"
    assert "mnist" in table, "the Dataset column: the parent lists its children's datasets"
    for name in CHILDREN:
        url = links["tiny"].replace("?", f"/runs/{ids[name]}?")
        page = _page(url, tmp_path / "chromium", [name, f"mnist ({DIGEST})"])
        assert name in page and PARENT in page, f"the run page, under its parent: {page[:2000]}"
        assert f"mnist ({DIGEST})" in page, "its dataset input: name and digest"
