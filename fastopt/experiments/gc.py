"""Gradient Centralization on and off (SEED.md, Q1), on ``fastopt.sweep``.

Each optimizer trains a 2-32-32-3 ReLU classifier on spirals (``fastopt.data``) with GC off,
on the gradient (``"grad"``) and on the update (``"update"``), over a band of learning rates
and several seeds, with mini-batches. When scikit-learn is installed its bundled digits data
(8x8 images, no download) is a second task.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastopt.data import spirals
from fastopt.mlp import MLP
from fastopt.plot import pyplot, save, write_csv
from fastopt.results import SweepResult
from fastopt.sweep import sweep

GC_MODES = (None, "grad", "update")
BANDS = {
    "sgd": [0.03, 0.1, 0.3],
    "momentum": [0.003, 0.01, 0.03],
    "rmsprop": [0.001, 0.003, 0.01],
    "adam": [0.001, 0.003, 0.01],
}
"""Learning-rate band per optimizer: around the rates that train this task well."""
TARGET = 0.3
NO_DIFFERENCE = 0.1
"""Relative change of the median final loss below which GC made no difference."""


def tasks(seed: int, n_samples: int) -> dict:
    """Name -> (model, X_train, y_train, X_val, y_val): spirals, and digits with scikit-learn."""
    out = {}
    X, y = spirals(n=n_samples, seed=seed)
    cut = int(0.8 * n_samples)
    order = np.random.default_rng(seed).permutation(n_samples)
    train, val = order[:cut], order[cut:]
    out["spirals"] = (MLP([2, 32, 32, 3], "relu", loss="cross_entropy"), X[train], y[train],
                      X[val], y[val])  # fmt: skip
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return out
    digits = load_digits()
    Xd, yd = digits.data / 16.0, digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(yd))[: n_samples * 2]
    cut = int(0.8 * len(order))
    out["digits"] = (MLP([64, 32, 10], "relu", loss="cross_entropy"), Xd[order[:cut]],
                     yd[order[:cut]], Xd[order[cut:]], yd[order[cut:]])  # fmt: skip
    return out


@dataclass
class GCStudy:
    """Per task, one SweepResult over optimizer x lr x seed x GC mode."""

    results: dict
    steps: int

    def summary(self, task: str) -> dict:
        """(optimizer, gc) -> medians of final loss, validation accuracy, steps to target."""
        r = self.results[task]
        out = {}
        for opt in BANDS:
            for gc in GC_MODES:
                s = r.select(optimizer=opt, gc=gc)
                reached = s["steps_to_target"][s["steps_to_target"] >= 0]
                out[(opt, gc)] = {
                    "final_loss": float(np.nanmedian(s["final_loss"])),
                    "val_accuracy": float(np.nanmedian(s["val_accuracy"])),
                    "train_accuracy": float(np.nanmedian(s["train_accuracy"])),
                    "steps_to_target": int(np.median(reached)) if reached.size else None,
                    "reached": f"{reached.size}/{len(s)}",
                }
        return out

    def verdicts(self, task: str) -> dict:
        """(optimizer, gc mode) -> "helped" / "hurt" / "no difference", by the final loss."""
        return gc_verdicts(self.summary(task), BANDS, "final_loss")


def gc_verdicts(summary: dict, optimizers, metric: str, *, margin: float = NO_DIFFERENCE,
                relative: bool = True, lower_is_better: bool = True) -> dict:  # fmt: skip
    """(optimizer, gc mode) -> "helped" / "hurt" / "no difference": each GC mode against GC off.

    ``summary[(optimizer, gc)][metric]`` is compared with ``summary[(optimizer, None)][metric]``:
    its relative change (``relative``; else the difference) under ``margin`` is no difference,
    else it helped when it moved the better way.
    """
    out = {}
    for opt in optimizers:
        base = summary[(opt, None)][metric]
        for gc in GC_MODES[1:]:
            value = summary[(opt, gc)][metric]
            change = value / base - 1 if relative else value - base
            better = change < 0 if lower_is_better else change > 0
            out[(opt, gc)] = ("no difference" if abs(change) < margin
                              else "helped" if better else "hurt")  # fmt: skip
    return out


def gc_study(*, seeds: int = 3, seed: int = 0, steps: int = 300, n_samples: int = 600,
             batch_size: int = 32, progress: bool | None = None) -> GCStudy:  # fmt: skip
    """Train every optimizer x band x seed x GC mode on each task."""
    results = {}
    for name, (model, X, y, X_val, y_val) in tasks(seed, n_samples).items():
        parts = [
            sweep(model, X, y, optimizer=opt, lr=lrs, gc=list(GC_MODES),
                  seed=list(range(seed, seed + seeds)), batch_size=batch_size, data_seed=seed,
                  steps=steps, stop_below=None, X_val=X_val, Y_val=y_val, progress=progress)
            for opt, lrs in BANDS.items()
        ]  # fmt: skip
        results[name] = SweepResult.concat(parts)
        # steps to target from the curves: first recorded loss below TARGET
        curves = results[name].curves
        below = curves < TARGET
        first = np.where(below.any(axis=1), below.argmax(axis=1), -1)
        results[name] = _with_metric(results[name], "steps_to_target", first)
    return GCStudy(results, steps)


def _with_metric(result: SweepResult, name: str, values: np.ndarray) -> SweepResult:
    metrics = {m: result[m] for m in result.metric_names}
    metrics[name] = values
    return result.replace(metrics=metrics)  # layout and info kept


def plot(study: GCStudy, task: str):
    """Per optimizer, the median training loss curve per GC mode with its 25-75% band."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(BANDS), figsize=(16, 4), sharey=True, layout="constrained")
    r = study.results[task]
    colors = {None: "#4c72b0", "grad": "#55a868", "update": "#c44e52"}
    for ax, opt in zip(axes, BANDS, strict=True):
        for gc in GC_MODES:
            curves = r.select(optimizer=opt, gc=gc).curves
            low, mid, high = np.nanpercentile(curves, [25, 50, 75], axis=0)
            ax.plot(r.steps, mid, color=colors[gc], label=f"gc={gc}")
            ax.fill_between(r.steps, low, high, color=colors[gc], alpha=0.2)
        ax.set(yscale="log", title=f"{opt} (lr {BANDS[opt][0]:g}-{BANDS[opt][-1]:g})",
               xlabel="step")  # fmt: skip
        ax.legend(fontsize=8)
    axes[0].set_ylabel("mini-batch loss (median, 25-75%)")
    fig.suptitle(f"Q1: gradient centralization on {task}")
    return fig


