"""Progress of runs that execute elsewhere, read back from the tracking store.

A job on a cluster node cannot reach the submitter's event queue, but it logs every epoch to the tracking
server; :class:`Watch` turns what the store has into the same event dicts the local pool's workers send
(``START`` when a point's run appears under this invocation's parent, ``EPOCH`` with its test accuracy and
epoch time), so the runner's progress lines (done/total, epochs, ETA) are the same for every executor.

One query per poll finds this invocation's children (a resumed run is re-parented to it by the worker);
the metric history is read only for runs whose latest epoch moved, so a poll costs one search plus two
reads per run that trained an epoch since. An unreachable store skips a poll: the jobs go on, and their
outcome (not this display) decides the study.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from suite.contract import EventKind, Role, Tag, tag_filter
from suite.study import tracking

Event = dict[str, Any]


class Watch:
    def __init__(self, tasks: dict[str, dict]):
        self.tasks = tasks  # hash -> task, the points this executor has submitted and not yet seen end
        self.started: set[str] = set()
        self.seen: dict[str, int] = {}  # hash -> last epoch sent
        self.clients: dict[str, Any] = {}

    def _client(self, uri: str):
        if uri not in self.clients:
            self.clients[uri] = tracking.MlflowClient(uri)
        return self.clients[uri]

    def poll(self, on_event: Callable[[Event], None]) -> None:
        by_parent: dict[tuple[str, str, str], list[str]] = {}
        for h, task in self.tasks.items():
            by_parent.setdefault(
                (task["tracking_uri"], task["experiment_id"], task["parent_run_id"]), []
            ).append(h)
        for (uri, experiment, parent), hashes in by_parent.items():
            try:
                self._poll(self._client(uri), experiment, parent, set(hashes), on_event)
            except Exception as err:  # noqa: BLE001 - a display must not end a study
                if not tracking.unreachable(err, uri):
                    raise

    def _poll(self, client, experiment: str, parent: str, hashes: set[str], on_event) -> None:
        runs = client.search_runs(
            [experiment], filter_string=tag_filter(ROLE=Role.CHILD, PARENT_RUN=parent), max_results=5000
        )
        for run in runs:
            h = run.data.tags.get(Tag.CONFIG_HASH)
            if h not in hashes:
                continue
            if h not in self.started:
                self.started.add(h)
                epochs = self.tasks[h]["config"]["epochs"]
                on_event({"hash": h, "kind": EventKind.START, "epochs": epochs, "run_id": run.info.run_id})
            if "test_acc" not in run.data.metrics:
                continue
            acc = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "test_acc")}
            new = sorted(e for e in acc if e > self.seen.get(h, 0))
            if not new:
                continue
            times = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "epoch_time")}
            for epoch in new:
                on_event(
                    {
                        "hash": h,
                        "kind": EventKind.EPOCH,
                        "epoch": epoch,
                        "test_acc": acc[epoch],
                        "time": times.get(epoch, 0.0),
                    }
                )
            self.seen[h] = new[-1]

    def forget(self, h: str) -> None:
        """The point ended: stop reading it."""
        self.tasks.pop(h, None)
