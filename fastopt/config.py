"""Sweeps described in a small TOML file, for ``fastopt sweep CONFIG.toml``.

Example::

    [model]
    sizes = [2, 16, 1]          # widths, input to output
    activation = "relu"
    loss = "mse"                # or "cross_entropy"

    [data]
    name = "linear"             # a data set of fastopt.data (options in [data.options]),
    # path = "train.npz"        # or arrays X, Y (and X_val, Y_val) in an .npz file,
                                # relative to this file; no other array names

    [grid]                      # a list is an axis, anything else one value
    optimizer = ["sgd", "momentum", "rmsprop", "adam"]
    lr = [0.001, 0.01, 0.1, 1.0]
    seed = [0, 1]
    gc = ["none", "grad"]       # TOML has no null: "none" (gc), "full" (batch_size)

    [run]
    steps = 1000
    stop_below = 0.1
    record_every = 10
    store = "fastopt-out/sweep-demo"   # default: fastopt-out/sweep-<file name>

Every key is checked before any work starts; a mistake names the key (a damaged or
unexpected data file names ``data.path``). On Python 3.10 the file is read with ``tomli``, the
package ``tomllib`` came from.
"""

from __future__ import annotations

import numbers
import os
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fastopt.data import DATASETS
from fastopt.mlp import MLP
from fastopt.optimizers import OPTIMIZERS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: the same parser, from PyPI (a dependency there)
    import tomli as tomllib

SECTIONS = {"model", "data", "grid", "run"}
MODEL_KEYS = {"sizes": "list of int", "activation": "str", "loss": "str"}
DATA_KEYS = {"name": "str", "path": "str", "options": "table"}
GRID_AXES = {
    "optimizer": "str", "lr": "number", "seed": "int", "data_seed": "int", "gc": "str",
    "batch_size": "int or 'full'",
    # Every optimizer's hyperparameters, with the kind of value their spec declares.
    **{h.name: h.axis for cls in OPTIMIZERS.values() for h in cls.spec.hyperparameters
       if h.name != "lr"},
}  # fmt: skip
RUN_KEYS = {
    "steps": "int", "stop_below": "number", "diverge_above": "number", "record_every": "int",
    "dtype": "str", "store": "str", "memory_limit": "int", "keep_curves": "bool",
    "return_params": "bool",
}  # fmt: skip


class ConfigError(ValueError):
    """A sweep configuration file that cannot be run; the message names the key."""


@dataclass
class SweepConfig:
    """A checked configuration: call :meth:`run` to sweep."""

    path: Path
    model: MLP
    X: np.ndarray
    Y: np.ndarray
    grid: dict = field(default_factory=dict)
    run_options: dict = field(default_factory=dict)
    validation: tuple | None = None

    @property
    def store(self) -> Path:
        """The store folder of this sweep."""
        return Path(self.run_options["store"])

    def run(self, progress: bool | None = None):
        """Run (or resume) the sweep; returns its SweepResult."""
        from fastopt.sweep import sweep

        options = dict(self.run_options)
        options["dtype"] = np.dtype(options.get("dtype", "float32"))
        if self.validation is not None:
            options["X_val"], options["Y_val"] = self.validation
        return sweep(self.model, self.X, self.Y, progress=progress, **self.grid, **options)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_type(value: object, kind: str) -> bool:
    if kind == "list of int":
        return isinstance(value, list) and all(_is_int(v) for v in value)
    if kind == "pair of numbers":
        return isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))
    if kind == "int or 'full'":
        return value == "full" or _is_int(value)
    checks = {"str": str, "bool": bool, "table": dict}
    if kind in checks:
        return isinstance(value, checks[kind])
    return _is_int(value) if kind == "int" else _is_number(value)


def _check_keys(section: str, table: dict, allowed: dict) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table, got {table!r}")
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(f"{section}.{key}: unknown key; allowed: {sorted(allowed)}")
        kind = allowed[key]
        if section == "grid" and _is_axis(kind, value):
            if not value:
                raise ConfigError(f"{section}.{key}: an empty list is no axis")
            bad = [v for v in value if not _is_type(v, kind)]
            if bad:
                raise ConfigError(f"{section}.{key}: expected {kind} values, got {bad[0]!r}")
        elif not _is_type(value, kind):
            raise ConfigError(f"{section}.{key}: expected {kind}, got {value!r}")


def _is_axis(kind: str, value: object) -> bool:
    """A list is an axis, except a single pair (betas) written as a list."""
    if kind == "pair of numbers":
        return isinstance(value, list) and bool(value) and isinstance(value[0], list)
    return isinstance(value, list)


def _grid_value(key: str, value: object) -> object:
    """TOML spellings to sweep values: "none" gc, "full" batch, [a, b] pairs (betas, etas)."""
    if _is_axis(GRID_AXES[key], value):
        return [_grid_value(key, v) for v in value]
    if key == "gc" and value == "none":
        return None
    if key == "batch_size" and value == "full":
        return None
    if GRID_AXES[key] == "pair of numbers" and isinstance(value, list):
        return tuple(value)
    return value


