"""Gradient Centralization in its paper's own setting: a conv net with BatchNorm, in PyTorch.

``fastopt gc --problem cnn`` (needs torch: ``pip install -e ".[torch]"``). A small conv net
(two 3x3 convolutions, each followed by BatchNorm and ReLU, a 2x2 max-pool, a linear
classifier: 3.8k parameters) learns 8x8 images of 10 classes: scikit-learn's bundled digits
when scikit-learn is installed (1797 images, no download), else a synthetic set of the same
size and shape (:func:`synthetic_digits`). SGD with momentum and Adam, as
:mod:`fastopt.torch` optimizers, train it with GC off, on the gradient (``"grad"``) and on
the update (``"update"``), over several seeds, on the same mini-batches for every optimizer
and mode of a seed. The MLP study (``fastopt gc``) found GC hurting Adam there; this is the
setting (conv + BatchNorm) GC was proposed for, and users deserve to see both.

A run with GC off is torch.optim's run of the same model and seed (``tests/test_gc_cnn.py``
checks it against ``torch.optim.SGD``/``Adam`` with ``foreach=False``). torch runs on one
thread here: on a net this small, torch's threads only wait for each other (a step took
several times longer with 2 threads than with 1 on a 2-core machine).

Importing this module needs torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import fastopt.torch as fastopt_torch
from fastopt.experiments.gc import GC_MODES, NO_DIFFERENCE, gc_verdicts
from fastopt.plot import pyplot, save, write_csv
from fastopt.progress import Progress

OPTIMIZERS = {
    "momentum": ("SGD", dict(lr=0.05, momentum=0.9)),
    "adam": ("Adam", dict(lr=3e-3)),
}
"""Name -> (torch.optim class name, its arguments): rates that train this net well."""
ACCURACY_POINTS = 0.01
"""Change of the median validation accuracy (a fraction: 0.01 is one percentage point) below
which GC made no difference there."""
N_CLASSES = 10


# --- data ---------------------------------------------------------------------------------
def synthetic_digits(n: int = 1797, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 8x8 grey images of 10 classes, in [0, 1], shaped as scikit-learn's digits.

    Each class is a fixed pattern of three random strokes (the same for every ``seed``);
    an image is its class's pattern shifted by up to one pixel each way, at a random
    contrast, plus Gaussian noise: a task a small conv net learns in a few epochs and an
    MLP less easily (the shifts).

    Returns
    -------
    X : ndarray of shape (n, 8, 8), float32
    y : ndarray of shape (n,), int64
    """
    patterns = np.zeros((N_CLASSES, 10, 10))
    shapes = np.random.default_rng(12345)  # the classes do not depend on the seed
    for pattern in patterns:
        for _ in range(3):  # a stroke: a straight run of 3-6 pixels, in one of 4 directions
            r, c = shapes.integers(1, 9, size=2)
            dr, dc = [(0, 1), (1, 0), (1, 1), (1, -1)][shapes.integers(4)]
            for k in range(shapes.integers(3, 7)):
                rr, cc = r + k * dr, c + k * dc
                if 1 <= rr < 9 and 1 <= cc < 9:
                    pattern[rr, cc] = 1.0
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, size=n)
    shifts = rng.integers(0, 3, size=(n, 2))  # the 8x8 window's corner in the 10x10 pattern
    X = np.stack([patterns[c][r : r + 8, s : s + 8] for c, (r, s) in zip(y, shifts, strict=True)])
    X = X * rng.uniform(0.6, 1.0, size=(n, 1, 1)) + rng.normal(0.0, 0.35, size=X.shape)
    return np.clip(X, 0.0, 1.0).astype(np.float32), y.astype(np.int64)


@dataclass(frozen=True)
class Data:
    """A task: its name and its training and validation images (N, 1, 8, 8) and labels."""

    name: str
    X: torch.Tensor
    y: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor


