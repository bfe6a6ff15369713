"""Real services for the cluster tests, started by the tests: PostgreSQL and ``python -m suite server``.

PostgreSQL refuses to run as root, so ``initdb`` and ``pg_ctl`` run as the ``postgres`` user (Debian's
package creates it) in a temp folder, on 127.0.0.1 and a free port. Without the binaries, or without a
way to run them, the tests that need it skip with the reason (``.ci/run`` installs the package).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

# The tests' shared study text (tiny.py) is a plain module beside them; --import-mode=importlib puts no test
# folder on sys.path, so this one is put there, once, before the test modules are imported.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def eager_neurons(request, monkeypatch):
    """The runner's tests run their workers on the eager neuron kernel (``SUITE_COMPILE=0``), unless marked
    ``@pytest.mark.compiled``.

    Why: these tests are about processes, signals, stores and executors; every worker they spawn would
    otherwise pay torch.compile's start-up (seconds warm, about half a minute cold on a fresh CI machine)
    for a kernel whose arithmetic tests/neurons checks on both paths. The README's main job (table3's smoke
    profile) keeps the compiled kernel, so one study still runs end to end as a user's does.
    """
    if request.node.get_closest_marker("compiled") is None:
        monkeypatch.setenv("SUITE_COMPILE", "0")


PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"))  # Debian's layout: not on PATH


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_user(user: str, *cmd: str, **kw) -> subprocess.CompletedProcess:
    """Run ``cmd`` as ``user`` (we are root), or as ourselves when we already are that user."""
    import pwd

    if pwd.getpwuid(os.getuid()).pw_name != user:
        cmd = ("runuser", "-u", user, "--", *cmd)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def _pg(name: str) -> str | None:
    found = shutil.which(name) or next(
        (str(b / name) for b in reversed(PG_BINS) if (b / name).exists()), None
    )
    return found


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server (Debian 12: 15) in a temp folder; yields a function making a database, returning its URI."""
    initdb, pg_ctl = _pg("initdb"), _pg("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL not installed (Debian package postgresql; .ci/run installs it)")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user to run PostgreSQL as (Debian package postgresql creates it)")
    if os.getuid() != 0 and os.environ.get("USER") != "postgres":
        pytest.skip("PostgreSQL must run as the postgres user: these tests need root to switch to it")
    root = Path(
        tempfile.mkdtemp(prefix="suite-postgres-")
    )  # not under pytest's 0700 folders: postgres reads it
    shutil.chown(root, "postgres")
    data, port = root / "data", free_port()
    made = as_user("postgres", initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    if made.returncode:
        pytest.skip(f"initdb failed: {made.stderr.strip()[-300:]}")
    opts = f"-h 127.0.0.1 -p {port} -k {root}"
    started = as_user("postgres", pg_ctl, "-D", str(data), "-l", str(root / "log"), "-o", opts, "-w", "start")
    if started.returncode:
        pytest.skip(f"pg_ctl start failed: {started.stderr.strip()[-300:]}")

    def database(name: str) -> str:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return f"postgresql://postgres@127.0.0.1:{port}/{name}"

    try:
        yield database
    finally:
        as_user("postgres", pg_ctl, "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


class Server:
    """``python -m suite server`` on a PostgreSQL database, stoppable and restartable on the same port."""

    def __init__(self, db: str, artifacts: Path, workers: int = 2):
        self.db, self.artifacts, self.workers = db, artifacts, workers
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> Server:
        cmd = [sys.executable, "-m", "suite", "server", "--backend-store-uri", self.db]
        cmd += ["--artifacts-destination", str(self.artifacts), "--port", str(self.port)]
        cmd += ["--workers", str(self.workers)]
        log = open(self.artifacts.parent / f"server-{self.port}.log", "a")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited with {self.proc.returncode}; see {log.name}")
            try:
                urllib.request.urlopen(f"{self.uri}/health", timeout=2).close()
                return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise AssertionError(f"the server did not answer in {timeout:.0f}s; see {log.name}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def tracking_server(postgres, tmp_path):
    """A fresh database behind a running ``python -m suite server`` (2 server processes)."""
    artifacts = tmp_path / "server" / "mlartifacts"
    artifacts.parent.mkdir()
    server = Server(postgres(f"mlflow_{tmp_path.name.lower()}"[:60].replace("-", "_")), artifacts).start()
    try:
        yield server
    finally:
        server.stop()
