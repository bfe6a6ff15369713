"""The names shared by runner, worker, tracking and reporter: one spelling each, values that round-trip."""

from __future__ import annotations

import json

import pytest

from suite import contract
from suite.contract import Outcome, PointState, Result, Role, RunStatus, Tag, tag_filter


def test_tag_names_are_unique_and_namespaced():
    names = [v for k, v in vars(Tag).items() if k.isupper() and k not in ("PREFIX", "AXIS_PREFIX")]
    assert len(names) == len(set(names))
    assert all(n.startswith(Tag.PREFIX) for n in names if n != Tag.PARENT_RUN)
    assert Tag.axis("neuron") == "suite.axis.neuron"


@pytest.mark.parametrize("enum", [Role, RunStatus, Outcome, PointState, contract.EventKind])
def test_members_are_their_values(enum):
    for member in enum:
        assert member == member.value and f"{member}" == member.value and str(member) == member.value
        assert json.loads(json.dumps(member)) == member


def test_only_done_and_skipped_points_do_not_run():
    assert {s for s in PointState if not s.runs} == {PointState.DONE, PointState.SKIPPED}


def test_result_as_dict_for_the_worker_command():
    r = Result("abc", Outcome.TRAINED, "rid", {"best_test_acc": 90.0})
    assert r.as_dict() == {"hash": "abc", "status": "trained", "run_id": "rid", "best_test_acc": 90.0}


def test_tag_filter_is_an_mlflow_filter(tmp_path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/m.db")
    exp = client.create_experiment("x")
    keep = client.create_run(exp, tags={Tag.ROLE: Role.CHILD, Tag.STATUS: RunStatus.FINISHED}).info.run_id
    client.create_run(exp, tags={Tag.ROLE: Role.CHILD, Tag.STATUS: RunStatus.RUNNING})
    client.create_run(exp, tags={Tag.ROLE: Role.PARENT})
    found = client.search_runs([exp], filter_string=tag_filter(ROLE=Role.CHILD, STATUS=RunStatus.FINISHED))
    assert [r.info.run_id for r in found] == [keep]
