"""The assignment's optimizer comparison (SEED.md, Q4), reproduced on ``fastopt.sweep``.

SGD, momentum, RMSprop and Adam, each at learning rates 0.001, 0.01, 0.1 and 1, train on the
toy problem until the loss is below 0.1 (or a step cap), over several seeds. The original
notebook and data are lost; the stand-in is d2l's synthetic linear regression (1000 samples,
``y = 2 x1 - 3.4 x2 + 4.2 + noise``, MSE), learned by a linear model (``problem="linear"``) or
a small ReLU MLP (``problem="mlp"``). Training is full batch, so a run is reproducible exactly.

``optimizers=`` (``fastopt compare --optimizers``) puts any optimizer ``fastopt.sweep`` accepts
in place of the assignment's four, on the same learning-rate grid.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastopt import plan
from fastopt.data import linear
from fastopt.mlp import MLP
from fastopt.plot import pyplot, save, write_csv
from fastopt.results import SweepResult
from fastopt.sweep import sweep

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
"""The assignment's optimizers: the default of ``optimizers=``."""
LEARNING_RATES = (0.001, 0.01, 0.1, 1.0)
TARGET = 0.1
Y_CAP = 30.0

#: What the assignment reports per optimizer (SEED.md, Q4), to set beside the measurements.
ASSIGNMENT = {
    "sgd": "0.001 good but slow (~1000 steps); 0.01 smooth, ~150 steps; 0.1 first blows up, then "
    "reaches the target in ~20 steps; 1 diverges",
    "momentum": "about the same at all four rates, staircase-like, done by ~step 17",
    "rmsprop": "0.001 ~800 steps; 0.01 ~110 (best); 0.1 fast start, slow tail; 1 diverges first, "
    "then reaches the target in ~65 steps",
    "adam": "converges at all four rates; the larger the rate, the faster",
}

#: How the report's title names the assignment's optimizers; any other keeps its sweep name.
TITLE_NAMES = {"sgd": "SGD", "momentum": "momentum", "rmsprop": "RMSprop", "adam": "Adam"}

PANELS_PER_ROW = 4
"""Columns of the figure's grid of panels (one panel per optimizer)."""


def check_optimizers(
    optimizers: str | Sequence[str], argument: str = "optimizers"
) -> tuple[str, ...]:
    """The optimizer names of a comparison, checked against ``fastopt.plan.OPTIMIZER_NAMES``.

    Parameters
    ----------
    optimizers : str or sequence of str
        Names ``fastopt.sweep`` accepts (one name alone is a list of one), at least one, each
        once: a duplicate is refused (it would train and count its runs twice).
    argument : str
        The argument to name in errors (``"--optimizers"`` on the command line).

    Returns
    -------
    tuple of str
        The names, in the order given.

    Raises
    ------
    TypeError
        Not a name or a sequence of names.
    ValueError
        No name, an unknown name (the message lists the known ones) or a name given twice.
    """
    if isinstance(optimizers, str):
        optimizers = [optimizers]
    if not isinstance(optimizers, Sequence):
        raise TypeError(f"{argument}: expected a list of optimizer names, got {optimizers!r}")
    names = tuple(optimizers)
    if not names:
        raise ValueError(f"{argument}: give at least one optimizer name")
    known = plan.OPTIMIZER_NAMES  # read now: new optimizers register there
    seen = set()
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{argument}: expected optimizer names (str), got {name!r}")
        if name not in known:
            raise ValueError(f"{argument}: unknown optimizer {name!r}; known: "
                             f"{', '.join(sorted(known))}")  # fmt: skip
        if name in seen:
            raise ValueError(f"{argument}: {name!r} is given twice")
        seen.add(name)
    return names


def model_for(problem: str) -> MLP:
    """The network of a problem: ``"linear"`` (2 -> 1) or ``"mlp"`` (2 -> 16 -> 1, ReLU)."""
    if problem == "linear":
        return MLP([2, 1], activation="identity")
    if problem == "mlp":
        return MLP([2, 16, 1], activation="relu")
    raise ValueError(f"problem must be 'linear' or 'mlp', got {problem!r}")


