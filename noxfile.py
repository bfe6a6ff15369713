"""Sessions: tests, bench, lint, study, fetch, report, check-paper, ui, server.

Every session runs in one shared virtual environment, ``.venv`` (git-ignored), created on first use:
torch first (``SUITE_TORCH``, default ``torch==2.13.0``, the local CPU wheel on our machines; set e.g.
``SUITE_TORCH=torch`` on a GPU host), then the project with its dev extra. It is re-synced only when
``pyproject.toml`` changes, so a second session starts in seconds.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
ROOT = Path(__file__).parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONHASHSEED": "0"}


def _venv(session: nox.Session) -> str:
    stamp = VENV / ".suite-stamp"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    want += os.environ.get("SUITE_TORCH", "torch==2.13.0")
    if not PY.exists():
        session.run("python", "-m", "venv", str(VENV), external=True)
    if not stamp.exists() or stamp.read_text() != want:
        pip = [str(PY), "-m", "pip", "install", "-q"]
        session.run(*pip, os.environ.get("SUITE_TORCH", "torch==2.13.0"), external=True)
        session.run(*pip, "-e", f"{ROOT}[dev]", external=True)
        # NeuroBench defines synaptic operations for the field; our count is tested against it. Its own
        # dependencies (snntorch, ...) are not needed for that layer-level function, hence --no-deps.
        session.run(*pip, "--no-deps", "neurobench==2.3", external=True)
        stamp.write_text(want)
    return str(PY)


def _run(session: nox.Session, *args: str) -> None:
    session.run(_venv(session), *args, external=True, env=ENV)


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """The test suite (real data from ../shared/data or SUITE_DATA)."""
    _run(session, "-m", "pytest", "-q", *(session.posargs or ["tests"]))


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: kernels vs memory bandwidth and vs SpikingJelly / snnTorch, worker start-up compile,
    loaders, a training step with each implementation's neuron vs the ANN; saved for comparison
    (pytest-benchmark autosave)."""
    # The peers, for benchmarks/test_kernels.py and test_train_step.py, without their dependencies (their pins
    # would replace the CPU torch); loguru is the one SpikingJelly imports that the project lacks.
    pip = [_venv(session), "-m", "pip", "install", "-q", "--no-deps"]
    session.run(*pip, "spikingjelly==2.0.0", "snntorch==1.0.0", "loguru", external=True)
    _run(
        session,
        "-m",
        "pytest",
        "benchmarks",
        "-q",
        "-p",
        "no:randomly",
        "--benchmark-only",
        "--benchmark-autosave",
        "--benchmark-columns=min,median,mean,rounds",
        "-s",
        *session.posargs,
    )


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    _run(session, "-m", "ruff", "check", "suite", "tests", "benchmarks", "noxfile.py")
    _run(session, "-m", "ruff", "format", "--check", "suite", "tests", "benchmarks", "noxfile.py")


@nox.session(python=False)
def study(session: nox.Session) -> None:
    """Run a study: ``nox -s study -- table3 --profile cpu --data-root ../shared/data``."""
    _run(session, "-m", "suite", "study", *session.posargs)


@nox.session(python=False)
def fetch(session: nox.Session) -> None:
    """Download datasets into the data root: ``nox -s fetch -- all`` (``--dry-run``: what and how big)."""
    _run(session, "-m", "suite", "fetch", *session.posargs)


@nox.session(python=False)
def report(session: nox.Session) -> None:
    """Render tables and figures: ``nox -s report -- all --profile cpu``."""
    _run(session, "-m", "suite", "report", *session.posargs)


@nox.session(name="check-paper", python=False)
def check_paper(session: nox.Session) -> None:
    """The paper profiles beside the paper and its reference code; fails on an unexplained difference."""
    _run(session, "-m", "suite", "check-paper", *session.posargs)


@nox.session(python=False)
def ui(session: nox.Session) -> None:
    """The MLflow UI on the project's store, at 127.0.0.1."""
    _run(session, "-m", "suite", "ui", *session.posargs)


@nox.session(python=False)
def dashboard(session: nox.Session) -> None:
    """optuna-dashboard on a search study's Optuna storage, at 127.0.0.1: ``nox -s dashboard [-- URL]``.

    Installed here, not as a project dependency: only this session needs it. The storage defaults to the
    one the runner creates beside the project's MLflow store (``.suite/optuna.db``).
    """
    py = _venv(session)
    session.run(py, "-m", "pip", "install", "-q", "optuna-dashboard", external=True)
    storage = session.posargs[0] if session.posargs else f"sqlite:///{ROOT / '.suite' / 'optuna.db'}"
    dashboard = str(VENV / "bin" / "optuna-dashboard")
    session.run(dashboard, storage, "--host", "127.0.0.1", "--port", "8080", external=True, env=ENV)


@nox.session(python=False)
def server(session: nox.Session) -> None:
    """An MLflow tracking server on PostgreSQL for a cluster: ``nox -s server -- --backend-store-uri
    postgresql://mlflow@localhost/mlflow --host 0.0.0.0`` (docs/cluster.md)."""
    _run(session, "-m", "suite", "server", *session.posargs)
