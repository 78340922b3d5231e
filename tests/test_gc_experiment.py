"""``fastopt gc`` (SEED.md Q1) at its quick size."""

import csv

import matplotlib.image as mpimg
import numpy as np

from fastopt.cli import main
from fastopt.experiments import gc_study
from fastopt.experiments.gc import BANDS, GC_MODES


def test_plain_sgd_grad_and_update_coincide():
    study = gc_study(seeds=1, steps=40, n_samples=200)
    r = study.results["spirals"]
    grad = r.select(optimizer="sgd", gc="grad")
    update = r.select(optimizer="sgd", gc="update")
    np.testing.assert_allclose(grad.curves, update.curves, rtol=1e-5)
    off = r.select(optimizer="adam", gc=None)
    on = r.select(optimizer="adam", gc="grad")
    assert not np.allclose(off.curves, on.curves)
    assert set(study.verdicts("spirals").values()) <= {"helped", "hurt", "no difference"}


def test_cli_outputs(tmp_path, capsys):
    out = tmp_path / "gc"
    assert main(["gc", "--quick", "--out", str(out)]) == 0
    assert "## spirals" in capsys.readouterr().out
    assert mpimg.imread(out / "curves-spirals.png").std() > 0.05
    with open(out / "runs.csv") as f:  # digits rows too when scikit-learn is installed
        rows = [row for row in csv.DictReader(f) if row["task"] == "spirals"]
    study = gc_study(seeds=1, steps=60, n_samples=240)
    expected = list(study.results["spirals"].rows())
    assert len(rows) == len(expected) == sum(len(b) for b in BANDS.values()) * len(GC_MODES)
    for row, exp in zip(rows, expected, strict=True):
        assert float(row["final_loss"]) == exp["final_loss"]
        assert row["optimizer"] == exp["optimizer"]
    assert "GC helped" in (out / "report.md").read_text()
