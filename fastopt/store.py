"""A folder of finished sweep chunks, written atomically, so that long grids can resume.

Layout of a store folder::

    manifest.json          what the grid is (fingerprint), how it is cut (n_runs, chunk_size)
                           and what every chunk holds (schema)
    .lock                  locked by the one process that writes chunks
    chunk-000000.npz       one finished chunk: its metrics, curves, params and configs
    chunk-000001.npz       ...

Only this module knows these names. A sweep opens the folder with ``with Store(...) as store``
and calls :meth:`Store.load` and :meth:`Store.save` per chunk; :func:`load_sweep` and
:func:`store_status` read a folder without opening it.

What the store guarantees under concurrent use:

- One writer per folder at a time: ``with Store(...)`` holds an exclusive lock on ``.lock``
  (an operating-system lock through the ``filelock`` package; ``flock`` on POSIX) until it
  exits.
- Another grid, or another fastopt version, on a folder is a ``ValueError`` at once, without
  waiting for the lock. The manifest is created exclusively (a complete temporary file, then a
  hard link that fails if the name exists), so of two processes that start different grids
  on one new folder at the same moment, one wins and the other fails: none overwrites it.
- The same grid started twice waits for the lock (``on_wait`` is called first, ``timeout``
  bounds the wait), then finds every chunk the first stored: nothing is lost or run twice.
- A chunk is written to a temporary name and renamed into place, so a killed process leaves a
  whole chunk or none.
- Every file is validated before use: the manifest field by field, each chunk against the
  manifest's schema, fingerprint and run bounds. A file that fails is listed in ``rejected``
  (``rejected_files``), never merged. Nothing is unpickled.

Not guaranteed: the lock on network or cluster file systems (NFS, SMB, some FUSE mounts),
where ``flock`` may lock nothing or only within one machine, so give each machine its own
folder there (Dask writes every chunk from the client process, so one folder is right for
it); readers (:func:`load_sweep`, :func:`store_status`) take no lock and see the chunks stored
so far; on a file system without hard links the manifest is created with ``open(..., "x")``,
where a racing process may read it half-written and fail with an error; and no ``fsync``, so a
power cut may lose recent chunks (they are rejected on reading and computed again).
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType

import filelock
import numpy as np

from fastopt._npz import ArchiveError, NpzReader, expect, expect_text
from fastopt._validate import check_int
from fastopt.results import SweepResult

FORMAT = "fastopt-sweep-store"
VERSION = 2
MANIFEST = "manifest.json"
LOCK = ".lock"

_MANIFEST_FIELDS = ("format", "version", "fastopt", "fingerprint", "n_runs", "chunk_size",
                    "n_chunks", "schema", "grid")  # fmt: skip
_SCHEMA_FIELDS = ("metrics", "configs", "n_records", "n_params", "params_dtype", "record_every")
_PARAMS_DTYPES = ("float32", "float64")
_META_FIELDS = ("fingerprint", "n_runs", "index", "start", "stop", "record_every")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# What np.dtype raises for a string it cannot parse ("i4,(" is a SyntaxError).
_DTYPE_ERRORS = (TypeError, ValueError, SyntaxError)
# Bytes of the JSON texts of a chunk: its meta, and its config columns (repr strings at
# worst: generous per run). Members are refused by their headers before any data is read.
_META_BYTES = 1 << 16
_CONFIG_BYTES_PER_RUN = 1 << 16


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


def _chunk_name(index: int) -> str:
    """File name of chunk ``index``; the one place that spells it."""
    return f"chunk-{index:06d}.npz"


def _is_int(value: object) -> bool:
    """A JSON integer: ``int`` but not ``bool`` (``True == 1`` in Python)."""
    return type(value) is int


def _n_chunks(n_runs: int, chunk_size: int) -> int:
    return -(-n_runs // chunk_size)


def _bounds(index: int, n_runs: int, chunk_size: int) -> tuple[int, int]:
    start = index * chunk_size
    return start, min(start + chunk_size, n_runs)


# --------------------------------------------------------------------------------------------
# The chunk schema
# --------------------------------------------------------------------------------------------


def _normalize_schema(schema: object) -> object:
    """``schema`` as it reads back from JSON, dtypes spelled by name.

    A copy; bad input is kept as it is, for :func:`_schema_problem` to describe.
    """
    if not isinstance(schema, Mapping):
        return schema
    out = json.loads(json.dumps(dict(schema), default=_json_default))
    metrics = schema.get("metrics")
    if isinstance(metrics, Mapping):
        out["metrics"] = {name: _dtype_name(dtype) for name, dtype in metrics.items()}
    if schema.get("params_dtype") is not None:
        out["params_dtype"] = _dtype_name(schema["params_dtype"])
    return out


def _dtype_name(dtype: object) -> object:
    try:
        return np.dtype(dtype).name  # "f8", np.float64 and "float64" all name float64
    except _DTYPE_ERRORS:
        return dtype


def _schema_problem(schema: object) -> str | None:
    """What is wrong with a (JSON) chunk schema, or None."""
    if not isinstance(schema, dict):
        return f"must be a JSON object, got {type(schema).__name__}"
    missing = [key for key in _SCHEMA_FIELDS if key not in schema]
    extra = sorted(set(schema) - set(_SCHEMA_FIELDS))
    if missing or extra:
        return (
            f"must have exactly the keys {list(_SCHEMA_FIELDS)} (missing {missing}, extra {extra})"
        )
    metrics, configs = schema["metrics"], schema["configs"]
    if not isinstance(metrics, dict):
        return f"metrics must be an object of name: dtype, got {metrics!r}"
    for name, dtype in metrics.items():
        if not name:
            return "metrics has a column without a name"
        if not isinstance(dtype, str):
            return f"metrics[{name!r}] must be a dtype name, got {dtype!r}"
        try:
            kind, canonical = np.dtype(dtype).kind, np.dtype(dtype).name
        except _DTYPE_ERRORS:
            return f"metrics[{name!r}] is not a numpy dtype: {dtype!r}"
        if kind not in "biuf" or canonical != dtype:
            return f"metrics[{name!r}] must be a bool, int or float dtype name, got {dtype!r}"
    if not isinstance(configs, list) or not all(isinstance(c, str) and c for c in configs):
        return f"configs must be a list of column names, got {configs!r}"
    if len(set(configs)) != len(configs):
        return f"configs names a column twice: {configs!r}"
    if set(configs) & set(metrics):
        return f"{sorted(set(configs) & set(metrics))} are both configs and metrics"
    if not configs and not metrics:
        return "has no config and no metric column"
    if not _is_int(schema["n_records"]) or schema["n_records"] < 0:
        return f"n_records must be an integer >= 0, got {schema['n_records']!r}"
    if not _is_int(schema["record_every"]) or schema["record_every"] < 1:
        return f"record_every must be an integer >= 1, got {schema['record_every']!r}"
    n_params, params_dtype = schema["n_params"], schema["params_dtype"]
    if n_params is None:
        if params_dtype is not None:
            return f"params_dtype must be null when n_params is null, got {params_dtype!r}"
    elif not _is_int(n_params) or n_params < 1:
        return f"n_params must be null or an integer >= 1, got {n_params!r}"
    elif params_dtype not in _PARAMS_DTYPES:
        return f"params_dtype must be one of {list(_PARAMS_DTYPES)}, got {params_dtype!r}"
    return None


def _result_problem(result: SweepResult, schema: dict, n: int) -> str | None:
    """What makes ``result`` (``n`` runs) differ from ``schema``, or None."""
    if len(result) != n:
        return f"needs {n} runs, got {len(result)}"
    if set(result.config_names) != set(schema["configs"]):
        return f"has config columns {result.config_names}, the schema {schema['configs']}"
    if set(result.metric_names) != set(schema["metrics"]):
        return f"has metric columns {result.metric_names}, the schema {list(schema['metrics'])}"
    for name, dtype in schema["metrics"].items():
        if result[name].dtype != np.dtype(dtype):
            return f"metric {name!r} is {result[name].dtype}, the schema says {dtype}"
    if result.curves.shape != (n, schema["n_records"]):
        return f"curves have shape {result.curves.shape}, the schema ({n}, {schema['n_records']})"
    if result.record_every != schema["record_every"]:
        return f"records every {result.record_every} steps, the schema {schema['record_every']}"
    params, n_params = result.params, schema["n_params"]
    if (params is None) != (n_params is None):
        state = "missing" if params is None else "present"
        return f"params are {state}, the schema says n_params={n_params}"
    if params is not None and (
        params.shape != (n, n_params) or params.dtype != schema["params_dtype"]
    ):
        return (f"params are {params.dtype} {params.shape}, the schema "
                f"{schema['params_dtype']} ({n}, {n_params})")  # fmt: skip
    return None


# --------------------------------------------------------------------------------------------
# The manifest
# --------------------------------------------------------------------------------------------


def read_manifest(folder: str | os.PathLike) -> dict:
    """The manifest of a store folder, every field checked.

    Parameters
    ----------
    folder : path
        A store folder.

    Returns
    -------
    dict
        The manifest: ``format``, ``version``, ``fastopt``, ``fingerprint``, ``n_runs``,
        ``chunk_size``, ``n_chunks``, ``schema`` and ``grid``.

    Raises
    ------
    ValueError
        ``folder`` is a file or holds no manifest; the manifest is not UTF-8 JSON, not an
        object, or any field is missing, of the wrong type or inconsistent
        (``'<path>' is not a valid fastopt sweep manifest: <field> ...``).
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is not a sweep store: it is a file, not a folder")
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(f"{str(folder)!r} is not a sweep store (no {MANIFEST})") from None
    except OSError as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable sweep manifest ({exc.strerror or exc})"
        ) from None
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(
            f"{str(path)!r} is not a readable sweep manifest: not UTF-8 text"
        ) from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable sweep manifest: not JSON ({exc})"
        ) from None
    return _check_manifest(manifest, path)