def load_config(path: str | os.PathLike) -> SweepConfig:
    """Read and check a sweep configuration file.

    Raises
    ------
    ConfigError
        Naming the key: unknown sections or keys, wrong types, missing or unreadable data.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        # TOML is UTF-8 by definition: this is a binary file, or another encoding.
        raise ConfigError(f"{str(path)!r} is not a TOML file (not UTF-8 text)") from None
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{str(path)!r} is not valid TOML: {exc}") from None
    unknown = sorted(set(config) - SECTIONS)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section; allowed: {sorted(SECTIONS)}")
    for section in ("model", "data", "grid", "run"):
        if section not in config:
            raise ConfigError(f"[{section}] is missing")
    _check_keys("model", config["model"], MODEL_KEYS)
    _check_keys("data", config["data"], DATA_KEYS)
    _check_keys("grid", config["grid"], GRID_AXES)
    _check_keys("run", config["run"], RUN_KEYS)

    model_cfg = config["model"]
    if "sizes" not in model_cfg:
        raise ConfigError("model.sizes is missing")
    try:
        model = MLP(model_cfg["sizes"], model_cfg.get("activation", "relu"),
                    loss=model_cfg.get("loss", "mse"))  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model: {exc}") from None

    X, Y, validation = _load_data(config["data"], path.parent)
    for key in ("optimizer", "lr"):
        if key not in config["grid"]:
            raise ConfigError(f"grid.{key} is missing")
    grid = {key: _grid_value(key, value) for key, value in config["grid"].items()}
    run = dict(config["run"])
    if "steps" not in run:
        raise ConfigError("run.steps is missing")
    if run.get("dtype", "float32") not in ("float32", "float64"):
        raise ConfigError(f"run.dtype: expected 'float32' or 'float64', got {run['dtype']!r}")
    if run.get("store") == "":
        # Path("") is the current folder: chunks would land among the user's own files.
        raise ConfigError("run.store: expected a folder name, got ''")
    run.setdefault("store", str(Path("fastopt-out") / f"sweep-{path.stem}"))
    return SweepConfig(path, model, X, Y, grid, run, validation)


def _load_data(data: dict, base: Path):
    if ("name" in data) == ("path" in data):
        raise ConfigError("data: give exactly one of data.name or data.path")
    if "name" in data:
        return (*_named_data(data["name"], data.get("options", {})), None)
    if "options" in data:
        raise ConfigError("data.options: only for a named data set, not for data.path")
    path = Path(data["path"])
    return _read_npz(path if path.is_absolute() else base / path)


def _named_data(name: str, options: dict):
    """``DATASETS[name](**options)``, any failure of the options named as data.options."""
    if name not in DATASETS:
        raise ConfigError(f"data.name: unknown data set {name!r}; known: {sorted(DATASETS)}")
    try:
        # Options such as classes = 0 divide by zero inside the generator: an error, not a
        # warning followed by NaN data that the sweep would reject without naming the option.
        with np.errstate(divide="raise", over="raise", invalid="raise"):
            X, Y = DATASETS[name](**options)
    except (TypeError, ValueError, ArithmeticError, MemoryError) as exc:
        raise ConfigError(f"data.options: {name}({_kwargs(options)}) failed: {exc}") from None
    return X, Y


def _kwargs(options: dict) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in options.items())


NPZ_ARRAYS = ("X", "Y", "X_val", "Y_val")


def _read_npz(path: Path):
    """``(X, Y, (X_val, Y_val) or None)`` from an .npz file; a bad file names data.path."""
    where = f"data.path: {str(path)!r}"
    try:
        with open(path, "rb") as f:
            # np.load would take a .npy file (one bare array) or try a pickle; only a zip of
            # named arrays says which is X and which is Y.
            if not zipfile.is_zipfile(f):
                raise ConfigError(f"{where} is not an .npz file (a zip of named arrays; "
                                  "truncated, or another format)")  # fmt: skip
            f.seek(0)
            with np.load(f, allow_pickle=False) as npz:
                names = set(npz.files)
                _check_npz_names(where, names)
                arrays = {name: npz[name] for name in NPZ_ARRAYS if name in names}
    except OSError as exc:
        raise ConfigError(f"data.path: cannot read {str(path)!r} ({exc.strerror or exc})") from None
    except (ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where} is damaged or holds objects ({exc})") from None
    validation = (arrays["X_val"], arrays["Y_val"]) if "X_val" in arrays else None
    return arrays["X"], arrays["Y"], validation


def _check_npz_names(where: str, names: set) -> None:
    missing = [name for name in ("X", "Y") if name not in names]
    if missing:
        raise ConfigError(f"{where} has no array {missing[0]} (it holds {sorted(names)})")
    unknown = sorted(names - set(NPZ_ARRAYS))
    if unknown:
        # A misspelt x_val would otherwise be dropped, and the sweep run without validation;
        # named before the pair check, which it would trip with a less helpful message.
        raise ConfigError(f"{where}: unknown array {unknown[0]!r}; allowed: {list(NPZ_ARRAYS)}")
    if ("X_val" in names) != ("Y_val" in names):
        have, lack = ("X_val", "Y_val") if "X_val" in names else ("Y_val", "X_val")
        raise ConfigError(f"{where} holds {have} without {lack}: give both or neither")


def status(folder: str | os.PathLike) -> str:
    """A few lines on a store's progress: runs stored and missing, files rejected.

    Raises
    ------
    ValueError
        ``folder`` is no sweep store (a file, missing, or its manifest is damaged).
    """
    from fastopt.store import store_status

    info = store_status(folder)
    n_runs, stored = info["n_runs"], info["stored_runs"]
    # Rounded down: a store one run short of complete must not read "100%".
    percent = 100 * stored // n_runs if n_runs else 100
    state = ("complete" if info["complete"]
             else "incomplete: run the same sweep again to resume it")  # fmt: skip
    lines = [
        f"store {str(info['folder'])!r} (fastopt {info['fastopt']}): {state}",
        f"  {stored}/{n_runs} runs stored ({percent}%), {info['missing_runs']} missing, "
        f"in {info['n_chunks']} chunks of {info['chunk_size']}",
    ]
    if info["rejected_files"]:
        lines.append(f"  rejected (truncated or foreign): {', '.join(info['rejected_files'])}")
    return "\n".join(lines)
