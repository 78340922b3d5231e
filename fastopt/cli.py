"""The ``fastopt`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _worked_example(args: argparse.Namespace) -> int:
    from fastopt.experiments import worked_example

    print(worked_example(lr=args.lr).report())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fastopt``, one sub-command per experiment."""
    parser = argparse.ArgumentParser(
        prog="fastopt", description="Fast neural-network optimizers on the CPU."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    worked = commands.add_parser(
        "worked-example",
        help="the assignment's hand-worked 2-2-2 ReLU network: forward, loss, gradients, one step",
        description="Print the assignment's 2-2-2 ReLU network worked through by fastopt.",
    )
    worked.add_argument(
        "--lr", type=float, default=0.1, help="learning rate of the single step (default 0.1)"
    )
    worked.set_defaults(run=_worked_example)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fastopt`` with ``argv`` (default: the process arguments); return the exit code."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