@dataclass
class Comparison:
    """The runs of the comparison and their summary.

    Attributes
    ----------
    result : SweepResult
        Every run (optimizer x lr x seed) with its curve.
    problem : str
    seeds : list of int
    max_steps : int
    optimizers : tuple of str
        The optimizers compared, in order (by default those of ``result``, in its order).
    """

    result: SweepResult
    problem: str
    seeds: list[int]
    max_steps: int
    optimizers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.optimizers is None:
            self.optimizers = tuple(dict.fromkeys(self.result["optimizer"].tolist()))
        else:
            self.optimizers = tuple(self.optimizers)

    @property
    def lrs(self) -> list[float]:
        """The learning rates of the runs, ascending."""
        return sorted(set(self.result["lr"].tolist()))

    def cell(self, optimizer: str, lr: float) -> dict:
        """Summary of one optimizer at one rate over the seeds.

        Returns a dict: ``reached`` (seeds that reached the target), ``diverged`` (seeds that
        diverged), ``steps`` (median steps to target over the seeds that reached it, or None),
        ``first_loss_jump`` (whether the loss rose above its start before reaching the target).
        """
        runs = self.result.select(optimizer=optimizer, lr=lr)
        reached = runs["steps_to_target"] >= 0
        steps = runs["steps_to_target"][reached]
        curves = runs.curves
        jumped = [
            bool(np.nanmax(c[: max(1, int(s))]) > c[0]) if s >= 0 else False
            for c, s in zip(curves, runs["steps_to_target"], strict=True)
        ]
        return {
            "reached": int(reached.sum()),
            "diverged": int(runs["diverged"].sum()),
            "runs": len(runs),
            "steps": int(np.median(steps)) if steps.size else None,
            "first_loss_jump": any(jumped),
        }

    def label(self, optimizer: str, lr: float) -> str:
        """The table's text for one cell: steps, "diverged" or "not reached" (with counts)."""
        c = self.cell(optimizer, lr)
        if c["reached"] == c["runs"]:
            return str(c["steps"])
        if c["diverged"] == c["runs"]:
            return "diverged"
        if c["reached"] == 0 and c["diverged"] == 0:
            return "not reached"
        parts = []
        if c["reached"]:
            parts.append(f"{c['steps']} ({c['reached']}/{c['runs']})")
        if c["diverged"]:
            parts.append(f"diverged {c['diverged']}/{c['runs']}")
        rest = c["runs"] - c["reached"] - c["diverged"]
        if rest:
            parts.append(f"not reached {rest}/{c['runs']}")
        return ", ".join(parts)

    def table_markdown(self) -> str:
        """Steps to the target per optimizer (rows) and learning rate (columns)."""
        lrs = self.lrs
        lines = ["| optimizer | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |"]
        lines.append("|---" * (len(lrs) + 1) + "|")
        for opt in self.optimizers:
            lines.append(f"| {opt} | " + " | ".join(self.label(opt, lr) for lr in lrs) + " |")
        return "\n".join(lines)

    def findings(self) -> dict[str, str]:
        """One sentence per optimizer: what was measured, beside what the assignment says."""
        lrs = self.lrs
        out = {}
        for opt in self.optimizers:
            parts = []
            for lr in lrs:
                c = self.cell(opt, lr)
                text = self.label(opt, lr)
                if text.isdigit():
                    text = f"{text} steps"
                if c["first_loss_jump"] and c["reached"]:
                    text += " (loss rose first)"
                parts.append(f"lr {lr:g}: {text}")
            out[opt] = "; ".join(parts)
        return out

    def momentum_note(self) -> str:
        """Whether momentum is insensitive to the rate here, and why (the assignment's claim).

        Empty when momentum is not among the optimizers compared.
        """
        if "momentum" not in self.optimizers:
            return ""
        lrs = self.lrs
        cells = {lr: self.cell("momentum", lr) for lr in lrs}
        reached = {lr: c["steps"] for lr, c in cells.items() if c["reached"] == c["runs"]}
        if not reached:
            return "Momentum reached the target at no learning rate here."
        fastest = min(reached.values())
        alike = [lr for lr, steps in reached.items() if steps <= 2 * fastest]
        slowest_alike = max(reached[lr] for lr in alike)
        text = (f"Momentum reached the target in {fastest}-{slowest_alike} steps at lr "
                f"{', '.join(f'{lr:g}' for lr in alike)}")  # fmt: skip
        others = [f"lr {lr:g}: {self.label('momentum', lr)}" for lr in lrs if lr not in alike]
        if others:
            text += f", but not at the others ({'; '.join(others)})"
        return text + (
            ". The insensitivity is real physics, not only a bug: with momentum 0.9, once lr "
            "times the curvature is past (1 - sqrt(0.9))^2, the iterates circle the optimum and "
            "shrink by sqrt(0.9) = 0.95 per step whatever lr is (the heavy-ball rate), and the "
            "target is met at the first dip below it: a staircase. Plain SGD speeds up with lr "
            "until it diverges at lr x curvature > 2; heavy ball stays stable up to 2 x 1.9."
        )


