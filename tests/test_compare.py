"""``fastopt compare`` (SEED.md Q4) at its quick size."""

import csv
import importlib

import numpy as np
import pytest

from fastopt import plan
from fastopt.cli import EXPERIMENTS, main
from fastopt.experiments import compare
from fastopt.experiments.compare import OPTIMIZERS, check_optimizers, plot_curves, write
from fastopt.plot import pyplot

QUICK = EXPERIMENTS["compare"].quick
# The module, not the function of the same name that fastopt.experiments exports.
compare_module = importlib.import_module("fastopt.experiments.compare")

#: Not the assignment's four, in an order of their own: one of them (sgd) diverges at lr 1.
OTHERS = ("adagrad", "sgd")


@pytest.fixture(scope="module")
def quick():
    return compare(progress=False, **QUICK)


@pytest.fixture(scope="module")
def others():
    return compare(progress=False, optimizers=list(OTHERS), **QUICK)


def _panels(fig) -> list:
    """The figure's visible panels, in reading order."""
    return [ax for ax in fig.axes if ax.get_visible()]


def test_assignment_facts_that_must_hold(quick):
    sgd = {lr: quick.cell("sgd", lr) for lr in (0.001, 0.01, 1.0)}
    assert sgd[1.0]["diverged"] == sgd[1.0]["runs"]  # SGD at lr 1 diverges
    assert sgd[0.001]["steps"] > sgd[0.01]["steps"]  # and 0.001 is slower than 0.01
    for lr in (0.001, 0.01, 0.1, 1.0):  # Adam reaches the target at all four rates
        assert quick.cell("adam", lr)["reached"] == 1


def test_table_and_findings_follow_the_runs(quick):
    table = quick.table_markdown()
    assert "| sgd |" in table and table.count("\n") == 5
    steps = int(quick.result.select(optimizer="sgd", lr=0.01)["steps_to_target"][0])
    assert f"| sgd | {quick.label('sgd', 0.001)} | {steps} |" in table
    assert "diverged" in quick.findings()["sgd"]


