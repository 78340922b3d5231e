"""``fastopt batch`` (SEED.md Q2d) at its quick size."""

import csv

import matplotlib.image as mpimg
import numpy as np
import pytest

from fastopt.cli import EXPERIMENTS, main
from fastopt.experiments import batch_study
from fastopt.experiments.batch import BATCH_SIZES

QUICK = EXPERIMENTS["batch"].quick


@pytest.fixture(scope="module")
def quick():
    return batch_study(progress=False, **QUICK)


def test_full_batch_is_smooth_and_mini_batches_are_noisy(quick):
    rough = quick.roughness()
    assert rough[None] == 0.0
    assert all(rough[b] > 0.2 for b in BATCH_SIZES if b is not None)


def test_same_epochs_take_more_steps_in_smaller_batches(quick):
    assert list(quick.results) == list(BATCH_SIZES)
    epochs, n = QUICK["epochs"], QUICK["n_samples"]
    for batch, result in quick.results.items():
        steps = epochs * (1 if batch is None else n // batch)  # every sample seen `epochs` times
        assert (result["steps_done"] == steps).all()
        assert result.curves.shape == (QUICK["seeds"], steps + 1)  # the loss at every step
        assert np.isfinite(result.curves).all()
    finals = quick.final_losses()
    assert finals[8] < finals[32] < finals[None]  # same compute: more, noisier steps go lower


def test_cli_writes_figure_csv_and_report(tmp_path, capsys, quick):
    out = tmp_path / "b"
    assert main(["batch", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert mpimg.imread(out / "curves.png").std() > 0.05
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    expected = [r for res in quick.results.values() for r in res.rows()]
    assert len(rows) == len(expected) == len(BATCH_SIZES) * QUICK["seeds"]
    for row, exp in zip(rows, expected, strict=True):
        assert float(row["final_loss"]) == pytest.approx(exp["final_loss"], rel=1e-12)
        assert int(row["steps"]) == exp["steps_done"]
    report = (out / "report.md").read_text()
    assert printed.startswith(report)
    # The table's numbers are the study's: steps, median final loss, share of rising steps.
    finals, rough = quick.final_losses(), quick.roughness()
    labels = tuple(f"| {quick.label(batch)} |" for batch in BATCH_SIZES)
    table = [line for line in report.splitlines() if line.startswith(labels)]
    assert len(table) == len(BATCH_SIZES)
    for line, (batch, result) in zip(table, quick.results.items(), strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells == [quick.label(batch), str(int(result["steps_done"].max())),
                         f"{finals[batch]:.4g}", f"{rough[batch]:.0%}"]  # fmt: skip
    for sentence in quick.findings():
        assert f"- {sentence}" in report
