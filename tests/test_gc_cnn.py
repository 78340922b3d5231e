"""``fastopt gc --problem cnn``: GC with fastopt.torch on a conv net + BatchNorm, quick size."""

import csv
import re
import sys
import types

import matplotlib.image as mpimg
import numpy as np
import pytest

from fastopt.cli import GC_CNN, main
from tests.cli_helpers import one_line_error

QUICK = GC_CNN.quick


def test_without_torch_the_cnn_problem_is_one_line_naming_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    err = one_line_error(capsys, ["gc", "--problem", "cnn", "--quick", "--out", str(tmp_path)])
    assert err.startswith("fastopt gc: --problem cnn needs torch: ")
    assert 'pip install -e ".[torch]"' in err


def test_epochs_is_a_cnn_flag(capsys):
    err = one_line_error(capsys, ["gc", "--epochs", "2"])
    assert "fastopt gc: --epochs applies to --problem cnn only" in err


torch = pytest.importorskip("torch")

from fastopt.experiments import gc_cnn  # noqa: E402
from fastopt.experiments.gc_cnn import GC_MODES, OPTIMIZERS  # noqa: E402


@pytest.fixture(scope="module")
def quick():
    return gc_cnn.cnn_study(progress=False, **QUICK)


@pytest.fixture
def one_thread():
    # The study trains on one thread; the same reductions here make torch's run comparable.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_gc_off_is_torch_optims_run_of_the_same_model_and_seed(quick, one_thread, name):
    torch_name, kwargs = OPTIMIZERS[name]
    data = gc_cnn.dataset(0, QUICK["n_samples"])
    (ours,) = quick.select(name, None)
    theirs = gc_cnn.train(
        data,
        lambda params: getattr(torch.optim, torch_name)(params, **kwargs, foreach=False),
        gc_cnn.Run(name, None, ours.seed, kwargs["lr"]),
        epochs=QUICK["epochs"],
    )
    assert len(ours.losses) == len(theirs.losses) == quick.epochs * quick.steps_per_epoch > 5
    np.testing.assert_allclose(ours.losses, theirs.losses, rtol=1e-4)
    np.testing.assert_allclose(ours.epoch_val_loss, theirs.epoch_val_loss, rtol=1e-4)
    assert ours.val_accuracy == theirs.val_accuracy
    # GC changes the path; where the step is linear in the gradient (SGD with momentum),
    # centralizing the gradient or the step is the same thing.
    off = np.array(ours.losses)
    (grad,), (update,) = quick.select(name, "grad"), quick.select(name, "update")
    assert np.abs(np.array(grad.losses) - off).max() > 1e-3
    assert np.abs(np.array(update.losses) - off).max() > 1e-3
    if name == "momentum":
        np.testing.assert_allclose(grad.losses, update.losses, rtol=1e-4)


def test_cli_report_has_a_row_per_optimizer_and_gc_mode(tmp_path, capsys, quick):
    out = tmp_path / "gc-cnn"
    assert main(["gc", "--problem", "cnn", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = (out / "report.md").read_text()
    assert printed.startswith(report)
    assert mpimg.imread(out / f"curves-{quick.task}.png").std() > 0.05
    with open(out / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(OPTIMIZERS) * len(GC_MODES) * QUICK["seeds"]
    for row, run in zip(rows, quick.runs, strict=True):  # the CLI's run is the study's
        assert (row["optimizer"], row["gc"]) == (run.optimizer, run.gc or "")
        assert float(row["final_loss"]) == run.final_loss  # one thread: deterministic
    summary, verdicts = quick.summary(), quick.verdicts()
    by_accuracy = quick.accuracy_verdicts()
    table = [line for line in report.splitlines() if re.match(r"\| (momentum|adam) \|", line)]
    assert len(table) == len(summary) == len(OPTIMIZERS) * len(GC_MODES)
    for line, ((opt, gc), s) in zip(table, summary.items(), strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        accuracy = f"{s['train_accuracy']:.3f} / {s['val_accuracy']:.3f}"
        assert cells[:5] == [opt, str(gc), f"{s['final_loss']:.4g}", accuracy,
                             f"{s['val_loss']:.4g}"]  # fmt: skip
        assert cells[5:] == [verdicts.get((opt, gc), "baseline"),
                             by_accuracy.get((opt, gc), "baseline")]  # fmt: skip
    for (opt, gc), verdict in verdicts.items():
        change = summary[(opt, gc)]["final_loss"] / summary[(opt, None)]["final_loss"] - 1
        if verdict == "no difference":
            assert abs(change) < gc_cnn.NO_DIFFERENCE
        else:
            assert abs(change) >= gc_cnn.NO_DIFFERENCE and (change < 0) == (verdict == "helped")
    assert "By final loss: GC helped" in report and "By validation accuracy: GC helped" in report


def test_synthetic_digits_are_shaped_as_scikit_learns_and_reproducible():
    X, y = gc_cnn.synthetic_digits(500, seed=3)
    assert X.shape == (500, 8, 8) and X.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() <= 1.0 and set(y) == set(range(10))
    X2, y2 = gc_cnn.synthetic_digits(500, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    # Each class has its own pattern: class means differ far more than the noise allows.
    means = np.stack([X[y == c].mean(axis=0) for c in range(10)])
    apart = np.abs(means[:, None] - means[None]).max(axis=(2, 3))
    assert apart[~np.eye(10, dtype=bool)].min() > 0.2


def test_scikit_learns_digits_when_installed(monkeypatch):
    rng = np.random.default_rng(0)
    digits = types.SimpleNamespace(data=rng.integers(0, 17, size=(100, 64)).astype(float),
                                   target=np.arange(100) % 10)  # fmt: skip
    datasets = types.ModuleType("sklearn.datasets")
    datasets.load_digits = lambda: digits
    monkeypatch.setitem(sys.modules, "sklearn", types.ModuleType("sklearn"))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", datasets)
    data = gc_cnn.dataset(seed=0)
    assert data.name == "digits"
    assert data.X.shape == (80, 1, 8, 8) and data.X_val.shape == (20, 1, 8, 8)
    assert data.X.dtype == torch.float32 and float(data.X.max()) == 1.0  # 16 / 16
    images = torch.cat([data.X, data.X_val]).reshape(100, 64) * 16
    labels = torch.cat([data.y, data.y_val])
    # Every image kept with its label, in a shuffled order.
    for image, label in zip(images, labels, strict=True):
        i = int(np.flatnonzero((digits.data == image.numpy()).all(axis=1))[0])
        assert digits.target[i] == label