def test_cli_writes_figure_csv_and_report(tmp_path, capsys, quick):
    out = tmp_path / "cmp"
    assert main(["compare", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    png = out / "curves.png"
    assert png.stat().st_size > 10_000
    import matplotlib.image as mpimg

    pixels = mpimg.imread(png)
    assert pixels.std() > 0.05  # not blank
    with open(out / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(quick.result) == 16
    for row, expected in zip(rows, quick.result.rows(), strict=True):
        assert row["optimizer"] == expected["optimizer"]
        assert int(row["steps_to_target"]) == expected["steps_to_target"]
        assert float(row["final_loss"]) == pytest.approx(expected["final_loss"], rel=1e-12)
    report = (out / "report.md").read_text()
    assert printed.startswith(report)  # the command prints the report it wrote
    assert report.startswith("# Q4: SGD, momentum, RMSprop and Adam across learning rates (linear)")
    # The report's table and sentences are this study's numbers (the same seeds and sizes).
    assert quick.table_markdown() in report
    findings = quick.findings()
    for opt in OPTIMIZERS:
        assert f"Measured: {findings[opt]}." in report
    assert quick.momentum_note() in report


def test_mlp_problem_and_bad_problem(tmp_path):
    result = compare(problem="mlp", seeds=1, n_samples=100, max_steps=300, progress=False)
    assert len(result.result) == 16 and np.isfinite(result.result["best_loss"]).all()
    assert result.result.info["model"].startswith("MLP(sizes=[2, 16, 1], activation='relu'")
    paths = write(result, tmp_path)
    report = paths["report"].read_text()
    assert report.splitlines()[0].endswith("(mlp)")
    assert result.table_markdown() in report
    with pytest.raises(ValueError, match="problem must be"):
        compare(problem="cnn")


def test_the_default_is_the_assignments_four(quick):
    assert OPTIMIZERS == ("sgd", "momentum", "rmsprop", "adam")
    assert quick.optimizers == OPTIMIZERS
    assert sorted(set(quick.result["optimizer"].tolist())) == sorted(OPTIMIZERS)
    assert list(quick.findings()) == list(OPTIMIZERS)
    assert [ax.get_title() for ax in _panels(plot_curves(quick))] == list(OPTIMIZERS)
    pyplot().close("all")


def test_other_optimizers_everywhere_downstream(tmp_path, capsys, others):
    assert others.optimizers == OTHERS
    assert sorted(set(others.result["optimizer"].tolist())) == sorted(OTHERS)
    assert len(others.result) == 2 * 4
    table = others.table_markdown()
    rows = [line.split(" | ")[0] for line in table.splitlines()[2:]]
    assert rows == ["| adagrad", "| sgd"]  # the order given, nothing else
    assert list(others.findings()) == list(OTHERS)
    assert others.momentum_note() == ""  # momentum was not compared
    # A diverged run is still shown as diverged: in the table, and with an x in its panel.
    assert others.label("sgd", 1.0) == "diverged"
    fig = plot_curves(others)
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == list(OTHERS)
    crosses = [[line for line in ax.get_lines() if line.get_marker() == "x"] for ax in panels]
    assert [len(c) for c in crosses] == [0, 1]
    legend = [t.get_text() for t in panels[1].get_legend().get_texts()]
    assert "lr 1: diverged" in legend
    pyplot().close(fig)

    # The command line runs the same study and writes it.
    out = tmp_path / "others"
    assert main(["compare", "--quick", "--optimizers", *OTHERS, "--out", str(out)]) == 0
    assert f"wrote {out}/" in capsys.readouterr().out
    with open(out / "runs.csv") as f:
        assert [row["optimizer"] for row in csv.DictReader(f)] == list(
            others.result["optimizer"].tolist()
        )
    report = (out / "report.md").read_text()
    assert report.startswith("# Q4: adagrad and SGD across learning rates (linear)\n")
    assert others.table_markdown() in report
    findings = others.findings()
    assert f"- **adagrad** (not in the assignment). Measured: {findings['adagrad']}." in report
    assert f"- **sgd**: the assignment saw *{compare_module.ASSIGNMENT['sgd']}*." in report
    assert "heavy-ball" not in report  # no momentum note without momentum
    assert "assignment's four learning rates" in report  # the shared grid is said


def test_new_optimizers_and_more_rows_of_panels(tmp_path):
    # test_sweep's zoo, in its order: the same grid kernel, compiled once for both (30 s).
    names = ["nadam", "radam", "adamax", "adadelta", "rprop", "lion", "lookahead_adam",
             "lookahead_sgd", "ranger"]  # fmt: skip
    result = compare(optimizers=names, seeds=1, n_samples=100, max_steps=300, progress=False)
    assert len(result.result) == 9 * 4 and result.optimizers == tuple(names)
    assert [line.split(" | ")[0] for line in result.table_markdown().splitlines()[2:]] == [
        f"| {name}" for name in names
    ]
    fig = plot_curves(result)
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == names
    assert len(fig.axes) == 12  # three rows of four, the last three hidden
    # Every panel has its four curves, labelled with what the table says.
    for ax, name in zip(panels, names, strict=True):
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == [f"lr {lr:g}: {result.label(name, lr)}" for lr in result.lrs]
    pyplot().close(fig)
    report = write(result, tmp_path)["report"].read_text()
    for name in names:
        assert f"- **{name}** (not in the assignment)" in report
    # Ranger centralizes by default: on the one-output linear model GC pins the weights' sum,
    # so it never reaches the target, and the report says why.
    assert all(result.label("ranger", lr) == "not reached" for lr in result.lrs)
    assert "ranger centralizes gradients by default" in report


def _must_not_run(*args, **kwargs):
    raise AssertionError("the comparison trained although its optimizers are wrong")


@pytest.mark.parametrize(
    "optimizers, error, message",
    [
        (["adam", "adamx"], ValueError, "optimizers: unknown optimizer 'adamx'; known: "),
        (["adam", "sgd", "adam"], ValueError, "optimizers: 'adam' is given twice"),
        ([], ValueError, "optimizers: give at least one optimizer name"),
        (["adam", None], TypeError, "optimizers: expected optimizer names (str), got None"),
        ({"adam"}, TypeError, "optimizers: expected a list of optimizer names"),
    ],
)
def test_bad_optimizers_are_refused_before_any_work(monkeypatch, optimizers, error, message):
    monkeypatch.setattr(compare_module, "sweep", _must_not_run)
    with pytest.raises(error) as info:
        compare(optimizers=optimizers, progress=False)
    assert message in str(info.value)
    if "unknown" in message:  # the known names are listed, the new ones among them
        assert "adamw" in str(info.value) and "adagrad" in str(info.value)


def test_names_are_read_from_the_sweep_at_call_time(monkeypatch):
    assert check_optimizers("adamw") == ("adamw",)  # one name alone is a list of one
    with pytest.raises(ValueError, match="unknown optimizer 'mine'"):
        check_optimizers(["mine"])
    monkeypatch.setattr(plan, "OPTIMIZER_NAMES", {**plan.OPTIMIZER_NAMES, "mine": None})
    assert check_optimizers(["adam", "mine"]) == ("adam", "mine")
