"""Study files: every file parses; malformed ones get one line naming the file, the key and what is allowed."""

from __future__ import annotations

import pytest

from suite.study import spec, study_names
from suite.study.runner import find_study


@pytest.mark.parametrize("name", study_names())
def test_every_study_parses_and_expands(name):
    study = spec.load(find_study(name))
    assert study.name == name
    assert {"paper", "cpu", "smoke"} <= set(study.profiles)
    for profile in ("paper", "cpu", "smoke"):
        points = spec.expand(study, profile)
        assert points, profile
        assert len({p.hash for p in points}) == len(points)
        assert all(p.config["epochs"] >= 1 for p in points)


def test_hash_is_stable_and_ignores_where_it_runs():
    cfg = spec.expand(spec.load(find_study("table3")), "cpu")[0].config
    assert spec.config_hash(cfg) == spec.config_hash(dict(reversed(list(cfg.items()))))
    assert spec.config_hash(cfg) == spec.config_hash({**cfg, "data_root": "/elsewhere", "threads": 7})
    assert spec.config_hash(cfg) != spec.config_hash({**cfg, "seed": cfg["seed"] + 1})


def test_shared_points_have_equal_hashes_across_studies():
    t2 = {p.hash for p in spec.expand(spec.load(find_study("table2")), "cpu") if p.config["neuron"] == "KLIF"}
    t4 = {p.hash for p in spec.expand(spec.load(find_study("table4")), "cpu") if p.config["neuron"] == "KLIF"}
    assert t2 == t4 and t2


def test_table3_is_the_papers_rows():
    points = spec.expand(spec.load(find_study("table3")), "paper")
    rows = {(p.config["network"], p.config["neuron"], p.config["encoder"]) for p in points}
    assert len(rows) == 10
    assert ("vgg16", "KLIF", 3) in rows and ("resnet18", "ReLU-only", 1) in rows
    assert all(p.config["T"] == 6 and p.config["epochs"] == 100 for p in points)


GOOD = """
name = "bad"
title = "t"
seeds = [0]
[base]
dataset = "mnist"
[grid]
neuron = ["LIF", "KLIF"]
[profiles.smoke]
epochs = 1
"""


@pytest.mark.parametrize(
    "edit,message",
    [
        (
            lambda s: s.replace('title = "t"', 'title = "t"\ncolour = "red"'),
            "bad.toml: colour: unknown key; allowed: base, description, grid, include, name, notes, profiles",
        ),
        (
            lambda s: s.replace('"LIF", "KLIF"', '"LIF", "QIF"'),
            "bad.toml: grid.neuron[1]: unknown neuron 'QIF'; allowed: LIF, KLIF, k-only",
        ),
        (
            lambda s: s.replace("epochs = 1", 'epochs = "one"'),
            "bad.toml: profiles.smoke.epochs: expected int, got str 'one'",
        ),
        (
            lambda s: s.replace('dataset = "mnist"', 'dataset = "mnist"\nlearning_rate = 0.1'),
            "bad.toml: base.learning_rate: unknown setting 'learning_rate'; allowed: dataset, network, neuron",
        ),
        (
            lambda s: s.replace("epochs = 1", 'neuron = "LIF"'),
            "bad.toml: profiles.smoke.neuron: profiles override settings, never axes",
        ),
        (
            lambda s: s.replace('dataset = "mnist"', 'dataset = "imagenet"'),
            "bad.toml: base.dataset: unknown dataset 'imagenet'; allowed: ",
        ),
        (
            lambda s: s.replace("seeds = [0]", "seeds = 3"),
            "bad.toml: seeds: expected a non-empty list of integers",
        ),
        (
            lambda s: s.replace('[grid]\nneuron = ["LIF", "KLIF"]', '[grid]\nneuron = "LIF"'),
            "bad.toml: grid.neuron: an axis needs a non-empty list",
        ),
        (
            lambda s: s + "\n[[profiles.smoke.where]]\nmatch = { tau = true }\n",
            "bad.toml: profiles.smoke.where[0].match.tau: expected int or float, got bool True",
        ),
        (lambda s: s.replace("[base]", "[base"), "bad.toml: not valid TOML"),
    ],
)
def test_malformed_study_one_line_error(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD))
    with pytest.raises(spec.StudyError) as info:
        spec.load(path)
    text = str(info.value)
    assert "\n" not in text
    assert message in text, text


def test_cli_prints_the_error_line_and_exits_2(tmp_path, capsys):
    from suite.cli import main

    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace('"LIF", "KLIF"', '"LIF", "QIF"'))
    assert (
        main(
            [
                "study",
                str(path),
                "--profile",
                "smoke",
                "--dry-run",
                "--tracking-uri",
                f"sqlite:///{tmp_path}/m.db",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "unknown neuron 'QIF'" in err and err.count("\n") == 1


def test_unknown_profile(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD)
    with pytest.raises(spec.StudyError, match="profiles.cpu: unknown profile; allowed: smoke"):
        spec.expand(spec.load(path), "cpu")
