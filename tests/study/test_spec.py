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
            "bad.toml: colour: unknown key; allowed: base, description, extends, grid, include, name, notes, profiles",
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
        # Values out of a setting's range are schema errors, before anything runs.
        (
            lambda s: s.replace("epochs = 1", "epochs = 0"),
            "bad.toml: profiles.smoke.epochs: 0 is out of range",
        ),
        (
            lambda s: s.replace("epochs = 1", "epochs = 1\nT = -1"),
            "bad.toml: profiles.smoke.T: -1 is out of range; allowed: an integer >= 1",
        ),
        (
            lambda s: s.replace("epochs = 1", "epochs = 1\nlr = nan"),
            "bad.toml: profiles.smoke.lr: nan is out of range; allowed: a finite number > 0",
        ),
        (
            lambda s: s.replace("epochs = 1", "epochs = 1\nwidth = inf"),
            "bad.toml: profiles.smoke.width: inf is out of range",
        ),
        (
            lambda s: s.replace("epochs = 1", 'epochs = 1\ndevice = "tpu:9"'),
            "bad.toml: profiles.smoke.device: 'tpu:9' is out of range; allowed: auto, cpu, cuda",
        ),
        (
            lambda s: s.replace('title = "t"', 'title = "t"\nextends = "nowhere"'),
            "bad.toml: extends: no study 'nowhere' beside this file or in ",
        ),
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


def test_a_non_utf8_byte_is_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(GOOD.encode().replace(b'title = "t"', b'title = "t\xff"'))
    with pytest.raises(spec.StudyError, match=r"bad.toml: not UTF-8 text") as info:
        spec.load(path)
    assert "\n" not in str(info.value)


def test_extends_merges_tables_replaces_arrays_and_names_the_file_of_a_bad_key(tmp_path):
    (tmp_path / "_common.toml").write_text("[profiles.smoke]\nepochs = 1\nlr = 1e-3\nseeds = [0, 1]\n")
    (tmp_path / "parent.toml").write_text(
        GOOD.replace('name = "bad"', 'name = "parent"\nextends = "_common"').replace(
            "[profiles.smoke]\nepochs = 1\n", ""
        )
    )
    child = tmp_path / "child.toml"
    child.write_text(
        'name = "child"\nextends = "parent"\ntitle = "c"\n[grid]\nneuron = ["KLIF"]\n[profiles.smoke]\nseeds = [3]\n'
    )
    study = spec.load(child)
    assert (study.name, study.title, study.base, study.grid) == (
        "child",
        "c",
        {"dataset": "mnist"},
        {"neuron": ["KLIF"]},
    )
    assert study.profiles["smoke"] == {"epochs": 1, "lr": 1e-3, "seeds": [3]}
    assert [p.config["seed"] for p in spec.expand(study, "smoke")] == [3]

    (tmp_path / "_common.toml").write_text("[profiles.smoke]\nepochs = -2\n")
    with pytest.raises(spec.StudyError) as info:
        spec.load(child)
    assert str(info.value).startswith(
        f"{tmp_path / '_common.toml'}: profiles.smoke.epochs: -2 is out of range"
    )

    (tmp_path / "_common.toml").write_text('extends = "child"\n')
    with pytest.raises(spec.StudyError, match="extends: 'child' extends this file again"):
        spec.load(child)


def test_table4_states_only_what_differs_from_table2():
    t2, t4 = (spec.load(find_study(n)) for n in ("table2", "table4"))
    assert t4.profiles == t2.profiles and t4.base == t2.base
    assert t4.grid == {**t2.grid, "neuron": ["KLIF", "KLIF*"]}


def test_fragments_are_not_studies():
    assert all(not n.startswith("_") for n in study_names())
    with pytest.raises(spec.StudyError, match="unknown study '_shared'"):
        find_study("_shared")


def test_a_study_anywhere_may_extend_a_paper_study(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text('name = "mine"\nextends = "table2"\ntitle = "mine"\n[grid]\nneuron = ["LIF", "PLIF"]\n')
    study = spec.load(mine)
    assert study.grid["neuron"] == ["LIF", "PLIF"] and "smoke" in study.profiles
    lif = {p.hash for p in spec.expand(study, "cpu") if p.config["neuron"] == "LIF"}
    assert lif == {
        p.hash for p in spec.expand(spec.load(find_study("table2")), "cpu") if p.config["neuron"] == "LIF"
    }


def test_a_huge_grid_is_refused_in_one_line_before_expanding(tmp_path):
    path = tmp_path / "huge.toml"
    values = lambda start: ", ".join(f"{start + i / 100:.2f}" for i in range(100))  # noqa: E731
    path.write_text(
        GOOD.replace('name = "bad"', 'name = "huge"').replace(
            'neuron = ["LIF", "KLIF"]', f"lr = [{values(0.01)}]\nalpha = [{values(1)}]\ntau = [{values(2)}]"
        )
    )
    study = spec.load(path)
    assert spec.count(study, "smoke") == 1_000_000
    with pytest.raises(spec.StudyError) as info:
        spec.expand(study, "smoke")
    assert str(info.value) == (
        f"{path}: grid: 1,000,000 runs under profile 'smoke', more than the cap of 10,000; "
        "allowed: pass --max-runs 1000000 to run them all"
    )
    first = next(spec.iter_points(study, "smoke"))  # lazily: the first point without the other 999,999
    assert first.axes == {"lr": 0.01, "alpha": 1.0, "tau": 2.0, "seed": 0}
