"""``fastopt compare`` (SEED.md Q4) at its quick size."""

import csv

import numpy as np
import pytest

from fastopt.cli import EXPERIMENTS, main
from fastopt.experiments import compare
from fastopt.experiments.compare import OPTIMIZERS, write

QUICK = EXPERIMENTS["compare"].quick


@pytest.fixture(scope="module")
def quick():
    return compare(progress=False, **QUICK)


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
