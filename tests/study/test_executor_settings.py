"""Executor settings from a file, one line per mistake; where a cluster's runs could not run; the dry run."""

from __future__ import annotations

import pytest

from suite.study import executor, run_study
from suite.study.executor.node import node_threads

GOOD = """
[slurm]
partition = "gpu"
time_min = 240
gpus_per_run = 1
cpus_per_run = 8
mem_gb = 32
array_parallelism = 16
setup = ["module load cuda", "source /shared/klif/.venv/bin/activate"]
folder = "/shared/klif/jobs"

[submitit-local]
array_parallelism = 2
epoch_s = 30
"""


def _file(tmp_path, text: str):
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return path


def test_a_settings_file_configures_slurm_and_the_command_line_overrides_its_parallelism(tmp_path):
    path = _file(tmp_path, GOOD)
    slurm = executor.make("slurm", config=path)
    assert slurm.plan(12) == (
        "slurm: 1 job array of 12 runs, 12 at once, partition gpu, 1 GPU × 8 CPUs × 32 GB, 240 min each"
    )
    assert (
        executor.make("slurm", config=path, workers=3)
        .plan(12)
        .startswith("slurm: 1 job array of 12 runs, 3 at once")
    )
    assert executor.make("submitit-local", config=path).epoch_s == 30


@pytest.mark.parametrize(
    "text,name,message",
    [
        (
            "[slurm]\ntime_min = 0\n",
            "slurm",
            r"cluster.toml: \[slurm\] time_min: 0 is out of range; allowed: an integer >= 1",
        ),
        (
            "[slurm]\npartition = 'gpu'\n",
            "slurm",
            r"cluster.toml: \[slurm\] time_min: missing; a job's time limit",
        ),
        (
            "[slurm]\ntime_min = 9\ngpu = 1\n",
            "slurm",
            r"\[slurm\] gpu: unknown executor setting; allowed: .*gpus_per_run",
        ),
        (
            "[slurm]\ntime_min = 9\nfolder = 'jobs'\n",
            "slurm",
            r"folder: 'jobs' is out of range; allowed: an absolute path",
        ),
        (
            "[slurm]\ntime_min = 9\nsetup = 'module load cuda'\n",
            "slurm",
            "setup: .* allowed: a list of strings",
        ),
        ("[slurm]\ntime_min = 9\non_interrupt = 'maybe'\n", "slurm", "allowed: ask, cancel, keep"),
        (
            "[slurm]\ntime_min = 9\n",
            "submitit-local",
            r"no \[submitit-local\] table for --executor submitit-local; tables in the file: \[slurm\]",
        ),
        ("[slurm\n", "slurm", "cluster.toml: not valid TOML"),
    ],
)
def test_bad_settings_are_one_line_naming_file_table_and_key(tmp_path, text, name, message):
    with pytest.raises(executor.ExecutorError, match=message) as err:
        executor.make(name, config=_file(tmp_path, text))
    assert "\n" not in str(err.value)


def test_a_missing_settings_file_is_one_line(tmp_path):
    with pytest.raises(executor.ExecutorError, match=r"nope.toml: cannot read the executor settings"):
        executor.make("slurm", config=tmp_path / "nope.toml")


def test_the_settings_file_comes_from_the_environment_when_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("SUITE_EXECUTOR_CONFIG", str(_file(tmp_path, GOOD)))
    assert executor.make("slurm").settings.partition == "gpu"


@pytest.mark.parametrize(
    "uri,home,data,message",
    [
        (
            "sqlite:////shared/mlflow.db",
            "/shared/home",
            "/shared/data",
            "need an http\\(s\\):// MLflow server",
        ),
        ("http://head:5000", "", "/shared/data", "SUITE_HOME=\\(unset\\): set it to an absolute folder"),
        ("http://head:5000", "rel/home", "/shared/data", "SUITE_HOME=rel/home"),
        ("http://head:5000", "/shared/home", "data", "data root data: pass --data-root"),
    ],
)
def test_a_cluster_needs_an_http_store_and_shared_absolute_paths(monkeypatch, uri, home, data, message):
    monkeypatch.setenv("SUITE_HOME", home)
    slurm = executor.make("slurm", {"time_min": 60})
    with pytest.raises(executor.ExecutorError, match=message):
        slurm.check(uri, home, data)
    executor.make("submitit-local").check(uri, home, data)  # this machine: its own paths and store are fine


def test_a_good_cluster_placement_passes(monkeypatch):
    monkeypatch.setenv("SUITE_HOME", "/shared/home")
    executor.make("slurm", {"time_min": 60}).check("https://head:5000", "/shared/home", "/shared/data")


def test_threads_are_decided_on_the_node(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "6")
    assert node_threads(2) == 6  # what Slurm gave the job wins
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    assert node_threads(2) == 2
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "")
    assert node_threads(None) >= 1


def test_the_settings_reference_lists_every_setting():
    text = executor.settings_markdown()
    for name, (cls, _, _) in executor.EXECUTORS.items():
        assert f"### `[{name}]`" in text
        for field in cls.__dataclass_fields__:
            assert f"| `{field}` |" in text


def test_a_dry_run_prints_the_runs_and_an_estimate(tmp_path, monkeypatch, data_root):
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    lines: list[str] = []
    code = run_study(
        "table2",
        profile="smoke",
        data_root=str(data_root),
        dry_run=True,
        executor="submitit-local",
        executor_settings={"epoch_s": 36},
        tracking_uri=f"sqlite:///{tmp_path}/home/mlflow.db",
        out=lines.append,
    )
    assert code == 0, lines
    assert "submitit-local:" in lines[0]
    estimate = lines[-1]
    assert (
        estimate.startswith("estimate: ") and "× 36.0 s/epoch (epoch_s in the executor settings)" in estimate
    )
    assert "run-hours (CPU)" in estimate or "GPU-hours" in estimate


class _Job:
    def __init__(self, job_id: str):
        self.job_id, self.cancelled = job_id, False

    def cancel(self, check: bool = True) -> None:
        self.cancelled = True


@pytest.mark.parametrize(
    "on_interrupt,err,cancelled",
    [
        ("ask", KeyboardInterrupt(), True),  # no terminal to ask on: cancel
        ("keep", KeyboardInterrupt(), False),
        ("cancel", KeyboardInterrupt(), True),
        ("keep", RuntimeError("the runner gave up"), True),  # not a person's Ctrl-C: never leave them
    ],
)
def test_ctrl_c_on_the_submitter_cancels_or_keeps_the_jobs(on_interrupt, err, cancelled, capsys):
    jobs = [_Job("1"), _Job("2")]
    executor.make("submitit-local", {"on_interrupt": on_interrupt})._interrupted(jobs, err)
    assert [j.cancelled for j in jobs] == [cancelled] * 2
    assert f"2 jobs {'cancelled' if cancelled else 'left running'}" in capsys.readouterr().err


def test_the_cluster_guide_shows_the_settings_as_they_are():
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "cluster.md").read_text()
    assert executor.settings_markdown().rstrip() in guide, "regenerate the reference in docs/cluster.md"