def write(study: GCStudy, out: str | os.PathLike) -> dict[str, Path]:
    """Write one figure per task, runs.csv and report.md into ``out``."""
    out = Path(out)
    paths = {}
    lines = ["# Q1: gradient centralization", ""]
    columns = ["task", "optimizer", "lr", "seed", "gc", "final_loss", "val_accuracy",
               "train_accuracy", "steps_to_target"]  # fmt: skip
    rows = ([task] + [row[c] for c in columns[1:]]
            for task, result in study.results.items() for row in result.rows())  # fmt: skip
    csv_path = write_csv(out / "runs.csv", columns, rows)
    for task in study.results:
        figure = save(plot(study, task), out / f"curves-{task}.png")
        paths[task] = figure
        summary, verdicts = study.summary(task), study.verdicts(task)
        lines += [
            f"## {task}", "", f"![{task}]({figure.name})", "",
            "| optimizer | gc | final loss (median) | train / val accuracy (median) | steps to "
            f"loss {TARGET} | reached | verdict |",
            "|---|---|---|---|---|---|---|",
        ]  # fmt: skip
        for (opt, gc), s in summary.items():
            verdict = verdicts.get((opt, gc), "baseline")
            steps = "-" if s["steps_to_target"] is None else s["steps_to_target"]
            accuracy = f"{s['train_accuracy']:.3f} / {s['val_accuracy']:.3f}"
            lines.append(f"| {opt} | {gc} | {s['final_loss']:.4g} | {accuracy} | "
                         f"{steps} | {s['reached']} | {verdict} |")  # fmt: skip
        helped = [f"{o} ({g})" for (o, g), v in verdicts.items() if v == "helped"]
        hurt = [f"{o} ({g})" for (o, g), v in verdicts.items() if v == "hurt"]
        same = [f"{o} ({g})" for (o, g), v in verdicts.items() if v == "no difference"]
        lines += ["", f"GC helped (median final loss more than {NO_DIFFERENCE:.0%} lower): "
                  f"{', '.join(helped) or 'nowhere'}. Hurt: {', '.join(hurt) or 'nowhere'}. "
                  f"No difference: {', '.join(same) or 'nowhere'}.", ""]  # fmt: skip
    if "digits" not in study.results:
        lines.append("(digits skipped: scikit-learn is not installed.)")
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return {"figures": paths, "csv": csv_path, "report": report}