def dataset(seed: int = 0, n_samples: int | None = None) -> Data:
    """scikit-learn's digits, or :func:`synthetic_digits` without scikit-learn.

    ``n_samples`` images (default all: 1797), shuffled by ``seed``, 80% to train. The task
    is named ``"digits"`` or ``"synthetic"``.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        name = "synthetic"
        X, y = synthetic_digits(1797 if n_samples is None else n_samples, seed=seed)
    else:
        name = "digits"
        digits = load_digits()
        X = (np.asarray(digits.data, dtype=np.float32) / 16.0).reshape(-1, 8, 8)
        y = np.asarray(digits.target, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(y))[:n_samples]
    cut = int(0.8 * len(order))
    X = torch.from_numpy(np.ascontiguousarray(X[:, None]))
    y = torch.from_numpy(y)
    train, val = torch.from_numpy(order[:cut]), torch.from_numpy(order[cut:])
    return Data(name, X[train], y[train], X[val], y[val])


# --- the model and one run ----------------------------------------------------------------
class ConvNet(nn.Module):
    """conv 3x3 (1 -> c) + BN + ReLU, conv 3x3 (c -> 2c) + BN + ReLU, max-pool 2, linear.

    The convolutions have no bias (BatchNorm follows them). GC centralizes the two conv
    weights (4-D) and the classifier's weight (2-D); the BatchNorm weights and biases and the
    classifier's bias are 1-D and left alone.
    """

    def __init__(self, channels: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * channels)
        self.fc = nn.Linear(2 * channels * 4 * 4, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (logits) of a batch of (N, 1, 8, 8) images."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


@dataclass
class Run:
    """One training run: its configuration, its curves and its final figures.

    ``losses`` holds the mini-batch loss of every step; the ``epoch_*`` lists one entry per
    epoch, on the whole training or validation set with BatchNorm in eval mode. The final
    figures are the last epoch's.
    """

    optimizer: str
    gc: str | None
    seed: int
    lr: float
    losses: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    epoch_val_loss: list[float] = field(default_factory=list)
    epoch_val_accuracy: list[float] = field(default_factory=list)
    train_accuracy: float = float("nan")

    @property
    def final_loss(self) -> float:
        """The training set's loss after the last epoch."""
        return self.epoch_loss[-1]

    @property
    def val_loss(self) -> float:
        """The validation set's loss after the last epoch."""
        return self.epoch_val_loss[-1]

    @property
    def val_accuracy(self) -> float:
        """The validation set's accuracy after the last epoch."""
        return self.epoch_val_accuracy[-1]


