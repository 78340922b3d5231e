"""``fastopt gc`` (SEED.md Q1) at its quick size."""

import csv
import re

import matplotlib.image as mpimg
import numpy as np
import pytest

from fastopt.cli import EXPERIMENTS, main
from fastopt.experiments import gc_study
from fastopt.experiments.gc import BANDS, GC_MODES, NO_DIFFERENCE

QUICK = EXPERIMENTS["gc"].quick


@pytest.fixture(scope="module")
def quick():
    return gc_study(progress=False, **QUICK)


def test_gc_changes_every_optimizer_and_the_two_modes_differ_only_when_nonlinear(quick):
    r = quick.results["spirals"]
    assert np.isfinite(r.curves).all() and np.isfinite(r["final_loss"]).all()
    for opt in BANDS:
        off = r.select(optimizer=opt, gc=None).curves
        grad = r.select(optimizer=opt, gc="grad").curves
        update = r.select(optimizer=opt, gc="update").curves
        assert off.shape == grad.shape == update.shape == (len(BANDS[opt]), QUICK["steps"] + 1)
        # Centralizing changes the path of every optimizer ...
        assert np.abs(grad - off).max() > 1e-3 and np.abs(update - off).max() > 1e-3
        if opt in ("sgd", "momentum"):
            # ... and where the step is linear in the gradient, centralizing the gradient or
            # the step is the same thing;
            np.testing.assert_allclose(grad, update, rtol=1e-5)
        else:
            # RMSprop and Adam divide by a gradient statistic: the two modes part ways.
            assert np.abs(grad - update).max() > 1e-3


def test_verdicts_follow_the_median_final_losses(quick):
    summary, verdicts = quick.summary("spirals"), quick.verdicts("spirals")
    assert set(verdicts) == {(opt, gc) for opt in BANDS for gc in GC_MODES[1:]}
    for (opt, gc), verdict in verdicts.items():
        change = summary[(opt, gc)]["final_loss"] / summary[(opt, None)]["final_loss"] - 1
        if verdict == "no difference":
            assert abs(change) < NO_DIFFERENCE
        else:
            assert abs(change) >= NO_DIFFERENCE and (change < 0) == (verdict == "helped")


def test_cli_outputs(tmp_path, capsys, quick):
    out = tmp_path / "gc"
    assert main(["gc", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert mpimg.imread(out / "curves-spirals.png").std() > 0.05
    with open(out / "runs.csv") as f:  # digits rows too when scikit-learn is installed
        rows = [row for row in csv.DictReader(f) if row["task"] == "spirals"]
    expected = list(quick.results["spirals"].rows())
    assert len(rows) == len(expected) == sum(len(b) for b in BANDS.values()) * len(GC_MODES)
    for row, exp in zip(rows, expected, strict=True):
        assert float(row["final_loss"]) == exp["final_loss"]
        assert row["optimizer"] == exp["optimizer"]
    report = (out / "report.md").read_text()
    assert printed.startswith(report)
    # Every row of the report's table is the study's summary and verdict, number for number.
    section = report.split("## spirals")[1].split("\n## ")[0]
    table = [line for line in section.splitlines() if re.match(r"\| (sgd|momentum|rms|adam)", line)]
    summary, verdicts = quick.summary("spirals"), quick.verdicts("spirals")
    assert len(table) == len(summary)
    for line, ((opt, gc), s) in zip(table, summary.items(), strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        steps = "-" if s["steps_to_target"] is None else str(s["steps_to_target"])
        assert cells == [
            opt, str(gc), f"{s['final_loss']:.4g}",
            f"{s['train_accuracy']:.3f} / {s['val_accuracy']:.3f}", steps, s["reached"],
            verdicts.get((opt, gc), "baseline"),
        ]  # fmt: skip
    named = {v: ", ".join(f"{o} ({g})" for (o, g), w in verdicts.items() if w == v) or "nowhere"
             for v in ("helped", "hurt", "no difference")}  # fmt: skip
    assert (f"lower): {named['helped']}. Hurt: {named['hurt']}. "
            f"No difference: {named['no difference']}.") in section  # fmt: skip
