"""A folder of finished sweep chunks, written atomically, so that long grids can resume.

Layout of a store folder::

    manifest.json          what the grid is (fingerprint), how it is cut (chunk_size, n_runs)
    chunk-000000.npz       one finished chunk: its metrics, curves, params and configs
    chunk-000001.npz       ...

A chunk is written to a temporary name and renamed into place (``os.replace``, atomic on
POSIX and Windows), so a killed process leaves either a whole chunk or none; a file that does
not load, or that belongs to another grid or chunk, is reported and ignored, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from fastopt.results import SweepResult

FORMAT = "fastopt-sweep-store"
VERSION = 1
MANIFEST = "manifest.json"


def fingerprint(description: Mapping[str, object]) -> str:
    """sha256 of a JSON description of a grid (its data hashed in beforehand)."""
    text = json.dumps(description, sort_keys=True, default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def array_digest(*arrays: np.ndarray | None) -> str:
    """sha256 of arrays' dtypes, shapes and bytes, for a fingerprint."""
    digest = hashlib.sha256()
    for a in arrays:
        if a is None:
            digest.update(b"none")
            continue
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return repr(value)


def _to_json_column(values: np.ndarray) -> str:
    return json.dumps([_jsonable(v) for v in values.tolist()], default=_json_default)


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return _json_default(value)


class Store:
    """The chunks of one grid in a folder; see the module docstring.

    Parameters
    ----------
    folder : path
        Created if missing.
    grid_fingerprint : str
        The grid's :func:`fingerprint`; a folder holding another grid is an error.
    n_runs, chunk_size : int
        How the grid is cut; a folder that already holds this grid keeps its own chunk size.
    version : str
        The library version, recorded in the manifest.
    description : mapping, optional
        Human-readable grid description kept in the manifest.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        grid_fingerprint: str,
        n_runs: int,
        chunk_size: int,
        version: str,
        description: Mapping[str, object] | None = None,
    ):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fingerprint = grid_fingerprint
        self.rejected: list[str] = []
        manifest_path = self.folder / MANIFEST
        if manifest_path.exists():
            manifest = read_manifest(self.folder)
            if manifest["fingerprint"] != grid_fingerprint:
                raise ValueError(
                    f"store {str(self.folder)!r} holds another grid (fingerprint "
                    f"{manifest['fingerprint'][:12]}, this one {grid_fingerprint[:12]}); "
                    "use a new folder, or delete this one to start over"
                )
            if manifest.get("fastopt") != version:
                # Kernels may round differently from one release to the next: a grid resumed
                # under another version would mix the two, so it is refused (load_sweep reads it).
                raise ValueError(
                    f"store {str(self.folder)!r} was written by fastopt "
                    f"{manifest.get('fastopt')} and this is fastopt {version}; resuming would "
                    "mix results of two kernel versions. Read it with fastopt.load_sweep, and "
                    "run the grid again in a new folder"
                )
            self.n_runs = manifest["n_runs"]
            self.chunk_size = manifest["chunk_size"]
        else:
            self.n_runs, self.chunk_size = int(n_runs), int(chunk_size)
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "fastopt": version,
                "fingerprint": grid_fingerprint,
                "n_runs": self.n_runs,
                "chunk_size": self.chunk_size,
                "n_chunks": self.n_chunks,
                "grid": description or {},
            }
            _write_atomic(manifest_path, json.dumps(manifest, indent=2, default=_json_default))

    @property
    def n_chunks(self) -> int:
        """Number of chunks the grid is cut into."""
        return -(-self.n_runs // self.chunk_size)

    def bounds(self, index: int) -> tuple[int, int]:
        """Runs ``[start, stop)`` of chunk ``index``."""
        start = index * self.chunk_size
        return start, min(start + self.chunk_size, self.n_runs)

    def path(self, index: int) -> Path:
        """File of chunk ``index``."""
        return self.folder / f"chunk-{index:06d}.npz"

    def save(self, index: int, result: SweepResult) -> None:
        """Write chunk ``index`` atomically."""
        start, stop = self.bounds(index)
        if len(result) != stop - start:
            raise ValueError(f"chunk {index} needs {stop - start} runs, got {len(result)}")
        meta = {"fingerprint": self.fingerprint, "index": index, "start": start, "stop": stop,
                "record_every": result.record_every}  # fmt: skip
        arrays = {"curves": result.curves, "meta": np.array(json.dumps(meta))}
        for name in result.metric_names:
            arrays[f"metric__{name}"] = result[name]
        arrays["configs"] = np.array(
            json.dumps({name: _to_json_column(result[name]) for name in result.config_names})
        )
        if result.params is not None:
            arrays["params"] = result.params
        tmp = self.path(index).with_suffix(f".tmp-{os.getpid()}")
        # Rename after a complete write: a killed process leaves a whole chunk or none. (No
        # fsync: it would cost ~20 ms a chunk, and the loader rejects a damaged file anyway.)
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, self.path(index))

    def load(self, index: int) -> SweepResult | None:
        """Chunk ``index`` if a valid file holds it, else None (a bad file is noted in rejected)."""
        path = self.path(index)
        if not path.exists():
            return None
        result = load_chunk(path, self.fingerprint, index, self.bounds(index))
        if result is None:
            self.rejected.append(path.name)
        return result


def load_chunk(path: Path, grid_fingerprint: str | None, index: int, bounds: tuple[int, int]):
    """Read one chunk file, or None if it is truncated, foreign or inconsistent."""
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            start, stop = bounds
            if grid_fingerprint is not None and meta.get("fingerprint") != grid_fingerprint:
                return None
            if (meta.get("index"), meta.get("start"), meta.get("stop")) != (index, start, stop):
                return None
            n = stop - start
            curves = data["curves"]
            metrics = {key[len("metric__") :]: data[key] for key in data.files
                       if key.startswith("metric__")}  # fmt: skip
            params = data["params"] if "params" in data.files else None
            configs_json = json.loads(str(data["configs"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError):
        return None
    configs = {}
    for name, column in configs_json.items():
        values = json.loads(column)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        configs[name] = np.array(values) if numeric else _object_array(values)
    if curves.shape[0] != n or any(len(v) != n for v in metrics.values()):
        return None
    if any(len(v) != n for v in configs.values()):
        return None
    return SweepResult(configs, metrics, curves, meta["record_every"], params)


def _object_array(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = tuple(v) if isinstance(v, list) else v
    return out


def read_manifest(folder: str | os.PathLike) -> dict:
    """The manifest of a store folder, checked to be one."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{str(folder)!r} is not a sweep store (no {MANIFEST})") from None
    except json.JSONDecodeError:
        raise ValueError(f"{str(path)!r} is not a readable sweep manifest") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(f"{str(path)!r} is not a fastopt sweep store of version {VERSION}")
    return manifest