def _check_manifest(manifest: object, path: Path) -> dict:
    def bad(field: str, problem: str) -> ValueError:
        return ValueError(f"{str(path)!r} is not a valid fastopt sweep manifest: {field} {problem}")

    if not isinstance(manifest, dict):
        raise bad("the file", f"is a JSON {type(manifest).__name__}, not an object")
    for field in _MANIFEST_FIELDS:
        if field not in manifest:
            raise bad(field, "is missing")
    extra = sorted(set(manifest) - set(_MANIFEST_FIELDS))
    if extra:
        raise bad(str(extra), "are not manifest fields")
    if manifest["format"] != FORMAT:
        raise bad("format", f"is {manifest['format']!r}, not {FORMAT!r}")
    if not _is_int(manifest["version"]) or manifest["version"] != VERSION:
        raise bad("version", f"is {manifest['version']!r}; this fastopt reads version {VERSION}")
    if not isinstance(manifest["fastopt"], str) or not manifest["fastopt"]:
        raise bad("fastopt", f"must be a version string, got {manifest['fastopt']!r}")
    if not isinstance(manifest["fingerprint"], str) or not _HEX64.fullmatch(
        manifest["fingerprint"]
    ):
        raise bad("fingerprint", f"must be 64 hex digits, got {manifest['fingerprint']!r}")
    n_runs, chunk_size, n_chunks = manifest["n_runs"], manifest["chunk_size"], manifest["n_chunks"]
    if not _is_int(n_runs) or n_runs < 1:
        raise bad("n_runs", f"must be an integer >= 1, got {n_runs!r}")
    if not _is_int(chunk_size) or not 1 <= chunk_size <= n_runs:
        raise bad("chunk_size", f"must be an integer in [1, n_runs={n_runs}], got {chunk_size!r}")
    if not _is_int(n_chunks) or n_chunks != _n_chunks(n_runs, chunk_size):
        raise bad("n_chunks", f"is {n_chunks!r}, but {n_runs} runs in chunks of {chunk_size} "
                              f"make {_n_chunks(n_runs, chunk_size)}")  # fmt: skip
    problem = _schema_problem(manifest["schema"])
    if problem is not None:
        raise bad("schema", problem)
    if not isinstance(manifest["grid"], dict):
        raise bad("grid", f"must be an object, got {type(manifest['grid']).__name__}")
    return manifest


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


