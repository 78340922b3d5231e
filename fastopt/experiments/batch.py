"""Full-batch against mini-batch descent (SEED.md, Q2d), on ``fastopt.sweep``.

The same model, optimizer and learning rate train on the same data with the full batch and
with mini-batches of several sizes, for the same number of epochs (the same compute: every
sample is seen as often). The curves show the batch loss against steps and against epochs:
smooth for the full batch, noisy for mini-batches; the table says which ends lower on the full
training set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastopt.data import linear
from fastopt.mlp import MLP
from fastopt.plot import pyplot, save, write_csv
from fastopt.sweep import sweep

BATCH_SIZES = (None, 100, 32, 8)


@dataclass
class BatchStudy:
    """One sweep per batch size, all for the same number of epochs.

    Attributes
    ----------
    results : dict
        Batch size (None = full) -> SweepResult over the seeds.
    n_samples, epochs : int
    optimizer : str
    lr : float
    """

    results: dict
    n_samples: int
    epochs: int
    optimizer: str
    lr: float

    def label(self, batch: int | None) -> str:
        """``"full batch"`` or ``"batch 32"``."""
        return "full batch" if batch is None else f"batch {batch}"

    def final_losses(self) -> dict:
        """Median full-training-set loss after the epochs, per batch size."""
        return {b: float(np.median(r["final_loss"])) for b, r in self.results.items()}

    def roughness(self) -> dict:
        """Share of steps at which the recorded batch loss went up, over all seeds.

        0 for a smooth, monotone descent; near one half for a noisy one.
        """
        out = {}
        for b, r in self.results.items():
            rises = np.diff(r.curves, axis=1)
            out[b] = float(np.mean(rises[~np.isnan(rises)] > 0))
        return out

    def findings(self) -> list[str]:
        """Sentences backed by the numbers."""
        finals = self.final_losses()
        rough = self.roughness()
        best = min(finals, key=finals.get)
        full = finals[None]
        lines = [
            f"Full batch: the loss went up at {rough[None]:.0%} of the steps (a smooth descent); "
            f"with mini-batches of {', '.join(str(b) for b in finals if b)} at "
            f"{', '.join(f'{rough[b]:.0%}' for b in finals if b)} of them (noisy).",
            f"After {self.epochs} epochs (the same compute for each), the full-data loss is "
            + ", ".join(f"{finals[b]:.3g} ({self.label(b)})" for b in finals)
            + f": {self.label(best)} ends lowest"
            + (f", {full / finals[best]:.3g}x below the full batch." if best is not None else "."),
        ]
        return lines


def batch_study(
    *,
    epochs: int = 20,
    batch_sizes=BATCH_SIZES,
    optimizer: str = "sgd",
    lr: float = 0.01,
    seeds: int = 3,
    seed: int = 0,
    n_samples: int = 1000,
    progress: bool | None = None,
) -> BatchStudy:
    """Train the toy problem's linear model with each batch size for ``epochs`` epochs."""
    X, Y = linear(n=n_samples, seed=seed)
    model = MLP([2, 1], activation="identity")
    results = {}
    for batch in batch_sizes:
        per_epoch = 1 if batch is None else n_samples // batch
        results[batch] = sweep(
            model, X, Y, optimizer=optimizer, lr=lr, seed=list(range(seed, seed + seeds)),
            batch_size=batch, data_seed=seed, steps=epochs * per_epoch, progress=progress,
        )  # fmt: skip
    return BatchStudy(results, n_samples, epochs, optimizer, lr)


def plot(study: BatchStudy):
    """Batch loss against steps (log) and against epochs, first seed, one curve per size."""
    plt = pyplot()
    fig, (by_step, by_epoch) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(study.results)))
    for color, (batch, result) in zip(colors, study.results.items(), strict=True):
        curve = result.curves[0]
        steps = result.steps
        per_epoch = 1 if batch is None else study.n_samples // batch
        by_step.plot(steps + 1, curve, color=color, lw=1.2, label=study.label(batch))
        by_epoch.plot(steps / per_epoch, curve, color=color, lw=1.2, label=study.label(batch))
    for ax in (by_step, by_epoch):
        ax.set_yscale("log")
        ax.set_ylabel("batch loss (MSE)")
        ax.legend(fontsize=8)
    by_step.set_xscale("log")
    by_step.set_xlabel("step + 1")
    by_epoch.set_xlabel("epoch (samples seen / n)")
    fig.suptitle(f"Q2d: full batch vs mini-batch, {study.optimizer} lr {study.lr:g}, "
                 f"{study.epochs} epochs each")  # fmt: skip
    return fig


def write(study: BatchStudy, out: str | os.PathLike) -> dict[str, Path]:
    """Write curves.png, results.csv and report.md into ``out``."""
    out = Path(out)
    figure = save(plot(study), out / "curves.png")
    csv_path = write_csv(
        out / "results.csv",
        ["batch_size", "seed", "steps", "final_loss", "best_batch_loss"],
        ([batch or study.n_samples, row["seed"], row["steps_done"], row["final_loss"],
          row["best_loss"]] for batch, result in study.results.items() for row in result.rows()),
    )  # fmt: skip
    finals, rough = study.final_losses(), study.roughness()
    lines = [
        "# Q2d: full-batch vs mini-batch gradient descent",
        "",
        f"d2l's synthetic linear regression ({study.n_samples} samples), a linear model, "
        f"{study.optimizer} at lr {study.lr:g}, {study.epochs} epochs for every batch size, "
        f"{len(next(iter(study.results.values())))} seeds.",
        "",
        "![curves](curves.png)",
        "",
        "| batch | steps | full-data loss after the epochs (median) | steps where the loss rose |",
        "|---|---|---|---|",
    ]
    for batch, result in study.results.items():
        lines.append(f"| {study.label(batch)} | {int(result['steps_done'].max())} | "
                     f"{finals[batch]:.4g} | {rough[batch]:.0%} |")  # fmt: skip
    lines += ["", *[f"- {s}" for s in study.findings()], ""]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return {"figure": figure, "csv": csv_path, "report": report}


__all__ = ["BatchStudy", "batch_study", "plot", "write"]