def load_sweep(folder: str | os.PathLike) -> SweepResult:
    """The :class:`SweepResult` of what a store holds, complete or not.

    ``result.info`` says how many runs are stored and missing (``n_runs``, ``missing_runs``,
    ``complete``) and which files were rejected as truncated or foreign. Config columns come
    back from JSON: schedules and optimizer objects as their ``repr`` strings.
    """
    manifest = read_manifest(folder)
    n_runs, chunk_size = manifest["n_runs"], manifest["chunk_size"]
    parts, rejected, missing = [], [], 0
    for index in range(-(-n_runs // chunk_size)):
        bounds = (index * chunk_size, min((index + 1) * chunk_size, n_runs))
        path = Path(folder) / f"chunk-{index:06d}.npz"
        part = load_chunk(path, manifest["fingerprint"], index, bounds) if path.exists() else None
        if part is None:
            missing += bounds[1] - bounds[0]
            if path.exists():
                rejected.append(path.name)
        else:
            parts.append(part)
    info = {"n_runs": n_runs, "missing_runs": missing, "complete": missing == 0,
            "rejected_files": rejected, "grid": manifest.get("grid", {})}  # fmt: skip
    if not parts:
        raise ValueError(f"store {str(folder)!r} holds no finished chunk yet ({n_runs} missing)")
    result = SweepResult.concat(parts)
    return result.with_info({**result.info, **info})


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
