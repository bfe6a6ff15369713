"""The search report from arms (no store): counts, best parameters, retrained mean ± std and the paired
interval against the reference arm, in Markdown and LaTeX; the history figure draws pruned trials too."""

from __future__ import annotations

from suite.report import latex, markdown
from suite.report.search_report import ArmResult, Trial, build, history_figure
from suite.study.search_spec import Choice, Range, Search

SEARCH = Search(
    trials=3,
    metric="best_test_acc",
    direction="maximize",
    sampler="tpe",
    pruner="median",
    retrain_seeds=(0, 1, 2),
    trial_seed=100,
    seed=0,
    space={"lr": Range(1e-4, 1e-2, log=True), "surrogate": Choice(("atan", "sigmoid"))},
)


def _arm(label: str, neuron: str, values: list[float], retrained: list[float]) -> ArmResult:
    trials = (
        Trial(0, "complete", values[0], {"lr": 1e-3, "surrogate": "atan"}, 3),
        Trial(1, "pruned", values[1], {"lr": 3e-3, "surrogate": "atan"}, 2),
        Trial(2, "complete", values[2], {"lr": 2.5e-4, "surrogate": "sigmoid"}, 3),
    )
    best = max((t for t in trials if t.state == "complete"), key=lambda t: t.value)
    runs = {s: (v, f"run-{neuron}-{s}") for s, v in enumerate(retrained)}
    tags = {
        "commit": {"abc"},
        "hardware": {"cpu"},
        "data": {"train=3000,test=1000"},
        "epochs": {"3"},
        "T": {"4"},
    }
    return ArmResult(label, {"neuron": neuron}, trials, best, runs, tags)


def _report():
    arms = [
        _arm("neuron=LIF", "LIF", [80.0, 60.0, 81.5], [80.0, 81.0, 82.0]),
        _arm("neuron=KLIF", "KLIF", [82.0, 70.0, 79.0], [81.0, 83.0, 84.0]),
    ]
    return arms, build(
        "tuned",
        "Tuned",
        arms,
        reference={"neuron": "LIF"},
        search=SEARCH,
        profile="cpu",
        command="nox -s report",
    )


def test_tables_say_the_counts_the_best_and_the_paired_difference():
    _, report = _report()
    md = markdown.render(report)
    assert "| neuron=LIF  | 3      | 2        | 1      | 0      | 2          | 81.50" in md
    assert "lr=0.00025, surrogate=sigmoid" in md  # LIF's best trial is #2
    assert "lr=0.001, surrogate=atan" in md  # KLIF's best trial is #0
    assert "| neuron=LIF  | 81.00 ± 1.00 (n=3)" in md and "(reference)" in md
    # KLIF - LIF by seed: 1, 2, 2 -> mean 1.67, s = 0.577, t(0.975, 2) = 4.303 -> ± 1.43
    assert "| neuron=KLIF | 82.67 ± 1.53 (n=3)" in md and "+1.67 [+0.23, +3.10] (n=3)" in md
    assert "**Search space:** lr: [0.0001, 0.01, log]; surrogate: {atan, sigmoid}" in md
    assert "**Data used (samples):** train=3000,test=1000" in md and "**Epochs:** 3" in md
    tex = latex.render(report)
    assert r"\label{tab:tuned-trials}" in tex and r"\label{tab:tuned-retrained}" in tex


def test_without_a_reference_the_first_arm_is_the_reference_and_missing_retrains_are_dashes():
    arms, _ = _report()
    arms[1] = ArmResult("neuron=KLIF", {"neuron": "KLIF"}, arms[1].trials, None, {})
    md = markdown.render(
        build("tuned", "Tuned", arms, reference={}, search=SEARCH, profile="cpu", command="c")
    )
    row = next(line for line in md.splitlines() if line.startswith("| neuron=KLIF") and "—" in line)
    assert row.count("—") >= 2
    assert "vs neuron=LIF" in md


def test_history_figure_draws_every_arm():
    arms, _ = _report()
    fig = history_figure("Tuned", arms, "best_test_acc")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["neuron=LIF", "neuron=KLIF"]
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["complete", "pruned (last epoch)", "best so far"]
    lines = fig.axes[0].get_lines()
    assert [len(line.get_xdata()) for line in lines] == [2, 1, 2]  # complete, pruned, best so far


def test_the_search_report_compiles_with_pdflatex(tmp_path):
    import shutil
    import subprocess

    import pytest

    from suite.report.figures import save

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not found: install TeX (Debian: texlive-latex-base texlive-latex-recommended)")
    arms, report = _report()
    (tmp_path / "tuned.tex").write_text(latex.render(report), encoding="utf-8")
    png, _ = save(history_figure("Tuned", arms, "best_test_acc"), tmp_path, "tuned-history")
    doc = tmp_path / "doc.tex"
    doc.write_text(
        "\\documentclass{article}\n\\usepackage{booktabs,graphicx}\n\\begin{document}\n\\input{tuned.tex}\n"
        f"\\includegraphics[width=\\linewidth]{{{png.name}}}\n\\end{{document}}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and (tmp_path / "doc.pdf").exists(), done.stdout[-2000:]
    assert "Unicode character" not in done.stdout and "Missing character" not in done.stdout
