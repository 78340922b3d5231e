"""The ``fastopt`` command line."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field


def _worked_example(args: argparse.Namespace) -> int:
    from fastopt.experiments import worked_example

    print(worked_example(lr=args.lr).report())
    return 0


@dataclass(frozen=True)
class Experiment:
    """One of the assignment's questions as a command: a study function and its writer."""

    module: str
    study: str
    help: str
    quick: dict = field(default_factory=dict)
    """Keyword arguments of the --quick size (tests use them too)."""


EXPERIMENTS = {
    "compare": Experiment(
        "compare", "compare",
        "Q4: SGD, momentum, RMSprop, Adam x 4 learning rates on the toy problem; report",
        dict(seeds=1, n_samples=200),
    ),
    "gc": Experiment(
        "gc", "gc_study",
        "Q1: each optimizer with gradient centralization off, on the gradient, on the update",
        dict(seeds=1, steps=60, n_samples=240),
    ),
    "lr-range": Experiment(
        "lr_range", "lr_study",
        "Q2a/b: learning rates too low, good, too high: range test and a 64-rate grid",
        dict(n_rates=24, budget=30, ramp_steps=150, n_samples=200),
    ),
    "saddle": Experiment(
        "saddle", "saddle_study",
        "Q2c: SGD, momentum, RMSprop, Adam leaving three saddles, with and without noise",
        dict(steps=200),
    ),
    "batch": Experiment(
        "batch", "batch_study",
        "Q2d: full-batch vs mini-batch descent, loss against steps and epochs; report",
        dict(seeds=1, n_samples=200, epochs=5),
    ),
}  # fmt: skip


def _experiment(args: argparse.Namespace) -> int:
    """Run one experiment, write its figures, CSV and report, and print the report."""
    spec = EXPERIMENTS[args.command]
    module = importlib.import_module(f"fastopt.experiments.{spec.module}")
    kwargs = dict(spec.quick) if args.quick else {}
    name = args.command
    if name == "compare":
        kwargs["problem"] = args.problem
        name = f"compare-{args.problem}"
    study = getattr(module, spec.study)(seed=args.seed, **kwargs)
    paths = module.write(study, args.out or f"fastopt-out/{name}")
    print(paths["report"].read_text())
    print(f"wrote {paths['report'].parent}/")
    return 0


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


def _checkout():
    """The folder holding the ``fastopt`` package: a source checkout for an editable install."""
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def _bench(args: argparse.Namespace) -> int:
    """Run the checkout's benchmark report (``python -m bench.report``) in a new process."""
    import os
    import subprocess

    checkout = _checkout()
    if not (checkout / "bench" / "report.py").is_file():
        print(
            "fastopt bench: the benchmarks live in the source checkout (bench/ is not "
            f"installed with the package) and none was found beside {checkout / 'fastopt'}. "
            "Clone the repository, `pip install -e .` there, then run `fastopt bench`.",
            file=sys.stderr,
        )
        return 2
    forwarded = (["--quick"] if args.quick else []) + (
        ["--out", os.path.abspath(args.out)] if args.out else []
    )
    env = dict(os.environ, FASTOPT_BENCH_COMMAND=" ".join(["fastopt bench", *forwarded]))
    return subprocess.call([sys.executable, "-m", "bench.report", *forwarded], cwd=checkout,
                           env=env)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fastopt``, one sub-command per experiment."""
    parser = argparse.ArgumentParser(
        prog="fastopt", description="Fast neural-network optimizers on the CPU."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, spec in EXPERIMENTS.items():
        command = commands.add_parser(name, help=spec.help, description=spec.help + ".")
        command.add_argument("--out", help=f"output folder (default fastopt-out/{name})")
        command.add_argument("--seed", type=int, default=0, help="first seed (weights, data)")
        command.add_argument("--quick", action="store_true", help="a small size, for tests")
        if name == "compare":
            command.add_argument(
                "--problem",
                choices=["linear", "mlp"],
                default="linear",
                help="linear model (default) or a 2-16-1 ReLU MLP on the same data",
            )
        command.set_defaults(run=_experiment)
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
    bench = commands.add_parser(
        "bench",
        help="measure everything against the reference, the peers and the machine; "
        "write BENCHMARKS.md",
        description="Run the benchmark report of the source checkout (python -m bench.report): "
        "machine limits, MLP, grid engine, scale, optimizer steps and the peers (torch, JAX, "
        "scikit-learn when installed), written to BENCHMARKS.md and BENCHMARKS.png.",
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="grids of fewer steps (about 2 min), written to bench-out/",
    )
    bench.add_argument("--out", help="folder for BENCHMARKS.md and .png (default: the checkout, "
                       "bench-out/ with --quick)")  # fmt: skip
    bench.set_defaults(run=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fastopt`` with ``argv`` (default: the process arguments); return the exit code."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
