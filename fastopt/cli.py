"""The ``fastopt`` command line.

A user's mistake (a bad flag, an output folder that cannot be written, a configuration or data
file that cannot be used) ends in exit status 2 and one line on stderr that names the flag, key
or path, before any work starts; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


class UsageError(Exception):
    """A mistake in the command line or in a file it names: one line on stderr, exit 2.

    Parameters
    ----------
    message : str
        What is wrong, naming the flag, key or path.
    prog : str, optional
        The command to name (``"fastopt compare"``); by default :func:`main` names the one
        that ran.
    """

    def __init__(self, message: str, prog: str | None = None):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors raised as :class:`UsageError` (printed by ``main``).

    argparse's own ``error`` prints the whole usage text and raises SystemExit: several lines,
    and a caller of :func:`main` gets an exception instead of the exit status.
    """

    def error(self, message: str):
        message = message.removeprefix("argument ")
        raise UsageError(f"{message} (see {self.prog} --help)", prog=self.prog)


def _integer(minimum: int):
    """An argparse ``type``: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _learning_rate(text: str) -> float:
    """An argparse ``type``: a finite float > 0 (``float`` alone takes nan, inf and -1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}")
    return value


class _OptimizerNames(argparse.Action):
    """``--optimizers NAME [NAME ...]``: names ``fastopt.sweep`` accepts, each once.

    Checked as the command line is parsed (by the study's own check, against
    ``fastopt.plan.OPTIMIZER_NAMES`` as it is then), so a bad name fails before any work.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        from fastopt.experiments.compare import check_optimizers

        try:
            names = check_optimizers(values, argument=option_string or self.dest)
        except (TypeError, ValueError) as exc:
            parser.error(str(exc))
        setattr(namespace, self.dest, names)


def _folder_name(text: str) -> str:
    """An argparse ``type``: a non-empty path (an empty one would silently mean the default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a folder name, got {text!r}")
    return text


def _writable_folder(path: str | Path, name: str) -> Path:
    """Create ``path`` if needed and write a file in it, or raise UsageError naming ``name``.

    Called before any work: a study that cannot be saved must fail in a second, not after it
    has run. Writing a file is the only honest test (``os.access`` says yes to root on a
    read-only mount).
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{name} {str(path)!r} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)  # the path is named already
        raise UsageError(f"{name} {str(path)!r}: cannot write there ({reason})") from None
    return folder


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename!r}" if exc.filename else exc.strerror
    return str(exc)


@contextmanager
def _user_input(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the exceptions ``kinds`` raised by a library call on user input into UsageError.

    Only around calls whose arguments come straight from the user (a configuration, a path):
    there fastopt's ``ValueError``/``TypeError`` name the bad argument (its documented
    contract), and an ``OSError`` names the path. The same exception from anywhere else is a
    bug and keeps its traceback.
    """
    try:
        yield
    except kinds as exc:
        raise UsageError(_reason(exc)) from exc


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
        "Q4: SGD, momentum, RMSprop, Adam (or --optimizers) x 4 learning rates on the toy "
        "problem; report",
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

GC_CNN = Experiment(
    "gc_cnn", "cnn_study",
    "Q1 in PyTorch: a conv net with BatchNorm, SGD-momentum and Adam, GC off / grad / update",
    dict(seeds=1, epochs=1, n_samples=300),
)  # fmt: skip
"""``fastopt gc --problem cnn``: its own study (needs torch), with the flags of ``gc``."""


def _gc_spec(args: argparse.Namespace) -> tuple[Experiment, dict]:
    """``fastopt gc``'s study for ``--problem``, and the keyword arguments of its flags."""
    kwargs = {} if args.seeds is None else {"seeds": args.seeds}
    if args.problem == "mlp":
        if args.epochs is not None:
            raise UsageError("--epochs applies to --problem cnn only")
        return EXPERIMENTS["gc"], kwargs
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UsageError(
            '--problem cnn needs torch: pip install -e ".[torch]" (or pip install torch)'
        ) from None
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    return GC_CNN, kwargs


def _experiment(args: argparse.Namespace) -> int:
    """Run one experiment, write its figures, CSV and report, and print the report."""
    spec = EXPERIMENTS[args.command]
    flags = {}
    name = args.command
    if name == "gc":
        spec, flags = _gc_spec(args)
        name = "gc" if args.problem == "mlp" else f"gc-{args.problem}"
    kwargs = dict(spec.quick) if args.quick else {}
    kwargs.update(flags)  # explicit sizes win over --quick's
    if name == "compare":
        kwargs["problem"] = args.problem
        if args.optimizers is not None:
            kwargs["optimizers"] = args.optimizers
        name = f"compare-{args.problem}"
    out = _writable_folder(args.out or f"fastopt-out/{name}",
                           "--out" if args.out else "output folder (set with --out)")  # fmt: skip
    module = importlib.import_module(f"fastopt.experiments.{spec.module}")
    study = getattr(module, spec.study)(seed=args.seed, **kwargs)
    paths = module.write(study, out)
    print(paths["report"].read_text())
    print(f"wrote {paths['report'].parent}/")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    """Run (or resume) the grid of a TOML file, or report a store's progress."""
    from fastopt.config import load_config, status

    if args.status is not None:
        if args.config is not None:
            raise UsageError("give CONFIG.toml or --status DIR, not both")
        with _user_input(ValueError, OSError):  # a file, a missing folder, a bad manifest
            text = status(args.status)
        print(text)
        return 0
    if args.config is None:
        raise UsageError("give CONFIG.toml (or --status DIR)")
    with _user_input(ValueError, OSError):  # ConfigError is a ValueError naming the key
        config = load_config(args.config)
    _writable_folder(config.store, "run.store")
    # sweep() validates every argument before it trains or allocates anything; its
    # ValueError/TypeError name the key (lr, steps, ...), and a grid too large for this
    # machine is a ValueError (the memory check) or, past it, a MemoryError.
    with _user_input(ValueError, TypeError, MemoryError):
        result = config.run(progress=False if args.quiet else None)
    print(result.table(max_rows=args.top, sort_by="final_loss"))
    resumed = result.info["resumed_chunks"]
    print(f"\n{len(result)} runs in {result.info['seconds']:.1f} s "
          f"({resumed} of {result.info['n_chunks']} chunks from the store); "
          f"stored in {str(config.store)!r}")  # fmt: skip
    return 0


def _checkout():
    """The folder holding the ``fastopt`` package: a source checkout for an editable install."""
    return Path(__file__).resolve().parent.parent


def _bench(args: argparse.Namespace) -> int:
    """Run the checkout's benchmark report (``python -m bench.report``) in a new process."""
    import os
    import subprocess

    checkout = _checkout()
    if not (checkout / "bench" / "report.py").is_file():
        raise UsageError(
            "the benchmarks live in the source checkout (bench/ is not installed with the "
            f"package) and none was found beside {checkout / 'fastopt'}. Clone the repository, "
            "`pip install -e .` there, then run `fastopt bench`."
        )
    if args.out:
        _writable_folder(args.out, "--out")
    forwarded = (["--quick"] if args.quick else []) + (
        ["--out", os.path.abspath(args.out)] if args.out else []
    )
    env = dict(os.environ, FASTOPT_BENCH_COMMAND=" ".join(["fastopt bench", *forwarded]))
    return subprocess.call([sys.executable, "-m", "bench.report", *forwarded], cwd=checkout,
                           env=env)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fastopt``, one sub-command per experiment."""
    parser = _Parser(prog="fastopt", description="Fast neural-network optimizers on the CPU.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, spec in EXPERIMENTS.items():
        command = commands.add_parser(name, help=spec.help, description=spec.help + ".")
        default_out = {"compare": "compare-PROBLEM", "gc": "gc (gc-cnn with --problem cnn)"}
        command.add_argument("--out", type=_folder_name,
                             help=f"output folder (default fastopt-out/"
                             f"{default_out.get(name, name)})")  # fmt: skip
        command.add_argument("--seed", type=_integer(0), default=0,
                             help="first seed (weights, data), >= 0")  # fmt: skip
        command.add_argument("--quick", action="store_true", help="a small size, for tests")
        if name == "compare":
            command.add_argument(
                "--problem",
                choices=["linear", "mlp"],
                default="linear",
                help="linear model (default) or a 2-16-1 ReLU MLP on the same data",
            )
            command.add_argument(
                "--optimizers",
                nargs="+",
                metavar="NAME",
                action=_OptimizerNames,
                help="the optimizers to compare, in this order: any name fastopt.sweep takes "
                "(adamw, adagrad, ...; an unknown one is refused with the list); default sgd "
                "momentum rmsprop adam, the assignment's four. A name given twice is refused.",
            )
        if name == "gc":
            command.add_argument(
                "--problem",
                choices=["mlp", "cnn"],
                default="mlp",
                help="MLPs on spirals and digits (default), or a conv net with BatchNorm in "
                'PyTorch (needs torch: pip install -e ".[torch]")',
            )
            command.add_argument(
                "--seeds",
                type=_integer(1),
                help="seeds per optimizer and GC mode (default 3; 5 with --problem cnn)",
            )
            command.add_argument(
                "--epochs",
                type=_integer(1),
                help="--problem cnn only: passes over the training set (default 10)",
            )
        command.set_defaults(run=_experiment)
    worked = commands.add_parser(
        "worked-example",
        help="the assignment's hand-worked 2-2-2 ReLU network: forward, loss, gradients, one step",
        description="Print the assignment's 2-2-2 ReLU network worked through by fastopt.",
    )
    worked.add_argument(
        "--lr",
        type=_learning_rate,
        default=0.1,
        help="learning rate of the single step, > 0 (default 0.1)",
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
    grid.add_argument(
        "--top", type=_integer(1), default=10, help="rows of the table printed at the end"
    )
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
        help="grids of fewer steps (about 5 min), written to bench-out/",
    )
    bench.add_argument(
        "--out",
        type=_folder_name,
        help="folder for BENCHMARKS.md and .png (default: the checkout, bench-out/ with --quick)",
    )
    bench.set_defaults(run=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fastopt`` with ``argv`` (default: the process arguments); return the exit code.

    A :class:`UsageError` (a bad flag, path, configuration or data file) is printed as one
    line, ``fastopt COMMAND: what is wrong``, and returns 2.
    """
    parser = build_parser()
    command = None
    try:
        args = parser.parse_args(argv)
        command = args.command
        return args.run(args)
    except UsageError as exc:
        prog = exc.prog or f"{parser.prog} {command}"
        # One line even when a library message spans several (numpy's often do).
        print(f"{prog}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
