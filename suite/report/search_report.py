"""A search study's report: per arm the trials, the best parameters and the retrained seeds, and a figure of
each arm's optimisation history (``<study>-history.png/.pdf``).

Where the numbers come from: the Optuna storage says what each trial was (state, value, parameters, the
best one, exactly as the runner chose it, :meth:`suite.study.search.ArmSearch.best`); the MLflow store holds
the retrained runs, found by the config hashes of each arm's best configuration at the retrain seeds, so
a retrain of an older best (before the search grew) is never mixed in. :func:`build` is pure (arms in,
:class:`~suite.report.model.Report` out) so the tables are golden-tested without a store, and the same
Markdown/LaTeX writers as every other table print them.

``[report]`` of a search study takes ``title`` and ``reference`` (the arm the others are paired with, by
seed; default: the first arm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite.report import fmt, latex, markdown
from suite.report.model import Diff, Measured, Report, Section, Text
from suite.report.stats import paired_ci, summarize
from suite.study.search_spec import describe

KEYS = ("title", "reference")


@dataclass(frozen=True)
class Trial:
    number: int
    state: str  # complete | pruned | fail | running | waiting
    value: float | None  # the metric (complete), else the last reported test accuracy
    params: dict[str, Any]
    steps: int = 0  # epochs reported


@dataclass(frozen=True)
class ArmResult:
    label: str
    axes: dict[str, Any]
    trials: tuple[Trial, ...]
    best: Trial | None
    retrained: dict[int, tuple[float, str]] = field(default_factory=dict)  # seed -> (metric, run id)
    tags: dict[str, set] = field(default_factory=dict)  # commit / hardware of the retrained runs

    def count(self, state: str) -> int:
        return sum(t.state == state for t in self.trials)


def check(study) -> None:
    """``[report]`` of a search study: one-line errors, like the rest of the file."""
    from suite.study.spec import Check

    c = Check(study.path)
    c.keys("report", study.report, set(KEYS))
    title = study.report.get("title", study.title)
    if not isinstance(title, str):
        c.fail("report.title", f"expected a string, got {title!r}")
    reference = study.report.get("reference", {})
    if not isinstance(reference, dict):
        c.fail("report.reference", f'expected a table such as {{ neuron = "LIF" }}, got {reference!r}')
    for key, value in reference.items():
        values = study.grid.get(key, [p.get(key) for p in study.include if key in p])
        if value not in values:
            c.fail(
                f"report.reference.{key}",
                f"{value!r} is not a value of the axis {key!r}",
                values or "an axis",
            )


def _params(params: dict[str, Any]) -> str:
    def one(v):
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k}={one(v)}" for k, v in sorted(params.items())) or "—"


def reference_arm(arms: list[ArmResult], reference: dict[str, Any]) -> ArmResult | None:
    for arm in arms:
        if all(arm.axes.get(k) == v for k, v in reference.items()):
            return arm
    return None


def build(
    name: str,
    title: str,
    arms: list[ArmResult],
    *,
    reference: dict[str, Any],
    search,
    profile: str,
    command: str,
) -> Report:
    metric = search.metric
    ref = reference_arm(arms, reference) if reference else (arms[0] if arms else None)
    trials_rows = []
    for a in arms:
        best = a.best
        trials_rows.append(
            (
                Text(a.label),
                Text(str(len(a.trials))),
                Text(str(a.count("complete"))),
                Text(str(a.count("pruned"))),
                Text(str(a.count("fail"))),
                Text("—" if best is None else str(best.number)),
                Text("—" if best is None else fmt.acc(best.value)),
                Text("—" if best is None else _params(best.params)),
            )
        )
    trials = Section(
        "trials",
        f"Search: {search.trials} trials per arm",
        ("Arm", "Trials", "Complete", "Pruned", "Failed", "Best trial", f"Its {metric}", "Best parameters"),
        tuple(trials_rows),
        notes=(
            f"{search.sampler} sampler (seed {search.seed}), {search.pruner} pruner on the per-epoch test "
            f"accuracy; every trial trains with seed {search.trial_seed}",
            "the search selects on the test accuracy, as the paper and the PLIF reference code report it "
            "(neither has a validation split); the retrained seeds below are fresh draws of the chosen config",
        ),
        stub=1,
    )
    retrain_rows = []
    for a in arms:
        values = [a.retrained[s][0] for s in sorted(a.retrained)]
        diff = None
        if ref is not None and a is not ref:
            seeds = sorted(set(a.retrained) & set(ref.retrained))
            diff = paired_ci([a.retrained[s][0] - ref.retrained[s][0] for s in seeds])
        retrain_rows.append(
            (
                Text(a.label),
                Measured(summarize(values), "acc"),
                Text("(reference)") if a is ref else Diff(diff),
            )
        )
    vs = f"vs {ref.label}" if ref is not None else "vs reference"
    retrained = Section(
        "retrained",
        f"Best configuration retrained with seeds {list(search.retrain_seeds)}",
        ("Arm", f"{metric} (mean ± std)", f"{vs} (paired, 95% CI)"),
        tuple(retrain_rows),
        notes=("pairs match seeds; an interval that excludes 0 is a difference the seeds resolve",),
    )
    space = "; ".join(f"{k}: {describe(d)}" for k, d in search.space.items())

    def tagged(key: str) -> str:
        return "; ".join(sorted({v for a in arms for v in a.tags.get(key, set())})) or "—"

    footer = (
        ("Profile", profile),
        ("Data used (samples)", tagged("data")),
        ("Epochs", tagged("epochs")),
        ("T (time steps)", tagged("T")),
        ("Search space", space),
        (
            "Budget",
            f"{search.trials} trials per arm ({len(arms)} arms), metric {metric} ({search.direction})",
        ),
        ("Retrain seeds", ", ".join(map(str, search.retrain_seeds))),
        ("Hardware", tagged("hardware")),
        ("Commit", tagged("commit")),
        ("Command", command),
        (
            "Statistics",
            "mean ± sample std (ddof 1) over seeds; paired differences: mean ± t(0.975, n-1)·s/√n",
        ),
    )
    provenance = tuple(
        f"{a.label}: retrained "
        + (", ".join(f"seed {s}: {a.retrained[s][1]}" for s in sorted(a.retrained)) or "none")
        for a in arms
    )
    return Report(name, title, (trials, retrained), footer, provenance)


def _trial(t) -> Trial:
    state = t.state.name.lower()
    last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
    return Trial(
        t.number, state, t.value if state == "complete" else last, dict(t.params), len(t.intermediate_values)
    )


def collect(study, profile: str, tracking_uri: str, storage_url: str) -> list[ArmResult]:
    """Every arm's trials (Optuna) and retrained runs (MLflow), as the runner defined them."""
    from mlflow.tracking import MlflowClient

    from suite.contract import Tag
    from suite.study import search as S
    from suite.study import spec, tracking

    search = study.search_of(profile)
    points = [p for p in spec.expand(study, profile, seeds=[search.trial_seed]) if not p.skip]
    store = S.storage(storage_url)
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(study.name)
    out = []
    for arm in S.arms(study, profile, search, points):
        s = S.ArmSearch(arm, search, store)
        trials = tuple(_trial(t) for t in s.trials())
        best = s.best()
        retrained, tags = {}, {"commit": set(), "hardware": set(), "data": set(), "epochs": set(), "T": set()}
        for p in s.retrain_points() if experiment is not None else []:
            for run in tracking.find_child(client, p.hash, [experiment.experiment_id]):
                if tracking.is_finished(run) and search.metric in run.data.metrics:
                    retrained[p.config["seed"]] = (run.data.metrics[search.metric], run.info.run_id)
                    tags["commit"].add(run.data.tags.get(Tag.COMMIT, "?"))
                    tags["hardware"].add(run.data.tags.get(Tag.HARDWARE, "?"))
                    tags["data"].add(run.data.tags.get(Tag.DATA_SIZES, "?"))
                    tags["epochs"].add(run.data.params.get("epochs", "?"))
                    tags["T"].add(run.data.params.get("T", "?"))
                    break
        if not trials and not retrained:
            continue  # an arm the store knows nothing of (e.g. its dataset is missing here)
        out.append(
            ArmResult(arm.label, arm.axes, trials, None if best is None else _trial(best), retrained, tags)
        )
    return out


