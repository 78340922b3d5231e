"""Learning rates too low, good and too high (SEED.md, Q2a/b), on ``fastopt.sweep``.

Two ways to find a good learning rate for SGD on the toy problem:

- the *range test*: one run whose learning rate grows exponentially every step; it stops once
  the smoothed loss exceeds ``STOP_FACTOR`` times its minimum (or is NaN), and suggests the rate
  at which the smoothed loss fell fastest;
- the *grid*: 64 log-spaced rates trained in parallel for a short budget, each classified by
  the rules of :func:`classify`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastopt.data import linear
from fastopt.mlp import MLP
from fastopt.plot import pyplot, save, write_csv
from fastopt.results import SweepResult
from fastopt.schedules import Exponential
from fastopt.sweep import sweep

STOP_FACTOR = 4.0
SMOOTHING = 0.9
SLOW_FRACTION = 0.1
OSCILLATING_RISES = 0.25

CLASSES = ("too low", "good", "too high (oscillating)", "too high (diverged)")


def classify(curve: np.ndarray, diverged: bool) -> str:
    """The class of one short run from its loss curve (NaN after it stopped).

    - "too high (diverged)": the run diverged (NaN/inf, or above 1e3 x its first loss);
    - "too high (oscillating)": the loss rose at >= 25% of the steps, or ended above its start;
    - "too low": it ended above 10% of its first loss (too slow for the budget);
    - "good": otherwise.
    """
    if diverged:
        return CLASSES[3]
    values = curve[~np.isnan(curve)]
    rises = np.mean(np.diff(values) > 0) if values.size > 1 else 0.0
    if rises >= OSCILLATING_RISES or values[-1] > values[0]:
        return CLASSES[2]
    if values[-1] > SLOW_FRACTION * values[0]:
        return CLASSES[0]
    return CLASSES[1]


@dataclass
class LRStudy:
    """The range test and the grid.

    Attributes
    ----------
    ramp : SweepResult
        The range-test run (one row).
    ramp_lrs : ndarray
        Its learning rate at every step.
    grid : SweepResult
        The 64 short runs.
    classes : list of str
        The class of each grid run, in its order.
    """

    ramp: SweepResult
    ramp_lrs: np.ndarray
    grid: SweepResult
    classes: list

    def smoothed(self) -> np.ndarray:
        """The range test's loss, bias-corrected exponential moving average (fast.ai style)."""
        curve = self.ramp.curves[0]
        curve = curve[~np.isnan(curve)]
        out = np.empty_like(curve)
        average = 0.0
        for t, value in enumerate(curve):
            average = SMOOTHING * average + (1 - SMOOTHING) * value
            out[t] = average / (1 - SMOOTHING ** (t + 1))
        return out

    def stop_step(self) -> int:
        """First step where the smoothed loss exceeds STOP_FACTOR x its running minimum."""
        smooth = self.smoothed()
        best = np.minimum.accumulate(smooth)
        over = np.nonzero(~(smooth <= STOP_FACTOR * best))[0]  # NaN counts as over
        return int(over[0]) if over.size else len(smooth) - 1

    def suggestion(self) -> float:
        """The rate where the smoothed loss fell fastest per log-step of lr, before the stop."""
        smooth = self.smoothed()[: self.stop_step() + 1]
        slope = np.gradient(np.log(smooth), np.log(self.ramp_lrs[: smooth.size]))
        return float(self.ramp_lrs[int(np.argmin(slope))])

    def good_band(self) -> tuple[float, float] | None:
        """Smallest and largest grid rate classed "good" (None if none is)."""
        lrs = np.array(self.grid["lr"], dtype=float)
        good = lrs[np.array(self.classes) == CLASSES[1]]
        return (float(good.min()), float(good.max())) if good.size else None


def lr_study(
    *,
    n_rates: int = 64,
    budget: int = 50,
    ramp_steps: int = 300,
    lr_min: float = 1e-5,
    lr_max: float = 10.0,
    seed: int = 0,
    n_samples: int = 1000,
    progress: bool | None = None,
) -> LRStudy:
    """Run the range test and the grid with SGD on the toy problem's linear model."""
    X, Y = linear(n=n_samples, seed=seed)
    model = MLP([2, 1], activation="identity")
    gamma = (lr_max / lr_min) ** (1.0 / ramp_steps)
    schedule = Exponential(lr_min, gamma=gamma)
    ramp = sweep(model, X, Y, optimizer="sgd", schedule=schedule, seed=seed, steps=ramp_steps,
                 diverge_above=1e12, progress=progress)  # fmt: skip
    ramp_lrs = schedule.values(ramp_steps + 1)
    lrs = [float(v) for v in np.geomspace(lr_min * 10, lr_max, n_rates)]
    grid = sweep(model, X, Y, optimizer="sgd", lr=lrs, seed=seed, steps=budget,
                 progress=progress)  # fmt: skip
    classes = [classify(c, d) for c, d in zip(grid.curves, grid["diverged"], strict=True)]
    return LRStudy(ramp, ramp_lrs, grid, classes)


