"""The ``fastopt`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _worked_example(args: argparse.Namespace) -> int:
    from fastopt.experiments import worked_example

    print(worked_example(lr=args.lr).report())
    return 0


def _compare(args: argparse.Namespace) -> int:
    from fastopt.experiments import compare
    from fastopt.experiments.compare import write

    out = args.out or f"fastopt-out/compare-{args.problem}"
    kwargs = dict(seeds=1, n_samples=200) if args.quick else {}
    comparison = compare(problem=args.problem, seed=args.seed, progress=None, **kwargs)
    paths = write(comparison, out)
    print(comparison.table_markdown())
    print()
    for opt, text in comparison.findings().items():
        print(f"{opt}: {text}")
    print(f"\n{comparison.momentum_note()}")
    print(f"\nwrote {paths['report']}, {paths['figure']}, {paths['csv']}")
    return 0


def _batch(args: argparse.Namespace) -> int:
    from fastopt.experiments import batch_study
    from fastopt.experiments.batch import write

    kwargs = dict(seeds=1, n_samples=200, epochs=5) if args.quick else {}
    study = batch_study(seed=args.seed, **kwargs)
    paths = write(study, args.out or "fastopt-out/batch")
    for line in study.findings():
        print(line)
    print(f"\nwrote {paths['report']}, {paths['figure']}, {paths['csv']}")
    return 0


def _lr_range(args: argparse.Namespace) -> int:
    from fastopt.experiments import lr_study
    from fastopt.experiments.lr_range import write

    kwargs = QUICK_LR if args.quick else {}
    study = lr_study(seed=args.seed, **kwargs)
    paths = write(study, args.out or "fastopt-out/lr-range")
    print(paths["report"].read_text())
    print(f"wrote {paths['report']}, {paths['regions']}, {paths['examples']}, {paths['csv']}")
    return 0


def _saddle(args: argparse.Namespace) -> int:
    from fastopt.experiments import saddle_study
    from fastopt.experiments.saddle import write

    study = saddle_study(steps=200 if args.quick else 500, seed=args.seed)
    paths = write(study, args.out or "fastopt-out/saddle")
    print(paths["report"].read_text())
    print(f"wrote {paths['report']}, {paths['figure']}, {paths['csv']}")
    return 0


def _gc(args: argparse.Namespace) -> int:
    from fastopt.experiments import gc_study
    from fastopt.experiments.gc import write

    kwargs = dict(seeds=1, steps=60, n_samples=240) if args.quick else {}
    study = gc_study(seed=args.seed, **kwargs)
    paths = write(study, args.out or "fastopt-out/gc")
    print(paths["report"].read_text())
    print(
        f"wrote {paths['report']}, {paths['csv']}, {', '.join(map(str, paths['figures'].values()))}"
    )
    return 0


QUICK_LR = dict(n_rates=24, budget=30, ramp_steps=150, n_samples=200)
"""The --quick size of ``fastopt lr-range`` (tests use it too)."""


def _sweep(args: argparse.Namespace) -> int:
    from fastopt.config import ConfigError, load_config, status

    try:
        if args.status is not None:
            print(status(args.status))
            return 0
        if args.config is None:
            print("fastopt sweep: give CONFIG.toml (or --status DIR)", file=sys.stderr)
            return 2
        config = load_config(args.config)
        result = config.run(progress=False if args.quiet else None)
    except (ConfigError, ValueError, TypeError) as exc:
        print(f"fastopt sweep: {exc}", file=sys.stderr)
        return 2
    print(result.table(max_rows=args.top, sort_by="final_loss"))
    resumed = result.info["resumed_chunks"]
    print(f"\n{len(result)} runs in {result.info['seconds']:.1f} s "
          f"({resumed} of {result.info['n_chunks']} chunks from the store); "
          f"stored in {str(config.store)!r}")  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fastopt``, one sub-command per experiment."""
    parser = argparse.ArgumentParser(
        prog="fastopt", description="Fast neural-network optimizers on the CPU."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    comp = commands.add_parser(
        "compare",
        help="Q4: SGD, momentum, RMSprop, Adam x 4 learning rates on the toy problem; report",
        description="Reproduce the assignment's optimizer comparison (SEED.md Q4) and write "
        "curves.png, runs.csv and report.md.",
    )
    comp.add_argument(
        "--problem",
        choices=["linear", "mlp"],
        default="linear",
        help="linear model (default) or a 2-16-1 ReLU MLP on the same data",
    )
    comp.add_argument("--out", help="output folder (default fastopt-out/compare-PROBLEM)")
    comp.add_argument("--seed", type=int, default=0, help="first weight seed and data seed")
    comp.add_argument("--quick", action="store_true", help="one seed, 200 samples (for tests)")
    comp.set_defaults(run=_compare)
    batch = commands.add_parser(
        "batch",
        help="Q2d: full-batch vs mini-batch descent, loss against steps and epochs; report",
        description="Train the toy problem with the full batch and mini-batches for the same "
        "epochs; write curves.png, results.csv and report.md.",
    )
    batch.add_argument("--out", help="output folder (default fastopt-out/batch)")
    batch.add_argument("--seed", type=int, default=0, help="first weight seed and data seed")
    batch.add_argument("--quick", action="store_true", help="one seed, 200 samples, 5 epochs")
    batch.set_defaults(run=_batch)
    lr_range = commands.add_parser(
        "lr-range",
        help="Q2a/b: learning rates too low, good, too high: range test and a 64-rate grid",
        description="Run the learning-rate range test and a grid of 64 rates with SGD on the "
        "toy problem; write regions.png, examples.png, grid.csv and report.md.",
    )
    lr_range.add_argument("--out", help="output folder (default fastopt-out/lr-range)")
    lr_range.add_argument("--seed", type=int, default=0, help="weight seed and data seed")
    lr_range.add_argument("--quick", action="store_true", help="24 rates, 200 samples")
    lr_range.set_defaults(run=_lr_range)
    saddle = commands.add_parser(
        "saddle",
        help="Q2c: SGD, momentum, RMSprop, Adam leaving three saddles, with and without noise",
        description="Trajectories of four optimizers near x^2 - y^2, the monkey saddle and x^3; "
        "write trajectories.png, escape.csv and report.md.",
    )
    saddle.add_argument("--out", help="output folder (default fastopt-out/saddle)")
    saddle.add_argument("--seed", type=int, default=0, help="seed of the gradient noise")
    saddle.add_argument("--quick", action="store_true", help="at most 200 steps")
    saddle.set_defaults(run=_saddle)
    gc = commands.add_parser(
        "gc",
        help="Q1: each optimizer with gradient centralization off, on the gradient, on the update",
        description="Train a classifier on spirals (and digits with scikit-learn) with GC off, "
        "'grad' and 'update'; write curves-*.png, runs.csv and report.md.",
    )
    gc.add_argument("--out", help="output folder (default fastopt-out/gc)")
    gc.add_argument("--seed", type=int, default=0, help="first weight seed and data seed")
    gc.add_argument("--quick", action="store_true", help="one seed, 60 steps, 240 samples")
    gc.set_defaults(run=_gc)
    worked = commands.add_parser(
        "worked-example",
        help="the assignment's hand-worked 2-2-2 ReLU network: forward, loss, gradients, one step",
        description="Print the assignment's 2-2-2 ReLU network worked through by fastopt.",
    )
    worked.add_argument(
        "--lr", type=float, default=0.1, help="learning rate of the single step (default 0.1)"
    )
    worked.set_defaults(run=_worked_example)
    grid = commands.add_parser(
        "sweep",
        help="run (or resume) a grid described in a TOML file; --status DIR reports a store",
        description="Run a hyperparameter grid from a TOML file (see fastopt.config), storing "
        "each finished chunk so that a killed run resumes where it stopped.",
    )
    grid.add_argument("config", nargs="?", help="the grid's TOML file")
    grid.add_argument("--status", metavar="DIR", help="report the progress of a stored grid")
    grid.add_argument("--top", type=int, default=10, help="rows of the table printed at the end")
    grid.add_argument("--quiet", action="store_true", help="no progress bar")
    grid.set_defaults(run=_sweep)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fastopt`` with ``argv`` (default: the process arguments); return the exit code."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
