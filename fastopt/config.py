"""Sweeps described in a small TOML file, for ``fastopt sweep CONFIG.toml``.

Example::

    [model]
    sizes = [2, 16, 1]          # widths, input to output
    activation = "relu"
    loss = "mse"                # or "cross_entropy"

    [data]
    name = "linear"             # a data set of fastopt.data (options in [data.options]),
    # path = "train.npz"        # or arrays X, Y (and X_val, Y_val) in an .npz file

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

Every key is checked before any work starts; a mistake names the key.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fastopt.data import DATASETS
from fastopt.mlp import MLP

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    tomllib = None

SECTIONS = {"model", "data", "grid", "run"}
MODEL_KEYS = {"sizes": "list of int", "activation": "str", "loss": "str"}
DATA_KEYS = {"name": "str", "path": "str", "options": "table"}
GRID_AXES = {
    "optimizer": "str", "lr": "number", "seed": "int", "data_seed": "int", "gc": "str",
    "batch_size": "int or 'full'", "momentum": "number", "dampening": "number",
    "nesterov": "bool", "alpha": "number", "centered": "bool", "eps": "number",
    "weight_decay": "number", "betas": "pair of numbers", "amsgrad": "bool",
    "lr_decay": "number", "initial_accumulator_value": "number",
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
    """TOML spellings to sweep values: "none" gc, "full" batch, [b1, b2] betas."""
    if _is_axis(GRID_AXES[key], value):
        return [_grid_value(key, v) for v in value]
    if key == "gc" and value == "none":
        return None
    if key == "batch_size" and value == "full":
        return None
    if key == "betas":
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
    if tomllib is None:
        raise ConfigError("reading TOML needs Python 3.11 or newer")
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc.strerror}") from None
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
    run.setdefault("store", str(Path("fastopt-out") / f"sweep-{path.stem}"))
    return SweepConfig(path, model, X, Y, grid, run, validation)


def _load_data(data: dict, base: Path):
    if ("name" in data) == ("path" in data):
        raise ConfigError("data: give exactly one of data.name or data.path")
    if "name" in data:
        if data["name"] not in DATASETS:
            raise ConfigError(f"data.name: unknown data set {data['name']!r}; "
                              f"known: {sorted(DATASETS)}")  # fmt: skip
        try:
            X, Y = DATASETS[data["name"]](**data.get("options", {}))
        except TypeError as exc:
            raise ConfigError(f"data.options: {exc}") from None
        return X, Y, None
    if "options" in data:
        raise ConfigError("data.options: only for a named data set, not for data.path")
    path = Path(data["path"])
    path = path if path.is_absolute() else base / path
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if "X" not in arrays or "Y" not in arrays:
                raise ConfigError(f"data.path: {str(path)!r} needs arrays named X and Y")
            X, Y = arrays["X"], arrays["Y"]
            validation = (arrays["X_val"], arrays["Y_val"]) if "X_val" in arrays else None
    except (OSError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"data.path: cannot read {str(path)!r} ({exc})") from None
    return X, Y, validation


def status(folder: str | os.PathLike) -> str:
    """A few lines on a store's progress: runs stored, missing, rejected files."""
    from fastopt.store import load_chunk, read_manifest

    manifest = read_manifest(folder)
    n_runs, chunk_size = manifest["n_runs"], manifest["chunk_size"]
    stored, rejected = 0, []
    n_chunks = -(-n_runs // chunk_size)
    for index in range(n_chunks):
        bounds = (index * chunk_size, min((index + 1) * chunk_size, n_runs))
        path = Path(folder) / f"chunk-{index:06d}.npz"
        if not path.exists():
            continue
        if load_chunk(path, manifest["fingerprint"], index, bounds) is None:
            rejected.append(path.name)
        else:
            stored += bounds[1] - bounds[0]
    lines = [
        f"store {str(folder)!r} (fastopt {manifest.get('fastopt', '?')}, "
        f"grid {manifest['fingerprint'][:12]})",
        f"  {stored}/{n_runs} runs stored ({100 * stored / n_runs:.0f}%), "
        f"{n_runs - stored} missing, in chunks of {chunk_size}",
    ]
    if rejected:
        lines.append(f"  rejected (truncated or foreign): {', '.join(rejected)}")
    return "\n".join(lines)
