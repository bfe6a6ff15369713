"""The ``[search]`` table: every malformed one is a one-line error naming the key; a valid one gives Optuna's
distributions, seeded samplers that propose the same trial for the same history, and a stable study name."""

from __future__ import annotations

import pytest

from suite.study import spec

VALID = """
name = "srch"
title = "t"
[base]
dataset = "fashion-mnist"
[grid]
neuron = ["LIF", "KLIF"]
[search]
trials = 4
retrain_seeds = [0, 1]
[search.space]
lr = { low = 1e-4, high = 1e-2, log = true }
alpha = { low = 1.0, high = 8.0 }
surrogate = ["atan", "sigmoid"]
[profiles.smoke]
epochs = 1
[profiles.smoke.search]
trials = 2
"""


def _load(tmp_path, text: str):
    path = tmp_path / "srch.toml"
    path.write_text(text)
    return spec.load(path)


def _sub(old: str, new: str):
    return lambda s: s.replace(old, new, 1)


MUTATIONS = {
    "no trials": (
        lambda s: s.replace("trials = 4\n", "").replace("[profiles.smoke.search]\ntrials = 2", ""),
        "search.trials: expected an integer >= 1, got None",
    ),
    "trials zero": (_sub("trials = 4", "trials = 0"), "search.trials: expected an integer >= 1, got 0"),
    "unknown key": (_sub("trials = 4", "trials = 4\nbudget = 3"), "search.budget: unknown key"),
    "unknown sampler": (
        _sub("trials = 4", 'trials = 4\nsampler = "cma"'),
        "search.sampler: unknown sampler 'cma'; allowed: tpe, random, grid",
    ),
    "unknown pruner": (
        _sub("trials = 4", 'trials = 4\npruner = "asha"'),
        "search.pruner: unknown pruner 'asha'; allowed: median, hyperband, none",
    ),
    "unknown metric": (
        _sub("trials = 4", 'trials = 4\nmetric = "loss"'),
        "search.metric: unknown metric 'loss'; allowed: best_test_acc, final_test_acc",
    ),
    "unknown direction": (
        _sub("trials = 4", 'trials = 4\ndirection = "up"'),
        "search.direction: unknown direction 'up'; allowed: maximize, minimize",
    ),
    "no space": (
        lambda s: s.split("[search.space]")[0] + "[profiles.smoke]\nepochs = 1\n",
        "search.space: required table",
    ),
    "unknown space setting": (_sub("lr = {", "lrr = {"), "search.space.lrr: unknown setting 'lrr'"),
    "space on an axis": (
        _sub('surrogate = ["atan", "sigmoid"]', 'neuron = ["LIF"]'),
        "search.space.neuron: neuron is an axis (each value is an arm)",
    ),
    "seed searched": (
        _sub('surrogate = ["atan", "sigmoid"]', "seed = [1, 2]"),
        "search.space.seed: seed cannot be searched",
    ),
    "low above high": (
        _sub("low = 1.0, high = 8.0", "low = 8.0, high = 1.0"),
        "search.space.alpha: low 8.0 must be below high 1.0",
    ),
    "low out of range": (
        _sub("low = 1e-4, high", "low = -1.0, high"),
        "search.space.lr.low: -1.0 is out of range",
    ),
    "log from zero": (
        _sub('surrogate = ["atan", "sigmoid"]', "weight_decay = { low = 0.0, high = 0.1, log = true }"),
        "search.space.weight_decay.low: a log scale needs low > 0",
    ),
    "log and step": (
        _sub("high = 1e-2, log = true", "high = 1e-2, log = true, step = 1e-3"),
        "search.space.lr: log and step exclude each other",
    ),
    "unknown range key": (
        _sub("low = 1.0, high = 8.0", "low = 1.0, high = 8.0, scale = 2"),
        "search.space.alpha.scale: unknown key",
    ),
    "bad choice": (
        _sub('["atan", "sigmoid"]', '["atan", "nope"]'),
        "search.space.surrogate[1]: unknown surrogate 'nope'",
    ),
    "range of a name": (
        _sub('surrogate = ["atan", "sigmoid"]', "surrogate = { low = 1, high = 2 }"),
        "search.space.surrogate: surrogate is not numeric",
    ),
    "grid without steps": (
        _sub("trials = 4", 'trials = 4\nsampler = "grid"'),
        "search.space.lr: the grid sampler needs a list of values or a step",
    ),
    "grid too small": (
        lambda s: (
            s.replace("trials = 4", 'trials = 5\nsampler = "grid"')
            .replace("lr = { low = 1e-4, high = 1e-2, log = true }", "lr = [1e-3]")
            .replace("alpha = { low = 1.0, high = 8.0 }", "alpha = { low = 1.0, high = 2.0, step = 1.0 }")
        ),
        "search.trials: 5 is more than the grid's 4 points",
    ),
    "trial seed is a retrain seed": (
        _sub("retrain_seeds = [0, 1]", "retrain_seeds = [0, 1]\ntrial_seed = 1"),
        "search.trial_seed: 1 is also a retrain seed",
    ),
    "retrain seeds empty": (_sub("retrain_seeds = [0, 1]", "retrain_seeds = []"), "search.retrain_seeds"),
    "profile unknown key": (
        _sub("[profiles.smoke.search]\ntrials = 2", "[profiles.smoke.search]\ntrials = 2\nwho = 1"),
        "profiles.smoke.search.who: unknown key",
    ),
    "profile trials zero": (
        _sub("[profiles.smoke.search]\ntrials = 2", "[profiles.smoke.search]\ntrials = 0"),
        "profiles.smoke.search.trials: expected an integer >= 1, got 0",
    ),
    "profile search without search": (
        lambda s: s.replace(s[s.index("[search]") : s.index("[profiles.smoke]")], "").replace(
            'title = "t"', 'title = "t"\nseeds = [0]'
        ),
        "profiles.smoke.search: the study has no [search] table",
    ),
    "report key of a grid table": (
        lambda s: s + '\n[report]\nrows = ["neuron"]\n',
        "report.rows: unknown key; allowed: reference, title",
    ),
    "reference not an arm": (
        lambda s: s + '\n[report]\nreference = { neuron = "PLIF" }\n',
        "report.reference.neuron: 'PLIF' is not a value of the axis 'neuron'",
    ),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_malformed_search_is_one_line_naming_the_key(tmp_path, name):
    mutate, expected = MUTATIONS[name]
    with pytest.raises(spec.StudyError) as err:
        _load(tmp_path, mutate(VALID))
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "srch.toml")), message
    assert expected in message, message