def compare(
    *,
    problem: str = "linear",
    seeds: int = 3,
    seed: int = 0,
    max_steps: int = 10000,
    n_samples: int = 1000,
    optimizers: str | Sequence[str] = OPTIMIZERS,
    progress: bool | None = None,
) -> Comparison:
    """Run the comparison.

    Parameters
    ----------
    problem : {"linear", "mlp"}
        The model trained on d2l's synthetic linear-regression data.
    seeds : int
        Weight initializations per optimizer x rate (seeds ``seed .. seed + seeds - 1``).
    seed : int
        First weight seed; the data set uses it too.
    max_steps : int
        Step cap for runs that neither reach the target nor diverge.
    n_samples : int
        Size of the data set (1000 as in d2l).
    optimizers : str or sequence of str
        The optimizers to compare, by their ``fastopt.sweep`` names
        (``fastopt.plan.OPTIMIZER_NAMES``), in the order the table and figure show them;
        default the assignment's four. Each trains at the same four learning rates, so one
        whose useful rates lie elsewhere (``lion``'s default is 1e-4) shows as slow or
        diverged there. A duplicate is refused.
    progress : bool, optional
        Progress bar (default: on a terminal).
    """
    optimizers = check_optimizers(optimizers)
    model = model_for(problem)
    X, Y = linear(n=n_samples, seed=seed)
    result = sweep(
        model, X, Y, optimizer=list(optimizers), lr=list(LEARNING_RATES),
        seed=list(range(seed, seed + seeds)), steps=max_steps, stop_below=TARGET,
        progress=progress,
    )  # fmt: skip
    return Comparison(result, problem, list(range(seed, seed + seeds)), max_steps, optimizers)


