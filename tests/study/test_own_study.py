"""A study of one's own, written outside the project with axes no paper study combines, end to end: the CLI
trains it, then renders its table (derived from its axes) and its training curves, exit 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

OWN = """
name = "slope-sweep"
extends = "_shared"  # the smoke profile, found in the project's studies/ from anywhere
title = "KLIF vs LIF across surrogate slopes on Fashion-MNIST"
seeds = [0, 1]
[base]
dataset = "fashion-mnist"
[grid]
neuron = ["LIF", "KLIF"]
alpha = [1.0, 4.0]
[profiles.smoke]
seeds = [0, 1]  # two seeds: bands and paired intervals, still seconds per run
epochs = 2
t_max = 2
"""


def test_a_study_outside_the_project_runs_and_reports(tmp_path, data_root):
    from suite.cli import main

    study = tmp_path / "elsewhere" / "slope-sweep.toml"
    study.parent.mkdir()
    study.write_text(OWN)
    uri = f"sqlite:///{tmp_path}/home/mlflow.db"
    env = {**os.environ, "SUITE_HOME": str(tmp_path / "home"), "MLFLOW_DISABLE_TELEMETRY": "true"}
    args = ["study", str(study), "--profile", "smoke", "--tracking-uri", uri, "--data-root", str(data_root)]
    done = subprocess.run(
        [sys.executable, "-m", "suite", *args, "--workers", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "results" / "smoke"
    names = {"slope-sweep.md", "slope-sweep.tex", "slope-sweep-curves.png", "slope-sweep-curves.pdf"}
    assert names <= {p.name for p in out.iterdir()}
    md = (out / "slope-sweep.md").read_text(encoding="utf-8")
    assert "| neuron | alpha = 1" in md and "| LIF " in md and "| KLIF " in md and "(n=2)" in md
    assert "| KLIF - LIF " in md  # paired against the reference arm, LIF
    assert f"**Command:** nox -s report -- {study} --profile smoke" in md  # the command that remakes it
    assert "(n=2)" in done.stdout  # the runner prints the table at the end

    # ...and `nox -s report -- <file>` remakes the same files from the store
    again = tmp_path / "again"
    assert main(["report", str(study), "--profile", "smoke", "--tracking-uri", uri, "--out", str(again)]) == 0
    assert (again / "smoke" / "slope-sweep.md").read_text(encoding="utf-8") == md
    png = "slope-sweep-curves.png"
    assert (again / "smoke" / png).read_bytes() == (out / png).read_bytes()