def test_valid_search_resolves_per_profile_and_to_distributions(tmp_path):
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from suite.study import search

    study = _load(tmp_path, VALID)
    assert study.search_of("smoke").trials == 2  # the profile overrides the study's 4
    s = study.search_of("smoke")
    assert (s.metric, s.direction, s.sampler, s.pruner, s.trial_seed) == (
        "best_test_acc", "maximize", "tpe", "median", 100,
    )  # fmt: skip
    dists = search.distributions(s)
    assert dists["lr"] == FloatDistribution(1e-4, 1e-2, log=True)
    assert dists["alpha"] == FloatDistribution(1.0, 8.0)
    assert dists["surrogate"] == CategoricalDistribution(["atan", "sigmoid"])
    # the search's name is part of each Optuna study's name: it must not drift between versions
    assert s.digest() == "f813d53e"


def test_the_same_history_gives_the_same_next_trial(tmp_path):
    """A rerun on a storage that holds the same finished trials proposes exactly what the first run did."""
    from suite.study import search

    study = _load(tmp_path, VALID)
    s = study.search_of("smoke")
    points = spec.expand(study, "smoke", seeds=[s.trial_seed])
    proposals = []
    for name in ("a", "b"):
        store = search.storage(f"sqlite:///{tmp_path}/{name}.db")
        arm = search.ArmSearch(search.arms(study, "smoke", s, points)[0], s, store)
        first = arm.ask()
        arm.study.tell(first.number, 50.0)
        proposals.append((first.params, arm.ask().params))
        again = search.ArmSearch(arm.arm, s, store)  # a new process: a fresh sampler object
        assert len(again.trials()) == 2 and again.counts()["running"] == 1
    assert proposals[0] == proposals[1]


def test_best_is_the_first_of_equal_values_and_arms_share_nothing(tmp_path):
    from suite.study import search

    study = _load(tmp_path, VALID)
    s = study.search_of("smoke")
    store = search.storage(f"sqlite:///{tmp_path}/o.db")
    lif, klif = (
        search.ArmSearch(a, s, store)
        for a in search.arms(study, "smoke", s, spec.expand(study, "smoke", seeds=[100]))
    )
    for value in (70.0, 80.0, 80.0):
        t = lif.ask()
        lif.study.tell(t.number, value)
    assert lif.best().number == 1
    assert klif.trials() == [] and klif.best() is None and lif.arm.name != klif.arm.name
    (p0,) = lif.retrain_points()[:1]
    assert p0.config["seed"] == 0 and p0.config["lr"] == lif.best().params["lr"]