def plot_curves(comparison: Comparison):
    """One panel per optimizer, a curve per learning rate (first seed), y capped at 30.

    The panels fill rows of up to four, in the comparison's order.
    """
    plt = pyplot()
    n = len(comparison.optimizers)
    ncols = min(n, PANELS_PER_ROW)
    nrows = math.ceil(n / PANELS_PER_ROW)
    # Four panels: 16 x 4 inches, as always; at least 8 wide, for the title.
    fig, grid = plt.subplots(nrows, ncols, figsize=(max(4 * ncols, 8), 4 * nrows), sharey=True,
                             squeeze=False, layout="constrained")  # fmt: skip
    axes = grid.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    first = comparison.seeds[0]
    lrs = comparison.lrs
    steps = comparison.result.steps
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(lrs)))
    for ax, opt in zip(axes, comparison.optimizers, strict=False):
        for color, lr in zip(colors, lrs, strict=True):
            runs = comparison.result.select(optimizer=opt, lr=lr, seed=first)
            curve = runs.curves[0]
            keep = ~np.isnan(curve)
            label = f"lr {lr:g}: {comparison.label(opt, lr)}"
            if not keep.any():  # no finite record at all: only the legend can say so
                ax.plot([], [], color=color, label=label, lw=1.6)
                continue
            shown = np.minimum(curve[keep], Y_CAP * 1.5)  # draw diverging runs off the top
            ax.plot(steps[keep] + 1, shown, color=color, label=label, lw=1.6)
            if runs["diverged"][0]:
                ax.plot(steps[keep][-1] + 1, min(shown[-1], Y_CAP * 0.98), "x", color=color,
                        ms=9, mew=2)  # fmt: skip
        ax.axhline(TARGET, color="grey", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_ylim(0, Y_CAP)
        ax.set_title(opt)
        ax.set_xlabel("step + 1")
        ax.legend(fontsize=7, loc="upper right")
    for row in grid:
        row[0].set_ylabel("training loss (MSE), capped at 30")
    fig.suptitle(f"Q4: optimizers x learning rates, {comparison.problem} problem "
                 f"(target {TARGET}, x = diverged)")  # fmt: skip
    return fig


def _title(optimizers: Sequence[str]) -> str:
    """The optimizers as the report's title names them: "SGD, momentum, RMSprop and Adam"."""
    names = [TITLE_NAMES.get(opt, opt) for opt in optimizers]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def write(comparison: Comparison, out: str | os.PathLike) -> dict[str, Path]:
    """Write the figure, the CSV of every run and ``report.md`` into ``out``."""
    out = Path(out)
    figure = save(plot_curves(comparison), out / "curves.png")
    columns = ["optimizer", "lr", "seed", "steps_to_target", "diverged", "diverged_at",
               "final_loss", "best_loss", "steps_done"]  # fmt: skip
    rows = ([row[c] for c in columns] for row in comparison.result.rows())
    csv_path = write_csv(out / "runs.csv", columns, rows)
    findings = comparison.findings()
    r = comparison.result
    lines = [
        f"# Q4: {_title(comparison.optimizers)} across learning rates ({comparison.problem})",
        "",
        f"d2l's synthetic linear regression (y = 2 x1 - 3.4 x2 + 4.2 + noise, MSE), full batch, "
        f"{len(comparison.seeds)} weight seeds, target loss {TARGET}, at most "
        f"{comparison.max_steps} steps; {len(r)} runs in {r.info['seconds']:.1f} s.",
        "",
        "![loss curves](curves.png)",
        "",
        "## Steps to the target (median over seeds)",
        "",
        comparison.table_markdown(),
        "",
        "## The assignment's observations against these runs",
        "",
    ]
    for opt in comparison.optimizers:
        if opt in ASSIGNMENT:
            lines.append(f"- **{opt}**: the assignment saw *{ASSIGNMENT[opt]}*. Measured: "
                         f"{findings[opt]}.")  # fmt: skip
        else:
            lines.append(f"- **{opt}** (not in the assignment). Measured: {findings[opt]}.")
    if any(opt not in ASSIGNMENT for opt in comparison.optimizers):
        lines += ["", "Every optimizer trains at the assignment's four learning rates: one "
                  "whose useful rates lie elsewhere, or whose lr means something else (a first "
                  "step size, a multiplier of an adaptive step), shows that here as slow, "
                  "diverged or not-reached runs."]  # fmt: skip
    centralized = [opt for opt in comparison.optimizers
                   if plan.OPTIMIZER_NAMES[opt][0].spec.gc is not None]  # fmt: skip
    if centralized:
        lines += ["", f"{', '.join(centralized)} centralize{'s' if len(centralized) == 1 else ''}"
                  " gradients by default (gc=\"grad\"). GC gives each row of a weight matrix "
                  "zero-mean steps, so a layer with a single output (as here) keeps the sum of "
                  "its weights where initialization put it: the target is out of reach unless "
                  "that sum is already right. This is a property of GC, not of the optimizer: "
                  "`fastopt.sweep(..., gc=None)` runs the same optimizer without it."]  # fmt: skip
    note = comparison.momentum_note()
    lines += ["", note] if note else []
    lines += ["", "Every run is in `runs.csv`."]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return {"figure": figure, "csv": csv_path, "report": report}