class Store:
    """The chunks of one grid in a folder, written by one process at a time.

    Open it with ``with``; see the module docstring for what it guarantees::

        with Store(folder, grid_fingerprint, n_runs, chunk_size, version, description,
                   schema) as store:
            for i in range(store.n_chunks):
                if store.load(i) is None:
                    store.save(i, compute(*store.bounds(i)))

    Parameters
    ----------
    folder : path
        Created if missing.
    grid_fingerprint : str
        The grid's :func:`fingerprint` (64 hex digits); a folder holding another grid is an
        error.
    n_runs, chunk_size : int
        How the grid is cut (``chunk_size`` above ``n_runs`` means one chunk); a folder that
        already holds this grid keeps its own chunk size (read :attr:`chunk_size` inside the
        ``with``).
    version : str
        The fastopt version, recorded in the manifest; a folder written by another is an error.
    description : mapping or None
        Human-readable grid description kept in the manifest (``grid``).
    schema : mapping
        What every chunk holds: ``{"metrics": {name: dtype name}, "configs": [names],
        "n_records": int, "n_params": int or None, "params_dtype": "float32", "float64" or
        None, "record_every": int}``. Chunks are checked against it when saved and loaded.
    on_wait : callable, optional
        Called once, with no argument, before waiting for another process that holds the
        folder (e.g. to print a line).
    timeout : float, optional
        Seconds to wait for that process; None waits as long as it takes.

    Attributes
    ----------
    rejected : list of str
        Names of chunk files that :meth:`load` found damaged, forged or foreign.

    Raises
    ------
    ValueError
        Bad arguments, or on entering: ``folder`` is a file, holds another grid, was written by
        another fastopt version, or its manifest is invalid or disagrees with ``n_runs`` or
        ``schema``.
    TimeoutError
        On entering: another process still held the folder after ``timeout`` seconds.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        grid_fingerprint: str,
        n_runs: int,
        chunk_size: int,
        version: str,
        description: Mapping[str, object] | None,
        schema: Mapping[str, object],
        *,
        on_wait: Callable[[], None] | None = None,
        timeout: float | None = None,
    ):
        if not isinstance(folder, (str, os.PathLike)):
            raise TypeError(f"folder must be a path, got {type(folder).__name__}")
        if not isinstance(grid_fingerprint, str) or not _HEX64.fullmatch(grid_fingerprint):
            raise ValueError(f"grid_fingerprint must be 64 hex digits, got {grid_fingerprint!r}")
        n_runs = check_int("n_runs", n_runs, 1)
        chunk_size = check_int("chunk_size", chunk_size, 1)
        if not isinstance(version, str) or not version:
            raise ValueError(f"version must be a non-empty string, got {version!r}")
        if description is not None and not isinstance(description, Mapping):
            raise TypeError(f"description must be a mapping or None, got {description!r}")
        normalized = _normalize_schema(schema)
        problem = _schema_problem(normalized)
        if problem is not None:
            raise ValueError(f"schema {problem}")
        if on_wait is not None and not callable(on_wait):
            raise TypeError(f"on_wait must be callable or None, got {on_wait!r}")
        if timeout is not None and (
            not isinstance(timeout, numbers.Real) or isinstance(timeout, bool) or not timeout >= 0
        ):
            raise ValueError(f"timeout must be None or a number of seconds >= 0, got {timeout!r}")
        self.folder = Path(folder)
        self.fingerprint = grid_fingerprint
        self.n_runs = int(n_runs)
        self.chunk_size = min(int(chunk_size), self.n_runs)
        self.version = version
        self.description = dict(description or {})
        self.schema: dict = normalized  # type: ignore[assignment]
        self.rejected: list[str] = []
        self._on_wait = on_wait
        self._timeout = timeout
        self._lock: filelock.BaseFileLock | None = None
        self._manifest: dict | None = None

    # ------------------------------------------------------------------------ open and close

    def __enter__(self) -> Store:
        if self._lock is not None:
            raise RuntimeError(f"store {str(self.folder)!r} is already open")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ValueError(
                f"store {str(self.folder)!r} is not a folder (it, or a folder above it, is a file)"
            ) from None
        # Another grid is refused here, before the lock: a process that holds the folder may run
        # for hours, and the answer does not depend on it.
        self._claim()
        lock = filelock.FileLock(
            self.folder / LOCK, thread_local=False
        )  # saves come from any thread
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            if self._on_wait is not None:
                self._on_wait()
            try:
                lock.acquire(timeout=-1 if self._timeout is None else self._timeout)
            except filelock.Timeout:
                raise TimeoutError(
                    f"store {str(self.folder)!r} is still in use by another process after "
                    f"{self._timeout} s (it holds {str(self.folder / LOCK)!r})"
                ) from None
        try:
            # The folder may have been emptied and reused while we waited: check it again.
            self._claim()
            self._remove_stale_temporaries()
        except BaseException:
            lock.release()
            raise
        self._lock = lock
        self.rejected = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the folder (``with`` does it on exit); saving or loading is then an error."""
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.release()

    def _claim(self) -> None:
        """Create the manifest exclusively, or check that the one there is this grid's."""
        path = self.folder / MANIFEST
        manifest = None if path.exists() else self._create_manifest(path)
        if manifest is None:  # another process's (it may have won the race to create it)
            manifest = read_manifest(self.folder)
        if manifest["fingerprint"] != self.fingerprint:
            raise ValueError(
                f"store {str(self.folder)!r} holds another grid (fingerprint "
                f"{manifest['fingerprint'][:12]}, this one {self.fingerprint[:12]}); "
                "use a new folder, or delete this one to start over"
            )
        if manifest["fastopt"] != self.version:
            # Kernels may round differently from one release to the next: a grid resumed
            # under another version would mix the two, so it is refused (load_sweep reads it).
            raise ValueError(
                f"store {str(self.folder)!r} was written by fastopt "
                f"{manifest['fastopt']} and this is fastopt {self.version}; resuming would "
                "mix results of two kernel versions. Read it with fastopt.load_sweep, and "
                "run the grid again in a new folder"
            )
        # The same fingerprint with other counts or columns: the manifest was edited, or the
        # fingerprint misses a setting. Either way its chunks cannot be trusted for this grid.
        for what, theirs, ours in (("n_runs", manifest["n_runs"], self.n_runs),
                                   ("schema", manifest["schema"], self.schema)):  # fmt: skip
            if theirs != ours:
                raise ValueError(
                    f"{str(path)!r} is not a valid fastopt sweep manifest for this grid: {what} "
                    f"is {theirs!r}, this grid's is {ours!r}; delete the folder to start over"
                )
        self.chunk_size = manifest["chunk_size"]
        self._manifest = manifest

    def _create_manifest(self, path: Path) -> dict | None:
        """Write this grid's manifest unless one exists; None if another process was first."""
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "fastopt": self.version,
            "fingerprint": self.fingerprint,
            "n_runs": self.n_runs,
            "chunk_size": self.chunk_size,
            "n_chunks": self.n_chunks,
            "schema": self.schema,
            "grid": self.description,
        }
        text = json.dumps(manifest, indent=2, default=_json_default)
        tmp = self.folder / f".{MANIFEST}.{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_text(text, encoding="utf-8")
            try:
                # A hard link publishes the complete file under its name, and fails if the name
                # exists: never half-written, never overwritten (os.replace would overwrite).
                os.link(tmp, path)
            except FileExistsError:
                return None
            except OSError:  # no hard links on this file system (FAT, some SMB and FUSE)
                try:
                    with open(path, "x", encoding="utf-8") as f:
                        f.write(text)
                except FileExistsError:
                    return None
        finally:
            tmp.unlink(missing_ok=True)
        return json.loads(text)

    def _remove_stale_temporaries(self) -> None:
        # Chunk temporaries are only written under the lock, which we hold: any left were
        # written by a killed process. (Manifest temporaries are not: they belong to racers.)
        for pattern in (".chunk-*.tmp", "chunk-*.tmp-*"):  # this format's, and version 1's
            for path in self.folder.glob(pattern):
                path.unlink(missing_ok=True)

    def _require_open(self, action: str) -> dict:
        if self._lock is None or self._manifest is None:
            raise RuntimeError(
                f"store {str(self.folder)!r} is not open: {action} inside "
                "'with Store(...) as store:'"
            )
        return self._manifest

    # --------------------------------------------------------------------------------- chunks

    @property
    def n_chunks(self) -> int:
        """Number of chunks the grid is cut into."""
        return _n_chunks(self.n_runs, self.chunk_size)

    def _check_index(self, index: int) -> None:
        check_int("index", index, 0, self.n_chunks - 1)

    def bounds(self, index: int) -> tuple[int, int]:
        """Runs ``[start, stop)`` of chunk ``index``."""
        self._check_index(index)
        return _bounds(int(index), self.n_runs, self.chunk_size)

    def path(self, index: int) -> Path:
        """File of chunk ``index``."""
        self._check_index(index)
        return self.folder / _chunk_name(int(index))

    def save(self, index: int, result: SweepResult) -> None:
        """Write chunk ``index`` atomically.

        Raises
        ------
        RuntimeError
            The store is not open (outside its ``with``).
        TypeError, ValueError
            ``index`` out of range, or ``result`` is not a :class:`SweepResult` of this
            chunk's runs with the schema's columns, dtypes and shapes.
        """
        self._require_open("save")
        start, stop = self.bounds(index)
        index = int(index)
        if not isinstance(result, SweepResult):
            raise TypeError(f"chunk {index} must be a SweepResult, got {type(result).__name__}")
        problem = _result_problem(result, self.schema, stop - start)
        if problem is not None:
            raise ValueError(f"chunk {index} {problem}")
        # n_runs too: a chunk of an edited manifest (fewer runs, same bounds) is then refused.
        meta = {"fingerprint": self.fingerprint, "n_runs": self.n_runs, "index": index,
                "start": start, "stop": stop, "record_every": result.record_every}  # fmt: skip
        arrays = {"curves": result.curves, "meta": np.array(json.dumps(meta))}
        for name in self.schema["metrics"]:
            arrays[f"metric__{name}"] = result[name]
        arrays["configs"] = np.array(
            json.dumps({name: _to_json_column(result[name]) for name in self.schema["configs"]})
        )
        if result.params is not None:
            arrays["params"] = result.params
        final = self.path(index)
        tmp = self.folder / f".{final.name}.{uuid.uuid4().hex}.tmp"
        try:
            # Rename after a complete write: a killed process leaves a whole chunk or none. (No
            # fsync: it would cost ~20 ms a chunk, and the loader rejects a damaged file anyway.)
            with open(tmp, "xb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

    def load(self, index: int) -> SweepResult | None:
        """Chunk ``index`` if a valid file holds it, else None.

        A file that is there but fails validation is added to :attr:`rejected` (the sweep
        computes that chunk again). Config columns come back from JSON.

        Raises
        ------
        RuntimeError
            The store is not open (outside its ``with``).
        """
        manifest = self._require_open("load")
        path = self.path(index)
        if not path.exists():
            return None
        result = load_chunk(path, manifest, int(index))
        if result is None and path.name not in self.rejected:
            self.rejected.append(path.name)
        return result


# --------------------------------------------------------------------------------------------
# Reading chunks
# --------------------------------------------------------------------------------------------


def load_chunk(path: str | os.PathLike, manifest: dict, index: int) -> SweepResult | None:
    """Chunk ``index`` of a store, read from ``path``, or None if the file is not that chunk.

    Parameters
    ----------
    path : path
        The chunk file.
    manifest : dict
        The store's manifest, as :func:`read_manifest` returns it.
    index : int
        Which chunk the file should hold.

    Returns
    -------
    SweepResult or None
        None when the file does not load (truncated, not a zip of ``.npy`` members, an object
        array), belongs to another grid or chunk, or differs from ``manifest["schema"]`` in any
        member, name, dtype or shape. Nothing is unpickled.
    """
    schema = manifest["schema"]
    start, stop = _bounds(index, manifest["n_runs"], manifest["chunk_size"])
    n = stop - start
    checks = {"meta": expect_text(_META_BYTES), "configs": expect_text(_CONFIG_BYTES_PER_RUN * n),
              "curves": expect((n, schema["n_records"]), np.float64)}  # fmt: skip
    for name, dtype in schema["metrics"].items():
        checks[f"metric__{name}"] = expect((n,), dtype)
    if schema["n_params"] is not None:
        checks["params"] = expect((n, schema["n_params"]), schema["params_dtype"])
    try:  # every member's header is checked before its data is read: nothing is unpickled
        with NpzReader(path) as npz:
            npz.require(checks)
            members = {name: npz.read(name, check) for name, check in checks.items()}
    except (ArchiveError, OSError):
        return None
    meta = _parse_json(members["meta"].item())
    if not isinstance(meta, dict) or sorted(meta) != sorted(_META_FIELDS):
        return None
    if meta["fingerprint"] != manifest["fingerprint"]:
        return None
    wanted = {"n_runs": manifest["n_runs"], "index": index, "start": start, "stop": stop,
              "record_every": schema["record_every"]}  # fmt: skip
    if not all(_is_int(meta[key]) and meta[key] == value for key, value in wanted.items()):
        return None
    columns = _parse_json(members["configs"].item())
    if not isinstance(columns, dict) or list(columns) != schema["configs"]:
        return None
    configs = {}
    for name, text in columns.items():
        values = _parse_json(text) if isinstance(text, str) else None
        if not isinstance(values, list) or len(values) != n:
            return None
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        configs[name] = np.array(values) if numeric else _object_array(values)
    metrics = {name: members[f"metric__{name}"] for name in schema["metrics"]}
    params = members.get("params")
    return SweepResult(configs, metrics, members["curves"], schema["record_every"], params)


def _parse_json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _object_array(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = tuple(v) if isinstance(v, list) else v
    return out


def _scan(folder: Path, manifest: dict) -> Iterator[tuple[str, int, SweepResult | None]]:
    """Each chunk of a store: its file name, its number of runs and what it holds.

    The part is None for a file that is missing or rejected (told apart by the file's presence).
    """
    for index in range(manifest["n_chunks"]):
        start, stop = _bounds(index, manifest["n_runs"], manifest["chunk_size"])
        path = folder / _chunk_name(index)
        part = load_chunk(path, manifest, index) if path.exists() else None
        yield path.name, stop - start, part


def _survey(folder: Path, manifest: dict, keep: bool) -> tuple[list[SweepResult], int, list[str]]:
    parts, rejected, missing = [], [], 0
    for name, size, part in _scan(folder, manifest):
        if part is None:
            missing += size
            if (folder / name).exists():
                rejected.append(name)
        elif keep:
            parts.append(part)
    return parts, missing, rejected


def store_status(folder: str | os.PathLike) -> dict:
    """How far a store folder is, every file validated (the folder is not locked).

    Parameters
    ----------
    folder : path
        A store folder.

    Returns
    -------
    dict
        ``folder`` (str), ``fastopt`` (the version that wrote it), ``fingerprint``, ``n_runs``,
        ``chunk_size``, ``n_chunks``, ``stored_runs``, ``missing_runs`` (including those of
        rejected files), ``rejected_files`` (names of chunk files that are damaged, forged or
        foreign) and ``complete`` (bool).

    Raises
    ------
    ValueError
        As :func:`read_manifest`: ``folder`` is a file, holds no manifest, or a corrupt one.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    _, missing, rejected = _survey(folder, manifest, keep=False)
    return {
        "folder": str(folder),
        "fastopt": manifest["fastopt"],
        "fingerprint": manifest["fingerprint"],
        "n_runs": manifest["n_runs"],
        "chunk_size": manifest["chunk_size"],
        "n_chunks": manifest["n_chunks"],
        "stored_runs": manifest["n_runs"] - missing,
        "missing_runs": missing,
        "rejected_files": rejected,
        "complete": missing == 0,
    }


def load_sweep(folder: str | os.PathLike) -> SweepResult:
    """The :class:`SweepResult` of what a store holds, complete or not.

    ``result.info`` says how many runs are stored and missing (``n_runs``, ``missing_runs``,
    ``complete``) and which files were rejected as damaged, forged or foreign
    (``rejected_files``); ``grid`` is the manifest's description. Config columns come back
    from JSON: schedules and optimizer objects as their ``repr`` strings. The folder is not
    locked: a sweep writing it meanwhile adds whole chunks only.

    Raises
    ------
    ValueError
        As :func:`read_manifest`, or no chunk is stored yet.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    n_runs = manifest["n_runs"]
    parts, missing, rejected = _survey(folder, manifest, keep=True)
    if not parts:
        raise ValueError(f"store {str(folder)!r} holds no finished chunk yet ({n_runs} missing)")
    info = {"n_runs": n_runs, "missing_runs": missing, "complete": missing == 0,
            "rejected_files": rejected, "grid": manifest["grid"]}  # fmt: skip
    result = SweepResult.concat(parts) if len(parts) > 1 else parts[0]
    return result.replace(info={**result.info, **info})
