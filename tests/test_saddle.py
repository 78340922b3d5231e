"""``fastopt saddle`` (SEED.md Q2c)."""

import csv

import matplotlib.image as mpimg

from fastopt.cli import EXPERIMENTS, main
from fastopt.experiments import saddle_study
from fastopt.experiments.saddle import OPTIMIZERS, SURFACES, steps_to_leave, trajectory

QUICK = EXPERIMENTS["saddle"].quick


def test_stable_axis_without_noise_never_leaves_under_sgd():
    assert steps_to_leave(trajectory("x^2 - y^2", "sgd", start=(0.5, 0.0), steps=2000)) is None
    # A little gradient noise breaks the symmetry.
    assert steps_to_leave(trajectory("x^2 - y^2", "sgd", start=(0.5, 0.0), noise=0.01,
                                     steps=2000)) is not None  # fmt: skip


def test_adaptive_methods_leave_the_flat_saddle_sgd_does_not():
    study = saddle_study(steps=500)
    assert steps_to_leave(study.paths[("x^3", "sgd", 0)]) is None
    assert steps_to_leave(study.paths[("x^3", "adam", 0)]) is not None
    assert steps_to_leave(study.paths[("x^3", "rmsprop", 0)]) is not None
    plain = study.paths[("x^2 - y^2", "sgd", 0)]
    assert steps_to_leave(study.paths[("x^2 - y^2", "adam", 0)]) < steps_to_leave(plain)


def test_cli_outputs(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["saddle", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert mpimg.imread(out / "trajectories.png").std() > 0.05
    with open(out / "escape.csv") as f:
        rows = list(csv.DictReader(f))
    study = saddle_study(**QUICK)
    assert len(rows) == len(study.paths) == len(SURFACES) * len(OPTIMIZERS) * 2
    for row, path in zip(rows, study.paths.values(), strict=True):
        left = steps_to_leave(path)
        assert row["steps_to_leave"] == ("stuck" if left is None else str(left))
    report = (out / "report.md").read_text()
    assert printed.startswith(report)
    assert study.table_markdown() in report  # steps to leave, per surface and optimizer
    # At this size plain SGD stays at x^3's flat saddle and Adam walks through it.
    assert steps_to_leave(study.paths[("x^3", "sgd", 0)]) is None
    adam = steps_to_leave(study.paths[("x^3", "adam", 0)])
    assert "plain SGD creeps toward it: it stays stuck;" in report
    assert f"walks through it in {adam} steps." in report
