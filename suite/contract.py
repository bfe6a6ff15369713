"""The names the runner, the worker, the tracking store and the reporter share, in one place.

What is written to MLflow is read back by other processes, other machines and later versions of the
reporter, so every tag name, tag value and result kind is a constant here, never a string typed out at the
point of use. Tests import them too.

A study's experiment holds one parent run per invocation (``Tag.ROLE = Role.PARENT``) and one child run
per point (``Role.CHILD``), tagged with the study, the profile, the point's config hash and its axis values
(``Tag.axis(key)``). A child's ``Tag.STATUS`` is ``RunStatus.FINISHED`` only after its last epoch: MLflow's
own run status says whether a process is alive, ours says whether the result is complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# A profile's name is also a folder (results/<profile>/) and a tag value: a plain identifier, never a path.
PROFILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


class StrEnum(str, Enum):
    """An enum whose members are their string values (``f"{m}"`` and ``str(m)`` give the value)."""

    __str__ = str.__str__
    __format__ = str.__format__


class Tag:
    """MLflow tag names (``suite.*``)."""

    ROLE = "suite.role"
    STUDY = "suite.study"
    PROFILE = "suite.profile"
    CONFIG_HASH = "suite.config_hash"
    STATUS = "suite.status"
    ERROR = "suite.error"
    COPIED_FROM = "suite.copied_from"
    COMMIT = "suite.commit"
    COMMAND = "suite.command"
    PID = "suite.pid"  # the runner's process id (with HOST: whether a RUNNING parent is still alive)
    HOST = "suite.host"
    HARDWARE = "suite.hardware"
    CPU = "suite.cpu"  # the CPU model: oneDNN picks kernels by it, so results differ across models
    THREADS = "suite.threads"  # torch threads of the run
    WORKERS = "suite.workers"  # runs that shared the machine with it (the thread split is WORKERS x THREADS)
    TORCH = "suite.torch"
    DEVICE = "suite.device"
    DATA_SIZES = "suite.data_sizes"
    LAYERS = "suite.layers"  # the probed layers in forward order, comma-separated (for the figures)
    ARM = "suite.search.arm"  # a search study's arm (its Optuna study), on trials and retrains
    TRIAL = "suite.search.trial"  # the trial's number within its arm's Optuna study
    PHASE = "suite.search.phase"  # Phase: a trial of the search, or a retrain of an arm's best config
    AXIS_PREFIX = "suite.axis."
    PREFIX = "suite."
    PARENT_RUN = "mlflow.parentRunId"  # MLflow's own: nests a child under its parent in the UI

    @staticmethod
    def axis(key: str) -> str:
        return f"{Tag.AXIS_PREFIX}{key}"


class MlflowTag:
    """MLflow's own tag names that the suite sets: MLflow defines what they mean and its UI reads them."""

    # An experiment's kind (MLflow 3) picks the page the UI opens it on; without it the UI guesses, and may
    # open a GenAI page (traces) or ask. TRAINING_KIND opens the runs table, our parent and child runs.
    EXPERIMENT_KIND = "mlflow.experimentKind"
    TRAINING_KIND = "custom_model_development"  # the UI's "custom model development / training"
    DATASET_CONTEXT = "mlflow.data.context"  # what a dataset input was to the run (the UI shows it)
    TRAINING_CONTEXT = "training"


class Role(StrEnum):
    PARENT = "parent"
    CHILD = "child"


class RunStatus(StrEnum):
    """``Tag.STATUS`` of a child run."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C, SIGTERM or a runner's death; resumes on the next run
    PRUNED = "pruned"  # a search trial stopped early by the pruner: final, never resumed


class Phase(StrEnum):
    """``Tag.PHASE`` of a search study's run."""

    TRIAL = "trial"
    RETRAIN = "retrain"


class Outcome(StrEnum):
    """What the worker did with a point."""

    BUSY = "busy"  # another process holds the point's claim
    DONE = "done"  # already finished in this study's experiment
    COPIED = "copied"  # finished in another study's experiment; copied, not retrained
    TRAINED = "trained"
    PRUNED = "pruned"  # a search trial the pruner stopped (now, or in an earlier invocation)


class PointState(StrEnum):
    """What the plan says of a point before anything runs."""

    TO_RUN = "to run"
    DONE = "done"
    DONE_ELSEWHERE = "done elsewhere (will be copied)"
    INTERRUPTED = "interrupted (will resume)"
    SKIPPED = "skipped"

    @property
    def runs(self) -> bool:
        return self not in (PointState.DONE, PointState.SKIPPED)


class EventKind(StrEnum):
    """Progress events a worker sends to the runner."""

    START = "start"  # the point is being trained (created or resumed), before its first new epoch
    EPOCH = "epoch"
    RESUME = "resume"


# Metrics logged once at the end of a run (step 0), beside the per-epoch history.
FINAL_METRICS = ("best_test_acc", "final_test_acc", "n_params", "n_train", "n_test", "wall_time_s")


@dataclass(frozen=True)
class Result:
    """A worker's answer for one point (picklable, JSON-able through :meth:`as_dict`)."""

    hash: str
    outcome: Outcome
    run_id: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # FINAL_METRICS, when trained

    def as_dict(self) -> dict[str, Any]:
        return {"hash": self.hash, "status": str(self.outcome), "run_id": self.run_id, **self.metrics}


def tag_filter(**tags: str) -> str:
    """An MLflow search filter matching these tags exactly: ``tag_filter(ROLE=Role.CHILD)``."""
    return " AND ".join(f"tags.`{getattr(Tag, key)}` = '{value}'" for key, value in tags.items())
