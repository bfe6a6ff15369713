"""Every run setting is declared once; the trainer's defaults, the schema and the docs derive from it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from suite import settings, train

REPO = Path(__file__).resolve().parents[1]


def test_architecture_md_shows_the_declared_settings():
    assert settings.markdown() in (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")


def test_the_derived_views_agree_with_the_declaration():
    assert list(settings.DEFAULTS) == [s.name for s in settings.SETTINGS]
    assert set(settings.NEURON_KEYS) == {"surrogate", "alpha", "detach_reset", "tau", "v_th"}
    assert set(settings.NOT_HASHED) == {"data_root", "workers", "threads"}
    assert set(train.resolve({})) == set(settings.DEFAULTS)


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.name)
def test_every_default_passes_its_own_check(setting):
    assert setting.problem(setting.default) is None


@pytest.mark.parametrize(
    "name,value,problem",
    [
        ("T", -1, "-1 is out of range"),
        ("width", 0, "0 is out of range"),
        ("width", math.inf, "inf is out of range"),
        ("lr", math.nan, "nan is out of range"),
        ("batch_size", 0, "0 is out of range"),
        ("limit_train", -5, "-5 is out of range"),
        ("epochs", 0, "0 is out of range"),
        ("device", "tpu:9", "'tpu:9' is out of range"),
        ("epochs", 1.5, "expected int, got float 1.5"),
        ("augment", 1, "expected bool, got int 1"),
        ("encoder_norm", "after", "'after' is out of range"),
        ("linear_bias", 0, "expected bool, got int 0"),
        ("neuron", "QIF", "unknown neuron 'QIF'"),
    ],
)
def test_bad_values_are_named(name, value, problem):
    got = settings.BY_NAME[name].problem(value)
    assert got is not None and got[0] == problem


def test_networks_may_be_written_in_table1_notation():
    net = settings.BY_NAME["network"]
    assert net.problem("auto") is None and net.problem("vgg16") is None
    assert net.problem("128C3-AP2-10FC-AP10") is None
    assert net.problem("not a network")[0] == "unknown network 'not a network'"


def test_encoder_norm_setting_allows_what_the_encoder_builds():
    from suite.models.layers import ENCODER_NORMS

    assert all(settings.BY_NAME["encoder_norm"].problem(v) is None for v in ENCODER_NORMS)
