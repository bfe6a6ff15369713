"""``python -m suite server``: the MLflow tracking server a lab's cluster runs log to, on PostgreSQL.

Why not sqlite: every run on every node writes its epochs; sqlite serialises writers with file locks, and
on a shared (NFS, Lustre) filesystem those locks are unreliable or slow, so concurrent writers see
"database is locked" or, worse, a corrupt file. One server process owns the database instead; the nodes
talk HTTP to it. PostgreSQL is MLflow's best-supported SQL backend; Optuna (search studies) gets its own
database on the same PostgreSQL, so neither schema's migrations touch the other.

Choices written down:

- The database schema is created or migrated once, here, before the server's workers start (several
  workers migrating one fresh database at once race on MLflow's alembic table).
- Artifacts are proxied (``--serve-artifacts``): nodes upload through the server to
  ``--artifacts-destination`` on the head node, so they need no access to that folder or to a bucket.
- Bound to 127.0.0.1 unless ``--host`` is given: a server on the head node is opened to the cluster's
  network deliberately. With another host, MLflow's host-header check (against DNS rebinding) must allow
  the names the nodes use, so ``--allowed-hosts`` defaults to this machine's names (any port) and loopback.
- Connections: each of the ``--workers`` server processes keeps its own SQLAlchemy pool of
  ``--pool-size`` connections plus ``--max-overflow`` under load, so the total is workers x (pool +
  overflow); the default (4 x (5 + 10) = 60) stays under PostgreSQL's default ``max_connections`` (100).
  Connections are recycled after ``--pool-recycle`` seconds, so a database restart or a firewall dropping
  idle connections costs a reconnect, not failed requests.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from suite.study.executor.base import ExecutorError

SCHEMES = ("postgresql://", "postgresql+psycopg2://")
MAX_CONNECTIONS = 100  # PostgreSQL's default max_connections


def allowed_hosts(host: str, port: int) -> str:
    """The Host headers the nodes may send: this machine's names and addresses, any port, and loopback."""
    names = {"localhost", "127.0.0.1", host, socket.gethostname(), socket.getfqdn()}
    try:
        names |= set(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    names.discard("0.0.0.0")
    return ",".join(sorted(f"{n}{suffix}" for n in names if n for suffix in ("", ":*")))


def command(args) -> tuple[list[str], dict[str, str]]:
    """The ``mlflow server`` command line and environment for these arguments (validated first)."""
    uri = args.backend_store_uri or os.environ.get("SUITE_SERVER_DB", "")
    if not uri.startswith(SCHEMES):
        from suite.study.tracking import redact

        raise ExecutorError(
            f"server: --backend-store-uri {redact(uri) or '(unset)'}: want postgresql://USER@HOST:PORT/DB "
            f"(or $SUITE_SERVER_DB); sqlite is not for a server many nodes write to (docs/cluster.md)"
        )
    total = args.workers * (args.pool_size + args.max_overflow)
    if args.workers < 1 or args.pool_size < 1 or args.max_overflow < 0 or total > MAX_CONNECTIONS:
        raise ExecutorError(
            f"server: --workers {args.workers} x (--pool-size {args.pool_size} + --max-overflow "
            f"{args.max_overflow}) = {total} connections; allowed: at least 1 x (1 + 0), at most "
            f"{MAX_CONNECTIONS} (PostgreSQL's default max_connections)"
        )
    artifacts = Path(args.artifacts_destination).resolve()
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", driver_uri(uri)]
    cmd += ["--serve-artifacts", "--artifacts-destination", str(artifacts)]
    cmd += ["--host", args.host, "--port", str(args.port), "--workers", str(args.workers)]
    if args.host not in ("127.0.0.1", "localhost"):
        cmd += ["--allowed-hosts", args.allowed_hosts or allowed_hosts(args.host, args.port)]
    elif args.allowed_hosts:
        cmd += ["--allowed-hosts", args.allowed_hosts]
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no background job runner: a tracking server only
        "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": str(args.pool_size),
        "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": str(args.max_overflow),
        "MLFLOW_SQLALCHEMYSTORE_POOL_RECYCLE": str(args.pool_recycle),
    }
    return cmd, env


def driver_uri(uri: str) -> str:
    """``postgresql://`` with the psycopg2 driver named: SQLAlchemy 2.1's default is psycopg 3, which this
    project does not install (psycopg2-binary is a wheel with libpq inside: nothing to compile on a head node)."""
    return (
        "postgresql+psycopg2://" + uri.removeprefix("postgresql://")
        if uri.startswith("postgresql://")
        else uri
    )


def migrate(uri: str, artifacts: str) -> None:
    """Check the database answers (in seconds: MLflow's own retries take many minutes), then create or
    upgrade MLflow's schema in it, once, before the workers start."""
    import sqlalchemy
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from suite.study.tracking import redact

    try:
        engine = sqlalchemy.create_engine(uri, connect_args={"connect_timeout": 5})
        with engine.connect():
            pass
        engine.dispose()
        SqlAlchemyStore(uri, Path(artifacts).resolve().as_uri())
    except Exception as err:  # noqa: BLE001 - one line naming the database, not a SQLAlchemy traceback
        text = str(getattr(err, "orig", None) or err).strip()
        first = text.splitlines()[0] if text else type(err).__name__
        raise ExecutorError(f"server: database {redact(uri)} is not usable: {first}") from None


def serve(args) -> int:
    """Validate, migrate, then become the MLflow server (signals reach it; its exit code is ours)."""
    cmd, env = command(args)
    os.environ.update({k: env[k] for k in env if k.startswith("MLFLOW_")})
    migrate(cmd[cmd.index("--backend-store-uri") + 1], args.artifacts_destination)
    from suite.study.tracking import redact

    print(
        f"MLflow tracking server for {redact(cmd[cmd.index('--backend-store-uri') + 1])}: "
        f"http://{args.host}:{args.port} (artifacts: {Path(args.artifacts_destination).resolve()})",
        flush=True,
    )
    os.execvpe(cmd[0], cmd, env)
    return 0  # not reached


def add_parser(sub) -> None:
    p = sub.add_parser(
        "server", help="an MLflow tracking server on PostgreSQL for a cluster (see docs/cluster.md)"
    )
    p.add_argument(
        "--backend-store-uri",
        default=None,
        help="postgresql://USER[:PASSWORD]@HOST:PORT/DB (default: $SUITE_SERVER_DB)",
    )
    p.add_argument(
        "--artifacts-destination",
        default=os.path.join(os.environ.get("SUITE_HOME", ".suite"), "mlartifacts"),
        help="where proxied artifacts are stored (default: $SUITE_HOME/mlartifacts)",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--workers", type=int, default=4, help="server processes (default 4)")
    p.add_argument("--pool-size", type=int, default=5, help="database connections kept per server process")
    p.add_argument("--max-overflow", type=int, default=10, help="extra connections per process under load")
    p.add_argument("--pool-recycle", type=int, default=1800, help="seconds before a connection is renewed")
    p.add_argument(
        "--allowed-hosts",
        default=None,
        help="Host headers accepted (default with --host: this machine's names on any port, and loopback)",
    )
    p.set_defaults(fn=serve)
