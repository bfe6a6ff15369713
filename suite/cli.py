"""``python -m suite {study,fetch,report,ui,server,settings,networks,check-paper,worker}``: the command line the nox sessions call."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _study(args) -> int:
    from suite.study import run_study

    return run_study(
        args.study,
        profile=args.profile,
        seeds=args.seeds,
        workers=args.workers,
        executor=args.executor,
        executor_config=args.executor_config,
        **({"max_runs": args.max_runs} if args.max_runs is not None else {}),
        data_root=args.data_root,
        dry_run=args.dry_run,
        tracking_uri=args.tracking_uri,
        report=not args.no_report,
        download=not args.no_download,
        optuna_storage=args.optuna_storage,
    )


def _fetch(args) -> int:
    """Exit 0 when every named dataset is present afterwards, 1 when one is still missing."""
    from suite.data import fetch, info, names, sources

    wanted = names() if args.datasets == ["all"] else args.datasets
    try:
        for name in wanted:
            info(name)  # an unknown name: one line listing the known ones
        sources.table()  # a broken SUITE_SOURCES file: one line naming the file and key
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        print("\n".join(fetch.dry_run(wanted, args.data_root)))
        return 0
    missing = fetch.fetch(wanted, args.data_root)
    for err in missing.values():
        print(err, file=sys.stderr)
    present = [n for n in wanted if n not in missing]
    print(f"present: {', '.join(present) or 'none'}; still missing: {', '.join(missing) or 'none'}")
    return 1 if missing else 0


def _report(args) -> int:
    from suite import report
    from suite.contract import PROFILE_NAME
    from suite.study import StudyError, tracking

    if not PROFILE_NAME.fullmatch(args.profile):
        raise StudyError(f"--profile {args.profile!r}: not a profile name; allowed: {PROFILE_NAME.pattern}")
    uri = args.tracking_uri or tracking.default_uri()
    tracking.check_reachable(uri)
    command = "nox -s report -- " + " ".join([args.study, "--profile", args.profile])
    # "all" in one call: every study's runs are loaded once, for its tables and then for claims.md
    for path in report.render(
        args.study,
        profile=args.profile,
        tracking_uri=uri,
        out_dir=Path(args.out) / args.profile,
        command=command,
        optuna_storage=args.optuna_storage,
    ):
        print(path)
    return 0


def _ui(args) -> int:
    from suite.study import tracking

    uri = args.tracking_uri or tracking.default_uri()
    base, experiments = f"http://127.0.0.1:{args.port}", []
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        from mlflow.tracking import MlflowClient

        # creates the store once, before the server's workers; each study's link opens on its runs
        experiments = [e for e in MlflowClient(uri).search_experiments() if e.name != "Default"]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        "1",
    ]
    if uri.startswith("sqlite:///"):
        cmd += [
            "--default-artifact-root",
            (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri(),
        ]
    lines = [f"MLflow UI on the store {uri}: {tracking.ui_link(base)}"]
    lines += [
        f"  {e.name}: {tracking.ui_link(base, e.experiment_id)}"
        for e in sorted(experiments, key=lambda e: e.name)
    ]
    print("\n".join(lines), flush=True)
    os.execvpe(cmd[0], cmd, env)  # the server takes this process's place: Ctrl-C and signals reach it


def _worker(args) -> int:
    """Run one task file (for cluster executors: ``python -m suite worker task.json``)."""
    from suite.study.worker import execute

    print(json.dumps(execute(json.loads(Path(args.task).read_text())).as_dict(), default=str))
    return 0


def _settings(args) -> int:
    from suite import settings

    print(settings.markdown(), end="")
    return 0


def _networks(args) -> int:
    from suite.models import summary

    print(summary.markdown(), end="")
    return 0


def _check_paper(args) -> int:
    """Exit 0 when every difference from the paper or the reference is explained, 1 otherwise."""
    from suite import fidelity
    from suite.study import find_study, study_names

    paths = [find_study(name) for name in (args.studies or study_names())]
    outcome = fidelity.run(paths, profile=args.profile)
    print(outcome.text, end="")
    return 1 if outcome.problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suite", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("study", help="run a study (studies/<name>.toml)")
    p.add_argument("study")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--seeds", type=int, nargs="+")
    p.add_argument(
        "--workers",
        type=lambda s: int(s) if s.lstrip("-").isdigit() else s,
        default="auto",
        help="concurrent runs: auto (default: one per core or GPU, as memory allows) or a number",
    )
    p.add_argument(
        "--max-runs",
        type=int,
        default=None,
        help="refuse a study of more runs than this (default 10,000: a larger grid is usually a typo)",
    )
    p.add_argument(
        "--executor",
        default="pool",
        help="how runs execute: pool (default: local processes), submitit-local, slurm (docs/cluster.md)",
    )
    p.add_argument(
        "--executor-config",
        default=None,
        help="TOML file with an [<executor>] table of settings (default: $SUITE_EXECUTOR_CONFIG)",
    )
    p.add_argument("--data-root", default=None, help="dataset folder (default: $SUITE_DATA, else ./data)")
    p.add_argument("--dry-run", action="store_true", help="list the runs and which are done; run nothing")
    p.add_argument(
        "--tracking-uri", default=None, help="MLflow store (default: $MLFLOW_TRACKING_URI, else .suite/)"
    )
    p.add_argument("--no-report", action="store_true", help="do not render the table at the end")
    p.add_argument(
        "--optuna-storage",
        default=None,
        help="search studies: Optuna RDB URL (default: optuna.db beside an MLflow sqlite store)",
    )
    p.add_argument(
        "--no-download",
        "--offline",
        action="store_true",
        help="never fetch missing datasets (default: fetch them into the data root before the runs)",
    )
    p.set_defaults(fn=_study)

    p = sub.add_parser(
        "fetch", help="download datasets from their official sources (or SUITE_SOURCES) into the data root"
    )
    p.add_argument("datasets", nargs="+", help="dataset names, or 'all'")
    p.add_argument("--data-root", default=None, help="dataset folder (default: $SUITE_DATA, else ./data)")
    p.add_argument(
        "--dry-run", action="store_true", help="say what would be fetched and its size; fetch nothing"
    )
    p.set_defaults(fn=_fetch)

    p = sub.add_parser(
        "report", help="render tables and figures (and, for 'all', claims.md) into results/<profile>/"
    )
    p.add_argument("study", help="a study name, a study file (.toml, anywhere), or 'all'")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--tracking-uri", default=None)
    p.add_argument("--out", default="results")
    p.add_argument(
        "--optuna-storage", default=None, help="search studies: the Optuna storage their runs used"
    )
    p.set_defaults(fn=_report)

    p = sub.add_parser("ui", help="the MLflow UI on the project's store, at 127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--tracking-uri", default=None)
    p.set_defaults(fn=_ui)

    p = sub.add_parser("settings", help="print every run setting (type, default, range) as a Markdown table")
    p.set_defaults(fn=_settings)

    p = sub.add_parser(
        "networks", help="print every Table 1 network (both readings: shapes, parameters) as Markdown"
    )
    p.set_defaults(fn=_networks)

    p = sub.add_parser(
        "check-paper",
        help="print each study's paper-profile settings beside the paper's and the reference code's values; "
        "exit 1 on an unexplained difference",
    )
    p.add_argument("studies", nargs="*", help="study names or .toml files (default: every study)")
    p.add_argument("--profile", default="paper")
    p.set_defaults(fn=_check_paper)

    from suite.study import server

    server.add_parser(sub)

    p = sub.add_parser("worker", help="execute one task file (cluster executors)")
    p.add_argument("task")
    p.set_defaults(fn=_worker)

    args = parser.parse_args(argv)
    from suite.study.executor import ExecutorError
    from suite.study.spec import StudyError
    from suite.study.tracking import StoreUnreachable

    try:
        return args.fn(args)
    except (StudyError, ExecutorError, StoreUnreachable) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before or after the runs (the runner handles it during them)
        print("interrupted", file=sys.stderr)
        return 130