COLORS = {CLASSES[0]: "#4c72b0", CLASSES[1]: "#55a868", CLASSES[2]: "#dd8452",
          CLASSES[3]: "#c44e52"}  # fmt: skip


def plot_regions(study: LRStudy):
    """Final loss of every grid rate, coloured by class, with the range test on top."""
    plt = pyplot()
    fig, (ax, ramp_ax) = plt.subplots(1, 2, figsize=(13, 4.2), layout="constrained")
    lrs = np.array(study.grid["lr"], dtype=float)
    final = np.array(study.grid["final_loss"], dtype=float)
    first = study.grid.curves[:, 0]
    shown = np.where(np.isfinite(final), final, np.nanmax(first) * 1e3)
    for name in CLASSES:
        mask = np.array(study.classes) == name
        if mask.any():
            ax.scatter(lrs[mask], shown[mask], color=COLORS[name], label=name, s=22)
            ax.axvspan(lrs[mask].min(), lrs[mask].max(), color=COLORS[name], alpha=0.08)
    ax.axvline(study.suggestion(), color="black", ls="--", lw=1, label="range-test suggestion")
    ax.set(xscale="log", yscale="log", xlabel="learning rate",
           ylabel=f"loss after {study.grid.curves.shape[1] - 1} steps")  # fmt: skip
    ax.legend(fontsize=8)
    ax.set_title("grid: 64 rates in parallel")
    smooth = study.smoothed()
    ramp_ax.plot(study.ramp_lrs[: smooth.size], smooth, color="black")
    ramp_ax.axvline(study.suggestion(), color="black", ls="--", lw=1)
    ramp_ax.axvline(study.ramp_lrs[study.stop_step()], color=COLORS[CLASSES[3]], lw=1)
    ramp_ax.set(xscale="log", yscale="log", xlabel="learning rate (grows every step)",
                ylabel="smoothed loss")  # fmt: skip
    ramp_ax.set_title("range test (red: stop, dashed: suggestion)")
    return fig


def plot_examples(study: LRStudy):
    """One example curve per class."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for name in CLASSES:
        rows = [i for i, c in enumerate(study.classes) if c == name]
        if not rows:
            continue
        i = rows[len(rows) // 2]
        curve = study.grid.curves[i]
        ax.plot(study.grid.steps + 1, curve, color=COLORS[name],
                label=f"{name}: lr {study.grid['lr'][i]:.3g}")  # fmt: skip
    ax.set(yscale="log", xlabel="step + 1", ylabel="loss", title="one run of each class")
    ax.legend(fontsize=8)
    return fig


def write(study: LRStudy, out: str | os.PathLike) -> dict[str, Path]:
    """Write regions.png, examples.png, grid.csv and report.md into ``out``."""
    out = Path(out)
    regions = save(plot_regions(study), out / "regions.png")
    examples = save(plot_examples(study), out / "examples.png")
    csv_path = write_csv(
        out / "grid.csv",
        ["lr", "final_loss", "diverged", "class"],
        ([row["lr"], row["final_loss"], row["diverged"], name]
         for row, name in zip(study.grid.rows(), study.classes, strict=True)),
    )  # fmt: skip
    band = study.good_band()
    counts = {name: study.classes.count(name) for name in CLASSES}
    suggestion = study.suggestion()
    inside = band is not None and band[0] <= suggestion <= band[1]
    lines = [
        "# Q2a/b: learning rates too low, good and too high",
        "",
        "SGD on d2l's synthetic linear regression (linear model, full batch).",
        "",
        "![regions](regions.png)",
        "",
        "![examples](examples.png)",
        "",
        f"- Grid: {len(study.classes)} rates, {study.grid.curves.shape[1] - 1} steps each: "
        + ", ".join(f"{counts[n]} {n}" for n in CLASSES)
        + ".",
        f"- Good band: {band[0]:.3g} to {band[1]:.3g}." if band else "- No rate was good.",
        f"- Range test: stopped at lr {study.ramp_lrs[study.stop_step()]:.3g} (smoothed loss "
        f"above {STOP_FACTOR:g}x its minimum); suggested lr {suggestion:.3g}, "
        + ("inside the good band." if inside else "outside the good band."),
        "- Too high: the loss jumps and oscillates around the optimum, or explodes (NaN or "
        "1e3x its start); too low: no divergence, but after the budget the loss is still above "
        f"{SLOW_FRACTION:.0%} of its start.",
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return {"regions": regions, "examples": examples, "csv": csv_path, "report": report}
