"""The command line's contract: a user's mistake is exit status 2 and one line that names it,
found before any work starts; never a traceback."""

import importlib
import os
import subprocess
import sys

import pytest

from fastopt.cli import EXPERIMENTS, UsageError, build_parser, main
from tests.cli_helpers import one_line_error

FLAGS = [
    (["compare", "--seed", "-1"], "fastopt compare: --seed: must be >= 0, got -1"),
    (["batch", "--seed", "two"], "fastopt batch: --seed: expected an integer, got 'two'"),
    (["worked-example", "--lr", "nan"], "fastopt worked-example: --lr: must be finite and > 0"),
    (["worked-example", "--lr", "inf"], "--lr: must be finite and > 0, got inf"),
    (["worked-example", "--lr", "1e400"], "--lr: must be finite and > 0, got 1e400"),
    (["worked-example", "--lr", "0"], "--lr: must be finite and > 0, got 0"),
    (["worked-example", "--lr", "-1"], "--lr: must be finite and > 0, got -1"),
    (["worked-example", "--lr", "fast"], "--lr: expected a number, got 'fast'"),
    (["sweep", "--top", "0"], "fastopt sweep: --top: must be >= 1, got 0"),
    ([], "fastopt: the following arguments are required: COMMAND"),
    (["no-such-command"], "fastopt: COMMAND: invalid choice: 'no-such-command'"),
    (["compare", "--problem", "cnn"], "fastopt compare: --problem: invalid choice: 'cnn'"),
    (
        ["compare", "--optimizers", "adam", "adamx"],
        "fastopt compare: --optimizers: unknown optimizer 'adamx'; known: ",
    ),
    (
        ["compare", "--optimizers", "adam", "sgd", "adam"],
        "fastopt compare: --optimizers: 'adam' is given twice",
    ),
    (["compare", "--optimizers"], "fastopt compare: --optimizers: expected at least one argument"),
    (["saddle", "--bogus"], "unrecognized arguments: --bogus"),
    (["saddle", "--out", ""], "fastopt saddle: --out: expected a folder name, got ''"),
    (["bench", "--out", " "], "fastopt bench: --out: expected a folder name, got ' '"),
    (["sweep"], "fastopt sweep: give CONFIG.toml (or --status DIR)"),
    (["sweep", "grid.toml", "--status", "runs"], "give CONFIG.toml or --status DIR, not both"),
]


@pytest.mark.parametrize("argv, message", FLAGS)
def test_bad_flags_are_one_line_and_exit_2(capsys, argv, message):
    assert message in one_line_error(capsys, argv)


def _must_not_run(*args, **kwargs):
    raise AssertionError("the study ran although its output folder cannot be written")


@pytest.fixture
def no_study(monkeypatch):
    """Every experiment's study replaced by one that fails the test if it is called."""
    for spec in EXPERIMENTS.values():
        module = importlib.import_module(f"fastopt.experiments.{spec.module}")
        monkeypatch.setattr(module, spec.study, _must_not_run)


@pytest.mark.parametrize("command", sorted(EXPERIMENTS))
def test_out_is_checked_before_the_study_runs(tmp_path, capsys, no_study, command):
    a_file = tmp_path / "report.md"
    a_file.write_text("mine")
    err = one_line_error(capsys, [command, "--quick", "--out", str(a_file)])
    assert f"fastopt {command}: --out {str(a_file)!r} is a file, not a folder" in err
    assert a_file.read_text() == "mine"
    err = one_line_error(capsys, [command, "--quick", "--out", str(a_file / "sub")])
    assert f"--out {str(a_file / 'sub')!r}: cannot write there (Not a directory)" in err


def test_default_output_folder_is_checked_too(tmp_path, monkeypatch, capsys, no_study):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fastopt-out").write_text("a file where the default folder would go")
    err = one_line_error(capsys, ["compare", "--quick"])
    assert "output folder (set with --out) 'fastopt-out/compare-linear'" in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")  # fmt: skip
def test_read_only_out_folder(tmp_path, capsys, no_study):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        err = one_line_error(capsys, ["saddle", "--out", str(locked)])
    finally:
        locked.chmod(0o700)
    assert f"--out {str(locked)!r}: cannot write there (Permission denied)" in err


def test_bench_out_is_checked_before_the_benchmarks_start(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(subprocess, "call", _must_not_run)
    a_file = tmp_path / "BENCHMARKS.md"
    a_file.write_text("")
    err = one_line_error(capsys, ["bench", "--quick", "--out", str(a_file)])
    assert f"fastopt bench: --out {str(a_file)!r} is a file, not a folder" in err


def test_out_is_created_and_used(tmp_path, capsys):
    out = tmp_path / "new" / "deeper"
    assert main(["saddle", "--quick", "--out", str(out)]) == 0
    assert f"wrote {out}/" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["escape.csv", "report.md", "trajectories.png"]


def test_the_process_exits_2_with_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "fastopt", "worked-example", "--lr", "nan"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "fastopt worked-example: --lr: must be finite and > 0, got nan "
        "(see fastopt worked-example --help)"
    ]


def test_optimizers_are_parsed_and_default_to_the_studys():
    parser = build_parser()
    assert parser.parse_args(["compare"]).optimizers is None  # the study's default: its four
    args = parser.parse_args(["compare", "--optimizers", "adamw", "adagrad", "--quick"])
    assert args.optimizers == ("adamw", "adagrad")
    with pytest.raises(UsageError, match="unknown optimizer 'nope'; known: .*adamw"):
        parser.parse_args(["compare", "--optimizers", "nope"])
    for other in sorted(set(EXPERIMENTS) - {"compare"}):  # compare's flag only
        with pytest.raises(UsageError, match="unrecognized arguments: --optimizers"):
            parser.parse_args([other, "--optimizers", "adam"])


class _Ran(Exception):
    pass


@pytest.mark.parametrize(
    "flags, expected",
    [([], None), (["--optimizers", "adagrad", "adamw"], ("adagrad", "adamw"))],
)
def test_optimizers_reach_the_study(tmp_path, monkeypatch, flags, expected):
    calls = []

    def study(**kwargs):
        calls.append(kwargs)
        raise _Ran

    monkeypatch.setattr(importlib.import_module("fastopt.experiments.compare"), "compare", study)
    with pytest.raises(_Ran):
        main(["compare", "--quick", "--out", str(tmp_path), *flags])
    (kwargs,) = calls
    assert kwargs.get("optimizers") == expected  # absent: compare()'s default, the four
