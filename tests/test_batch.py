"""``fastopt batch`` (SEED.md Q2d) at its quick size."""

import csv

import matplotlib.image as mpimg
import numpy as np
import pytest

from fastopt.cli import main
from fastopt.experiments import batch_study


@pytest.fixture(scope="module")
def quick():
    return batch_study(seeds=1, n_samples=200, epochs=5)


def test_full_batch_is_smooth_and_mini_batches_are_noisy(quick):
    rough = quick.roughness()
    assert rough[None] == 0.0
    assert all(rough[b] > 0.2 for b in (100, 32, 8))


def test_same_epochs_take_more_steps_in_smaller_batches(quick):
    steps = {b: int(r["steps_done"][0]) for b, r in quick.results.items()}
    assert steps == {None: 5, 100: 10, 32: 30, 8: 125}
    finals = quick.final_losses()
    assert finals[8] < finals[None]  # same compute, lower loss


def test_cli_writes_figure_csv_and_report(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["batch", "--quick", "--out", str(out)]) == 0
    assert "smooth descent" in capsys.readouterr().out
    assert mpimg.imread(out / "curves.png").std() > 0.05
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    study = batch_study(seeds=1, n_samples=200, epochs=5)
    expected = [r for res in study.results.values() for r in res.rows()]
    assert len(rows) == len(expected) == 4
    for row, exp in zip(rows, expected, strict=True):
        assert float(row["final_loss"]) == pytest.approx(exp["final_loss"], rel=1e-12)
        assert int(row["steps"]) == exp["steps_done"]
    report = (out / "report.md").read_text()
    assert "![curves](curves.png)" in report
    assert np.isfinite(list(study.final_losses().values())).all()