def _evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Loss and accuracy of the whole set, BatchNorm in eval mode."""
    model.eval()
    with torch.no_grad():
        logits = model(X)
        loss = F.cross_entropy(logits, y).item()
        accuracy = (logits.argmax(dim=1) == y).double().mean().item()
    model.train()
    return loss, accuracy


def train(
    data: Data,
    make_optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    run: Run,
    *,
    epochs: int,
    batch_size: int = 32,
    channels: int = 8,
    on_step: Callable[[], None] | None = None,
) -> Run:
    """Train a :class:`ConvNet` seeded with ``run.seed``; fill ``run``'s curves and return it.

    The weights come from ``torch.manual_seed(run.seed)``, the mini-batches from
    ``numpy.random.default_rng(run.seed)`` (a new permutation of the training set each
    epoch): every optimizer and GC mode of a seed sees the same batches. The gradients are
    zeroed with ``set_to_none=False`` (fastopt.torch's zero-copy use; torch.optim computes
    the same).
    """
    torch.manual_seed(run.seed)
    model = ConvNet(channels)
    optimizer = make_optimizer(list(model.parameters()))
    rng = np.random.default_rng(run.seed)
    n = len(data.y)
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(n))
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=False)
            loss = F.cross_entropy(model(data.X[batch]), data.y[batch])
            loss.backward()
            optimizer.step()
            run.losses.append(loss.item())
            if on_step is not None:
                on_step()
        loss, run.train_accuracy = _evaluate(model, data.X, data.y)
        val_loss, val_accuracy = _evaluate(model, data.X_val, data.y_val)
        run.epoch_loss.append(loss)
        run.epoch_val_loss.append(val_loss)
        run.epoch_val_accuracy.append(val_accuracy)
    return run


def fastopt_optimizer(name: str, gc: str | None) -> Callable[[list], torch.optim.Optimizer]:
    """The :mod:`fastopt.torch` optimizer of ``OPTIMIZERS[name]`` with ``gc``, as a factory."""
    torch_name, kwargs = OPTIMIZERS[name]
    cls = getattr(fastopt_torch, torch_name)
    return lambda params: cls(params, **kwargs, gc=gc)


# --- the study ----------------------------------------------------------------------------
@dataclass
class CNNStudy:
    """Every optimizer x GC mode x seed on one task."""

    task: str
    runs: list[Run]
    epochs: int
    steps_per_epoch: int

    def select(self, optimizer: str, gc: str | None) -> list[Run]:
        """The runs of one optimizer and GC mode, in seed order."""
        return [r for r in self.runs if r.optimizer == optimizer and r.gc == gc]

    def summary(self) -> dict:
        """(optimizer, gc) -> medians over the seeds of the final figures."""
        out = {}
        for opt in OPTIMIZERS:
            for gc in GC_MODES:
                runs = self.select(opt, gc)
                out[(opt, gc)] = {
                    key: float(np.median([getattr(r, key) for r in runs]))
                    for key in ("final_loss", "val_loss", "val_accuracy", "train_accuracy")
                }
        return out

    def verdicts(self) -> dict:
        """(optimizer, gc mode) -> "helped" / "hurt" / "no difference", by the final loss.

        The MLP study's rule: the median final training loss changed by ``NO_DIFFERENCE``
        or more.
        """
        return gc_verdicts(self.summary(), OPTIMIZERS, "final_loss")

    def accuracy_verdicts(self) -> dict:
        """(optimizer, gc mode) -> the same words, by the median validation accuracy.

        A change under ``ACCURACY_POINTS`` is no difference.
        """
        return gc_verdicts(self.summary(), OPTIMIZERS, "val_accuracy", margin=ACCURACY_POINTS,
                           relative=False, lower_is_better=False)  # fmt: skip


def cnn_study(*, seeds: int = 5, seed: int = 0, epochs: int = 10, batch_size: int = 32,
              n_samples: int | None = None, channels: int = 8,
              progress: bool | None = None) -> CNNStudy:  # fmt: skip
    """Train every optimizer x GC mode x seed (``seed`` .. ``seed + seeds - 1``).

    Parameters
    ----------
    seeds : int
        Seeds per optimizer and GC mode (weights and batch order).
    seed : int
        The first seed, and the data's (split, and the synthetic images).
    epochs, batch_size : int
        Passes over the training set, and images per step.
    n_samples : int, optional
        Images in all (train + validation); default the whole set (1797).
    channels : int
        The first convolution's output channels (the second has twice as many).
    progress : bool, optional
        A progress bar (default: on a terminal).
    """
    data = dataset(seed, n_samples)
    steps_per_epoch = -(-len(data.y) // batch_size)
    configs = [(opt, gc, s) for opt in OPTIMIZERS for gc in GC_MODES
               for s in range(seed, seed + seeds)]  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see the module docstring
    runs = []
    try:
        total = len(configs) * epochs * steps_per_epoch
        with Progress(len(configs), total, enabled=progress, label="gc cnn") as bar:
            done = [0]

            def on_step() -> None:
                done[0] += 1
                bar.update(runs_done=len(runs), steps_done=done[0])

            for opt, gc, s in configs:
                run = Run(opt, gc, s, OPTIMIZERS[opt][1]["lr"])
                runs.append(train(data, fastopt_optimizer(opt, gc), run, epochs=epochs,
                                  batch_size=batch_size, channels=channels,
                                  on_step=on_step))  # fmt: skip
            bar.update(runs_done=len(runs), steps_done=done[0])
    finally:
        torch.set_num_threads(threads)
    return CNNStudy(data.name, runs, epochs, steps_per_epoch)


# --- figure and report ----------------------------------------------------------------------
COLORS = {None: "#4c72b0", "grad": "#55a868", "update": "#c44e52"}


def _band(ax, x, values, color, label):
    low, mid, high = np.percentile(np.asarray(values), [25, 50, 75], axis=0)
    ax.plot(x, mid, color=color, label=label)
    ax.fill_between(x, low, high, color=color, alpha=0.2)


def plot(study: CNNStudy):
    """Per optimizer, the training loss and the validation accuracy per epoch and GC mode.

    The loss is the mini-batch loss averaged over each epoch; each curve the median over
    the seeds, with the 25-75% band.
    """
    plt = pyplot()
    fig, axes = plt.subplots(2, len(OPTIMIZERS), figsize=(11, 7), sharex=True,
                             layout="constrained")  # fmt: skip
    epochs = np.arange(1, study.epochs + 1)
    k = study.steps_per_epoch
    for column, opt in zip(axes.T, OPTIMIZERS, strict=True):
        lr = OPTIMIZERS[opt][1]["lr"]
        for gc in GC_MODES:
            runs = study.select(opt, gc)
            per_epoch = [np.asarray(r.losses).reshape(study.epochs, k).mean(axis=1) for r in runs]
            _band(column[0], epochs, per_epoch, COLORS[gc], f"gc={gc}")
            _band(column[1], epochs, [r.epoch_val_accuracy for r in runs], COLORS[gc],
                  f"gc={gc}")  # fmt: skip
        column[0].set(yscale="log", title=f"{opt} (lr {lr:g})")
        column[1].set(xlabel="epoch")
        column[0].legend(fontsize=8)
    axes[0, 0].set_ylabel("mini-batch loss, epoch mean (median, 25-75%)")
    axes[1, 0].set_ylabel("validation accuracy (median, 25-75%)")
    fig.suptitle(f"Q1: gradient centralization, conv net + BatchNorm on {study.task}")
    return fig


def write(study: CNNStudy, out: str | os.PathLike) -> dict[str, Path]:
    """Write the figure, runs.csv and report.md into ``out`` (as the MLP study's writer)."""
    out = Path(out)
    columns = ["task", "optimizer", "lr", "seed", "gc", "final_loss", "val_loss",
               "val_accuracy", "train_accuracy"]  # fmt: skip
    rows = ([study.task, r.optimizer, r.lr, r.seed, r.gc, r.final_loss, r.val_loss,
             r.val_accuracy, r.train_accuracy] for r in study.runs)  # fmt: skip
    csv_path = write_csv(out / "runs.csv", columns, rows)
    figure = save(plot(study), out / f"curves-{study.task}.png")
    summary, verdicts, by_accuracy = study.summary(), study.verdicts(), study.accuracy_verdicts()
    seeds = len(study.select(next(iter(OPTIMIZERS)), None))
    data = ("scikit-learn's 8x8 digits" if study.task == "digits" else
            "synthetic 8x8 images of 10 classes (scikit-learn is not installed)")  # fmt: skip
    lines = [
        "# Q1: gradient centralization, conv net + BatchNorm (PyTorch)", "",
        f"A conv net with BatchNorm (fastopt.experiments.gc_cnn.ConvNet) on {data}, "
        f"{study.epochs} epochs of {study.steps_per_epoch} mini-batches, {seeds} seeds; "
        "fastopt.torch's SGD (momentum) and Adam with GC off, on the gradient and on the "
        "update. Final loss: the training set's after the last epoch.", "",
        f"## {study.task}", "", f"![{study.task}]({figure.name})", "",
        "| optimizer | gc | final loss (median) | train / val accuracy (median) | "
        "val loss (median) | verdict | verdict by val accuracy |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for (opt, gc), s in summary.items():
        accuracy = f"{s['train_accuracy']:.3f} / {s['val_accuracy']:.3f}"
        lines.append(f"| {opt} | {gc} | {s['final_loss']:.4g} | {accuracy} | "
                     f"{s['val_loss']:.4g} | {verdicts.get((opt, gc), 'baseline')} | "
                     f"{by_accuracy.get((opt, gc), 'baseline')} |")  # fmt: skip
    for name, found in (("final loss", verdicts), ("validation accuracy", by_accuracy)):
        named = {v: ", ".join(f"{o} ({g})" for (o, g), w in found.items() if w == v) or "nowhere"
                 for v in ("helped", "hurt", "no difference")}  # fmt: skip
        rule = (f"median final loss more than {NO_DIFFERENCE:.0%} lower" if name == "final loss"
                else f"median validation accuracy more than {ACCURACY_POINTS * 100:g} "
                "percentage point higher")  # fmt: skip
        lines += ["", f"By {name}: GC helped ({rule}): {named['helped']}. Hurt: "
                  f"{named['hurt']}. No difference: {named['no difference']}."]  # fmt: skip
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return {"figures": {study.task: figure}, "csv": csv_path, "report": report}
