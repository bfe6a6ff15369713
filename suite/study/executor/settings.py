"""Executor settings: dataclasses whose fields carry their rule and help, built from a file or a mapping.

A lab's cluster settings (partition, GPUs, time limit, setup lines, ...) are data, not code: a TOML file
passed as ``--executor-config FILE`` (or ``$SUITE_EXECUTOR_CONFIG``), one table per executor name::

    [slurm]
    partition = "gpu"
    time_min = 240
    gpus_per_run = 1

Each field says what it allows (:class:`Rule`), so every bad value, unknown key or missing required key is
one line naming the file, the table, the key and what is allowed (:func:`build`). docs/cluster.md holds
the reference of every setting, :func:`markdown`'s output (a test keeps the two equal).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from suite.study.executor.base import ExecutorError


@dataclass(frozen=True)
class Rule:
    check: Callable[[Any], bool]
    allowed: str  # what the error line says is allowed


def _int(v) -> bool:
    return type(v) is int


POSITIVE = Rule(lambda v: _int(v) and v >= 1, "an integer >= 1")
NON_NEGATIVE = Rule(lambda v: _int(v) and v >= 0, "an integer >= 0")
POSITIVE_OR_NONE = Rule(lambda v: v is None or (_int(v) and v >= 1), "an integer >= 1")
AUTO_OR_POSITIVE = Rule(lambda v: v == "auto" or (_int(v) and v >= 1), "auto, an integer >= 1")
SECONDS = Rule(lambda v: type(v) in (int, float) and v > 0, "a number of seconds > 0")
SECONDS_OR_NONE = Rule(lambda v: v is None or (type(v) in (int, float) and v > 0), "a number of seconds > 0")
GIGABYTES = Rule(lambda v: type(v) in (int, float) and v > 0, "a number of GB > 0")
NAME_OR_NONE = Rule(lambda v: v is None or (isinstance(v, str) and v.strip() != ""), "a non-empty string")
LINES = Rule(
    lambda v: isinstance(v, list | tuple) and all(isinstance(x, str) for x in v), "a list of strings"
)
ABSOLUTE_OR_NONE = Rule(lambda v: v is None or (isinstance(v, str) and os.path.isabs(v)), "an absolute path")
ON_INTERRUPT = Rule(lambda v: v in ("ask", "cancel", "keep"), "ask, cancel, keep")


def setting(default: Any, rule: Rule, help: str) -> Any:
    """A settings field: its default (``MISSING``: required), its rule and one line of help."""
    meta = {"rule": rule, "help": help}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def _at(name: str, source: str | os.PathLike | None, key: str) -> str:
    """Where a setting is: ``FILE: [slurm] time_min`` (from a file) or ``slurm: time_min``."""
    return f"{source}: [{name}] {key}" if source else f"{name}: {key}"


def build(name: str, cls: type, values: Mapping[str, Any], source: str | os.PathLike | None = None):
    """``cls(**values)`` with every key known, every required key present and every value allowed."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if key not in fields:
            raise ExecutorError(
                f"{_at(name, source, key)}: unknown executor setting; allowed: {', '.join(fields)}"
            )
    for f in fields.values():
        if f.default is MISSING and f.default_factory is MISSING and f.name not in values:
            rule, help_ = f.metadata["rule"], f.metadata["help"]
            raise ExecutorError(f"{_at(name, source, f.name)}: missing; {help_} ({rule.allowed})")
    for key, value in values.items():
        rule = fields[key].metadata["rule"]
        if not rule.check(value):
            raise ExecutorError(
                f"{_at(name, source, key)}: {value!r} is out of range; allowed: {rule.allowed}"
            )
    return cls(**values)


