"""``--dry-run``'s cost line: the runs to submit, their epochs, and GPU-hours at a per-epoch time.

The per-epoch time is measured where it can be: the finished runs of the same study and profile already
in the store (their ``wall_time_s`` over their epochs; the same profile means the same network sizes and
data limits, and in practice the same kind of device). Without any, it is the executor's ``epoch_s``
setting (a lab writes down what it measured), else the line says how to get one. GPU-hours are epochs x
seconds per epoch x GPUs per run; on a CPU-only executor the line says run-hours instead.
"""

from __future__ import annotations

from suite.contract import Role, RunStatus, tag_filter
from suite.study import tracking


def measured_epoch_s(uri: str, experiment_id: str, profile: str) -> tuple[float, int] | None:
    """(seconds per epoch, runs it was measured on) from this study's finished runs of ``profile``."""
    client = tracking.MlflowClient(uri)
    runs = tracking.retry(
        client.search_runs,
        [experiment_id],
        filter_string=tag_filter(ROLE=Role.CHILD, PROFILE=profile, STATUS=RunStatus.FINISHED),
        max_results=500,
    )
    pairs = [
        (r.data.metrics["wall_time_s"], int(r.data.params["epochs"]))
        for r in runs
        if "wall_time_s" in r.data.metrics and r.data.params.get("epochs", "").isdigit()
    ]
    epochs = sum(e for _, e in pairs)
    return (sum(w for w, _ in pairs) / epochs, len(pairs)) if epochs else None


def line(plan, executor) -> str:
    epochs = sum(int(p.config["epochs"]) for p in plan.todo)
    head = f"estimate: {len(plan.todo)} runs to submit, {epochs} epochs"
    if not plan.todo:
        return head
    found = measured_epoch_s(plan.uri, plan.experiment_id, plan.profile)
    if found is not None:
        per_epoch, source = found[0], f"measured on {found[1]} finished runs of profile {plan.profile}"
    elif executor.epoch_s is not None:
        per_epoch, source = executor.epoch_s, "epoch_s in the executor settings"
    else:
        return f"{head}; no per-epoch time yet: run one point first, or set epoch_s in the executor settings"
    hours = epochs * per_epoch / 3600
    gpus = executor.gpus_per_run
    cost = f"{hours * gpus:.1f} GPU-hours" if gpus else f"{hours:.1f} run-hours (CPU)"
    wall = hours / max(1, min(executor.slots, len(plan.todo)))
    return f"{head} × {per_epoch:.1f} s/epoch ({source}) ≈ {cost}, ≈ {wall:.1f} h wall at {executor.slots} at once"
