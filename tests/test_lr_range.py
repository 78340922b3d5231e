"""``fastopt lr-range`` (SEED.md Q2a/b) at its quick size."""

import csv

import matplotlib.image as mpimg
import numpy as np
import pytest

from fastopt.cli import EXPERIMENTS, main
from fastopt.experiments import lr_study
from fastopt.experiments.lr_range import CLASSES, STOP_FACTOR, classify

QUICK_LR = EXPERIMENTS["lr-range"].quick


@pytest.fixture(scope="module")
def quick():
    return lr_study(progress=False, **QUICK_LR)


def test_suggestion_lies_in_the_good_band(quick):
    low, high = quick.good_band()
    assert low <= quick.suggestion() <= high


def test_classes_run_from_too_low_to_diverged(quick):
    assert quick.classes[0] == "too low"
    assert quick.classes[-1] == "too high (diverged)"
    order = [CLASSES.index(c) for c in quick.classes]
    assert order == sorted(order)  # on this convex problem the classes never interleave


def test_classify_rules():
    assert classify(np.array([10.0, 5.0, 0.5]), False) == "good"
    assert classify(np.array([10.0, 9.0, 8.0]), False) == "too low"
    assert classify(np.array([10.0, 12.0, 5.0, 7.0, 1.0]), False) == "too high (oscillating)"
    assert classify(np.array([10.0, np.nan]), True) == "too high (diverged)"


def test_cli_outputs(tmp_path, capsys, quick):
    out = tmp_path / "lr"
    assert main(["lr-range", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in ("regions.png", "examples.png"):
        assert mpimg.imread(out / name).std() > 0.05
    with open(out / "grid.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["class"] for r in rows] == quick.classes
    np.testing.assert_allclose([float(r["lr"]) for r in rows], quick.grid["lr"])
    report = (out / "report.md").read_text()
    assert printed.startswith(report)
    # The report's numbers are the study's: class counts, the good band, the range test.
    counts = ", ".join(f"{quick.classes.count(name)} {name}" for name in CLASSES)
    assert (
        f"- Grid: {len(quick.classes)} rates, {QUICK_LR['budget']} steps each: {counts}." in report
    )
    low, high = quick.good_band()
    assert f"- Good band: {low:.3g} to {high:.3g}." in report
    assert (f"stopped at lr {quick.ramp_lrs[quick.stop_step()]:.3g} (smoothed loss above "
            f"{STOP_FACTOR:g}x its minimum); suggested lr {quick.suggestion():.3g}, inside the "
            "good band.") in report  # fmt: skip