def load(path: str | os.PathLike | None, name: str) -> dict[str, Any]:
    """The ``[name]`` table of the settings file ``path`` ({} without a file; the file must have it)."""
    if path is None:
        return {}
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as err:
        raise ExecutorError(f"{path}: cannot read the executor settings ({err.strerror or err})") from None
    except tomllib.TOMLDecodeError as err:
        raise ExecutorError(f"{path}: not valid TOML ({err})") from None
    table = doc.get(name)
    if not isinstance(table, dict):
        have = ", ".join(f"[{k}]" for k, v in doc.items() if isinstance(v, dict)) or "none"
        raise ExecutorError(f"{path}: no [{name}] table for --executor {name}; tables in the file: {have}")
    return table


@dataclass(frozen=True, kw_only=True)
class JobSettings:
    """What every submitit executor takes (submitit-local: real subprocesses on this machine)."""

    array_parallelism: int | str = setting(
        "auto", AUTO_OR_POSITIVE, "runs at once (auto: one per core or GPU here; on Slurm, all)"
    )
    cpus_per_run: int | None = setting(
        None, POSITIVE_OR_NONE, "CPU cores (= torch threads) per run (default: cores / runs at once)"
    )
    time_min: int = setting(24 * 60, POSITIVE, "a job's time limit in minutes; it is requeued at the limit")
    timeout_requeues: int = setting(3, NON_NEGATIVE, "requeues after a time limit (preemptions: unlimited)")
    signal_delay_s: int = setting(120, POSITIVE, "seconds before the limit the job is signalled to requeue")
    setup: list[str] = setting([], LINES, "shell lines run before each job (module load, venv activate)")
    folder: str | None = setting(
        None, ABSOLUTE_OR_NONE, "submitit's job folder (pickles, logs) (default: $SUITE_HOME/jobs)"
    )
    poll_s: float = setting(5, SECONDS, "how often the submitter checks jobs and reads their progress")
    on_interrupt: str = setting("ask", ON_INTERRUPT, "Ctrl-C on the submitter: ask, cancel or keep the jobs")
    epoch_s: float | None = setting(
        None, SECONDS_OR_NONE, "seconds per epoch, for --dry-run's estimate when the store has no runs yet"
    )

    cluster = False  # whether the runs leave this machine (then: an http(s) store, shared absolute paths)


@dataclass(frozen=True, kw_only=True)
class SlurmSettings(JobSettings):
    """A Slurm job array per invocation (submitit's SlurmExecutor); ``time_min`` is the lab's to choose."""

    time_min: int = setting(MISSING, POSITIVE, "a job's time limit in minutes; it is requeued at the limit")
    partition: str | None = setting(None, NAME_OR_NONE, "the Slurm partition (default: the cluster's)")
    account: str | None = setting(None, NAME_OR_NONE, "the Slurm account to charge")
    qos: str | None = setting(None, NAME_OR_NONE, "the Slurm QOS")
    gpus_per_run: int = setting(1, NON_NEGATIVE, "GPUs per run (0: CPU runs)")
    cpus_per_run: int | None = setting(4, POSITIVE_OR_NONE, "CPU cores per run (torch threads, data workers)")
    mem_gb: float = setting(16, GIGABYTES, "memory per run in GB")
    python: str | None = setting(None, ABSOLUTE_OR_NONE, "the Python on the nodes (default: this one)")
    poll_s: float = setting(15, SECONDS, "how often the submitter checks jobs and reads their progress")

    cluster = True


def markdown(settings: Mapping[str, type]) -> str:
    """Every executor's settings as Markdown tables (name, default, allowed, what)."""
    out = []
    for name, cls in settings.items():
        out += [f"### `[{name}]`", "", "| setting | default | allowed | what |", "|---|---|---|---|"]
        for f in dataclasses.fields(cls):
            default = (
                "required"
                if f.default is MISSING and f.default_factory is MISSING
                else repr(f.default if f.default is not MISSING else f.default_factory())
            )
            out.append(f"| `{f.name}` | {default} | {f.metadata['rule'].allowed} | {f.metadata['help']} |")
        out.append("")
    return "\n".join(out)