def history_figure(name: str, arms: list[ArmResult], metric: str):
    """Each arm's optimisation history: trial values in order, pruned trials marked, the best so far."""
    import matplotlib
    from matplotlib.figure import Figure as MplFigure

    from suite.report.figures import RC

    with matplotlib.rc_context(RC):
        n = max(1, len(arms))
        cols = min(n, 4)
        rows = math.ceil(n / cols)
        fig = MplFigure(figsize=(3.2 * cols, 2.6 * rows), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, arm in zip(axes, arms):
            done = [t for t in arm.trials if t.state == "complete"]
            pruned = [t for t in arm.trials if t.state == "pruned" and t.value is not None]
            ax.plot([t.number for t in done], [t.value for t in done], "o", ms=4, label="complete")
            if pruned:
                ax.plot(
                    [t.number for t in pruned],
                    [t.value for t in pruned],
                    "x",
                    ms=5,
                    label="pruned (last epoch)",
                )
            best, xs, ys = -math.inf, [], []
            for t in sorted(done, key=lambda t: t.number):
                best = max(best, t.value)
                xs.append(t.number)
                ys.append(best)
            if xs:
                ax.step(xs, ys, where="post", lw=1, label="best so far")
            ax.set_title(arm.label)
            ax.set_xlabel("trial")
            ax.set_ylabel(metric)
        handles = {h.get_label(): h for ax in axes[: len(arms)] for h in ax.get_lines()}
        if handles:  # one legend for every panel, below them: inside a panel it hides trials
            fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=len(handles))
        for ax in axes[len(arms) :]:
            ax.set_axis_off()
        fig.suptitle(f"{name}: optimisation history per arm")
    return fig


def render(
    study, *, profile: str, tracking_uri: str, out_dir: Path, command: str, storage_url: str | None
) -> list[Path]:
    from suite.report.figures import save
    from suite.report.render import _write
    from suite.study import search as S

    search = study.search_of(profile)
    url = storage_url or S.default_storage(tracking_uri)
    arms = collect(study, profile, tracking_uri, url)
    report = build(
        study.name,
        study.report.get("title", study.title),
        arms,
        reference=study.report.get("reference", {}),
        search=search,
        profile=profile,
        command=command,
    )
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    paths = [
        _write(target / f"{study.name}.md", markdown.render(report)),
        _write(target / f"{study.name}.tex", latex.render(report)),
    ]
    return paths + save(history_figure(study.title, arms, search.metric), target, f"{study.name}-history")
