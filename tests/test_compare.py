"""``fastopt compare`` (SEED.md Q4) at its quick size."""

import csv

import numpy as np
import pytest

from fastopt.cli import main
from fastopt.experiments import compare
from fastopt.experiments.compare import write


@pytest.fixture(scope="module")
def quick():
    return compare(seeds=1, n_samples=200)


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


def test_cli_writes_figure_csv_and_report(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--quick", "--out", str(out)]) == 0
    assert "| optimizer | lr 0.001 |" in capsys.readouterr().out
    png = out / "curves.png"
    assert png.stat().st_size > 10_000
    import matplotlib.image as mpimg

    pixels = mpimg.imread(png)
    assert pixels.std() > 0.05  # not blank
    with open(out / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    again = compare(seeds=1, n_samples=200)
    assert len(rows) == len(again.result) == 16
    for row, expected in zip(rows, again.result.rows(), strict=True):
        assert row["optimizer"] == expected["optimizer"]
        assert int(row["steps_to_target"]) == expected["steps_to_target"]
        assert float(row["final_loss"]) == pytest.approx(expected["final_loss"], rel=1e-12)
    report = (out / "report.md").read_text()
    assert "![loss curves](curves.png)" in report and "Momentum" in report


def test_mlp_problem_and_bad_problem(tmp_path):
    result = compare(problem="mlp", seeds=1, n_samples=100, max_steps=300)
    assert len(result.result) == 16 and np.isfinite(result.result["best_loss"]).all()
    paths = write(result, tmp_path)
    assert paths["report"].read_text().startswith("# Q4")
    with pytest.raises(ValueError, match="problem must be"):
        compare(problem="cnn")
