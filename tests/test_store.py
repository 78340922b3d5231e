"""The chunk store (races, forged files, status) and chunked sweeps: memory limit, store and
resume, executors."""

import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import fastopt
from fastopt import MLP, load_sweep, sweep
from fastopt import store as store_module
from fastopt.results import SweepResult
from fastopt.store import Store, fingerprint, read_manifest, store_status

# --------------------------------------------------------------------------------------------
# The store alone: fake chunks, no training
# --------------------------------------------------------------------------------------------

SCHEMA = {
    "metrics": {"final_loss": "float64", "diverged": "bool", "steps_done": "int64"},
    "configs": ["optimizer", "lr", "seed", "gc"],
    "n_records": 8,
    "n_params": 3,
    "params_dtype": "float32",
    "record_every": 5,
}
FINGERPRINTS = {"a": fingerprint({"grid": "a"}), "b": fingerprint({"grid": "b"})}
N_RUNS, CHUNK = 10, 4  # three chunks: 4, 4 and 2 runs
TESTS = Path(__file__).resolve().parent


def fake(start, stop, tag=0.0):
    """Runs [start, stop) of a fake grid; ``tag`` marks who computed them."""
    runs = np.arange(start, stop)
    n = len(runs)
    gc = np.empty(n, dtype=object)
    gc[:] = [None if r % 2 else "grad" for r in runs]
    configs = {"optimizer": np.array(["adam"] * n, dtype=object), "lr": 0.1 * (runs + 1),
               "seed": runs.astype(np.int64), "gc": gc}  # fmt: skip
    metrics = {"final_loss": runs + tag, "diverged": runs % 3 == 0,
               "steps_done": runs.astype(np.int64)}  # fmt: skip
    curves = np.linspace(1, 0, 8) * (runs[:, None] + 1.0) + tag
    params = (tag + runs[:, None] + np.zeros(3)).astype(np.float32)
    return SweepResult(configs, metrics, curves, 5, params)


def open_store(folder, grid="a", n_runs=N_RUNS, chunk_size=CHUNK, schema=SCHEMA, **kwargs):
    return Store(folder, FINGERPRINTS[grid], n_runs, chunk_size, fastopt.__version__,
                 {"grid": grid}, schema, **kwargs)  # fmt: skip


def fill(folder, grid="a", tag=0.0, indices=None):
    with open_store(folder, grid) as store:
        for i in range(store.n_chunks) if indices is None else indices:
            store.save(i, fake(*store.bounds(i), tag))


def assert_same_chunk(a, b):
    assert a.config_names == b.config_names and a.metric_names == b.metric_names
    for name in a.columns:
        assert a[name].tolist() == b[name].tolist(), name
        if name in a.metric_names:
            assert a[name].dtype == b[name].dtype, name
    np.testing.assert_array_equal(a.curves, b.curves)
    assert a.params.dtype == b.params.dtype
    np.testing.assert_array_equal(a.params, b.params)
    assert a.record_every == b.record_every


def test_store_round_trip(tmp_path):
    fill(tmp_path / "s", tag=0.5)
    with open_store(tmp_path / "s") as store:
        assert store.n_chunks == 3 and store.bounds(2) == (8, 10)
        for i in range(3):
            assert_same_chunk(store.load(i), fake(*store.bounds(i), 0.5))
        assert store.rejected == []
    whole = load_sweep(tmp_path / "s")
    assert_same_chunk(whole, fake(0, N_RUNS, 0.5))
    assert whole.info["complete"] and whole.info["grid"] == {"grid": "a"}
    status = store_status(tmp_path / "s")
    assert status == {
        "folder": str(tmp_path / "s"), "fastopt": fastopt.__version__,
        "fingerprint": FINGERPRINTS["a"], "n_runs": 10, "chunk_size": 4, "n_chunks": 3,
        "stored_runs": 10, "missing_runs": 0, "rejected_files": [], "complete": True,
    }  # fmt: skip
    manifest = read_manifest(tmp_path / "s")
    assert manifest["schema"] == SCHEMA and manifest["n_chunks"] == 3


def test_a_store_keeps_its_own_chunk_size(tmp_path):
    fill(tmp_path / "s", indices=[0])
    with open_store(tmp_path / "s", chunk_size=3) as store:
        assert store.chunk_size == CHUNK and store.n_chunks == 3
        assert store.load(0) is not None


def test_save_and_load_need_the_with(tmp_path):
    store = open_store(tmp_path / "s")
    with pytest.raises(RuntimeError, match="not open: save inside 'with Store"):
        store.save(0, fake(0, 4))
    with store:
        store.save(0, fake(0, 4))
    with pytest.raises(RuntimeError, match="not open: load"):
        store.load(0)
    with open_store(tmp_path / "s") as again:
        with pytest.raises(RuntimeError, match="already open"):
            again.__enter__()


def drop_metric(r):
    return SweepResult({n: r[n] for n in r.config_names},
                       {n: r[n] for n in r.metric_names if n != "diverged"}, r.curves,
                       r.record_every, r.params)  # fmt: skip


def replace(r, *, curves=None, params="keep", record_every=None, configs=None, **metrics):
    return SweepResult(
        configs if configs is not None else {n: r[n] for n in r.config_names},
        {n: metrics.get(n, r[n]) for n in r.metric_names},
        r.curves if curves is None else curves,
        record_every or r.record_every,
        r.params if isinstance(params, str) else params,
    )


BAD_RESULTS = {
    "runs": (lambda r: fake(0, 3), "needs 4 runs, got 3"),
    "missing metric": (drop_metric, "has metric columns"),
    "metric dtype": (lambda r: replace(r, final_loss=r["final_loss"].astype(np.float32)),
                     "metric 'final_loss' is float32, the schema says float64"),
    "curves": (lambda r: replace(r, curves=r.curves[:, :5]), r"curves have shape \(4, 5\)"),
    "no params": (lambda r: replace(r, params=None), "params are missing"),
    "params width": (lambda r: replace(r, params=r.params[:, :2]), "params are float32"),
    "params dtype": (lambda r: replace(r, params=r.params.astype(float)), "params are float64"),
    "record_every": (lambda r: replace(r, record_every=10), "records every 10 steps"),
    "configs": (lambda r: replace(r, configs={"optimizer": r["optimizer"]}), "has config columns"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_RESULTS)
def test_save_checks_the_result_against_the_schema(tmp_path, case):
    edit, message = BAD_RESULTS[case]
    with open_store(tmp_path / "s") as store:
        with pytest.raises(ValueError, match=f"chunk 0 {message}"):
            store.save(0, edit(fake(0, 4)))
        with pytest.raises(TypeError, match="must be a SweepResult"):
            store.save(0, {"final_loss": [1.0]})
        with pytest.raises(ValueError, match="index must be <= 2, got 3"):
            store.save(3, fake(0, 4))
    assert not list((tmp_path / "s").glob("*chunk*"))


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"grid_fingerprint": "abc"}, ValueError, "grid_fingerprint must be 64 hex digits"),
        ({"n_runs": 0}, ValueError, "n_runs must be >= 1"),
        ({"chunk_size": True}, TypeError, "chunk_size must be an int"),
        ({"version": ""}, ValueError, "version must be a non-empty string"),
        ({"schema": {**SCHEMA, "n_records": -1}}, ValueError, "schema n_records must be"),
        ({"schema": {**SCHEMA, "metrics": {"x": "object"}}}, ValueError, r"schema metrics\['x'\]"),
        ({"schema": {**SCHEMA, "n_params": None}}, ValueError, "schema params_dtype must be null"),
        ({"timeout": -1}, ValueError, "timeout must be None or a number of seconds >= 0"),
        ({"on_wait": "print"}, TypeError, "on_wait must be callable"),
    ],
)  # fmt: skip
def test_bad_store_arguments(tmp_path, change, error, message):
    args = dict(folder=tmp_path / "s", grid_fingerprint=FINGERPRINTS["a"], n_runs=10,
                chunk_size=4, version="1.0", description=None, schema=SCHEMA)  # fmt: skip
    with pytest.raises(error, match=message):
        Store(**{**args, **change})


def test_schema_dtypes_may_be_given_as_numpy_dtypes(tmp_path):
    schema = {**SCHEMA, "metrics": {"final_loss": np.float64, "diverged": np.dtype(bool),
                                    "steps_done": "i8"}, "params_dtype": np.float32}  # fmt: skip
    fill(tmp_path / "s")  # written with the names
    with open_store(tmp_path / "s", schema=schema) as store:
        assert store.schema == SCHEMA and store.load(0) is not None


def test_another_grid_or_version_is_refused(tmp_path):
    fill(tmp_path / "s", indices=[0])
    with pytest.raises(ValueError, match="holds another grid"):
        open_store(tmp_path / "s", "b").__enter__()
    manifest = tmp_path / "s" / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text.replace(f'"fastopt": "{fastopt.__version__}"', '"fastopt": "0.0.1"'))
    with pytest.raises(ValueError, match=r"written by fastopt 0\.0\.1 .* mix results"):
        open_store(tmp_path / "s").__enter__()
    assert load_sweep(tmp_path / "s").info["missing_runs"] == 6  # still readable


@pytest.mark.parametrize(
    "change, message",
    [({"n_runs": 12}, "n_runs is 10, this grid's is 12"),
     ({"schema": {**SCHEMA, "n_records": 9}}, "schema is")],
)  # fmt: skip
def test_the_same_fingerprint_with_other_counts_is_refused(tmp_path, change, message):
    fill(tmp_path / "s", indices=[0])
    with pytest.raises(
        ValueError, match=f"not a valid fastopt sweep manifest for this grid: {message}"
    ):
        open_store(tmp_path / "s", **change).__enter__()


def test_folder_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        open_store(tmp_path / "f").__enter__()
    with pytest.raises(ValueError, match="is not a folder"):
        open_store(tmp_path / "f" / "below").__enter__()


def test_stale_temporaries_are_removed_on_entering(tmp_path):
    fill(tmp_path / "s", indices=[0])
    stale = [
        tmp_path / "s" / ".chunk-000001.npz.0123abcd.tmp",
        tmp_path / "s" / "chunk-000002.tmp-99",
    ]
    for path in stale:
        path.write_bytes(b"half a chunk")
    with open_store(tmp_path / "s") as store:
        assert store.load(1) is None and store.rejected == []
    assert not any(path.exists() for path in stale)
    assert sorted(p.name for p in (tmp_path / "s").iterdir() if p.name != ".lock") == [
        "chunk-000000.npz", "manifest.json"]  # fmt: skip


# ---------------------------------------------------------------------------------- races


def test_same_grid_in_one_process_waits_then_times_out(tmp_path):
    calls = []
    with open_store(tmp_path / "s") as holder:
        holder.save(0, fake(0, 4))
        second = open_store(tmp_path / "s", on_wait=lambda: calls.append(1), timeout=0.2)
        with pytest.raises(TimeoutError, match=f"store {str(tmp_path / 's')!r} is still in use"):
            second.__enter__()
        assert calls == [1]
        with pytest.raises(RuntimeError, match="not open"):
            second.load(0)
    with second:  # free now: the same object opens without waiting
        assert second.load(0) is not None
    assert calls == [1]


def test_another_grid_fails_at_once_while_the_folder_is_held(tmp_path):
    calls = []
    with open_store(tmp_path / "s") as holder:
        holder.save(0, fake(0, 4))
        # timeout: an implementation that waited would fail with TimeoutError, not hang.
        other = open_store(tmp_path / "s", "b", on_wait=lambda: calls.append(1), timeout=30)
        with pytest.raises(ValueError, match="holds another grid"):
            other.__enter__()
    assert calls == []
    assert read_manifest(tmp_path / "s")["fingerprint"] == FINGERPRINTS["a"]


def test_the_manifest_is_checked_again_after_the_wait(tmp_path):
    folder = tmp_path / "s"
    holder = open_store(folder).__enter__()

    def on_wait():
        # While this process waits, the holder finishes, the folder is emptied and another
        # grid takes it.
        holder.close()
        for path in folder.iterdir():
            path.unlink()
        fill(folder, "b", indices=[0])

    with pytest.raises(ValueError, match="holds another grid"):
        open_store(folder, on_wait=on_wait, timeout=30).__enter__()
    with open_store(folder, "b", timeout=30) as store:  # the lock was let go
        assert store.load(0) is not None


@pytest.mark.parametrize("links", [True, False], ids=["hard-links", "no-hard-links"])
def test_manifest_race_lost_at_the_worst_moment(tmp_path, monkeypatch, links):
    # Another process creates its manifest between our "is there one?" and our creating ours.
    real_link = os.link
    rival = {}

    def link(src, dst):
        if not rival:
            rival["store"] = open_store(tmp_path / "s", "b")  # its own link comes back here
            rival["store"].__enter__()
            rival["store"].save(0, fake(0, 4, tag=7.0))
        if not links:
            raise PermissionError(1, "Operation not permitted")
        return real_link(src, dst)

    monkeypatch.setattr(store_module.os, "link", link)
    with pytest.raises(ValueError, match="holds another grid"):
        open_store(tmp_path / "s", "a").__enter__()
    rival["store"].close()
    assert read_manifest(tmp_path / "s")["fingerprint"] == FINGERPRINTS["b"]
    assert load_sweep(tmp_path / "s")["final_loss"].tolist() == [7.0, 8.0, 9.0, 10.0]
    assert not [p for p in (tmp_path / "s").iterdir() if p.name.endswith(".tmp")]


def test_no_hard_links_still_creates_the_manifest(tmp_path, monkeypatch):
    def link(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(store_module.os, "link", link)
    fill(tmp_path / "s")
    assert load_sweep(tmp_path / "s").info["complete"]


def race_child(folder, grid, tag, ready, go):
    """One of two processes that open a store at the same moment (run by the tests below)."""
    Path(ready).touch()
    deadline = time.monotonic() + 300
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    try:
        fill(folder, grid, float(tag))
    except ValueError as exc:
        print(f"ValueError: {exc}")
    else:
        print("ok")


def waiting_child(folder, waiting):
    """Opens a store another process holds; says which chunks it found there."""
    waits = []

    def on_wait():
        waits.append(1)
        Path(waiting).touch()

    with open_store(folder, on_wait=on_wait, timeout=300) as store:
        found = [i for i in range(store.n_chunks) if store.load(i) is not None]
        for i in sorted(set(range(store.n_chunks)) - set(found)):
            store.save(i, fake(*store.bounds(i), tag=2.0))
    print(json.dumps({"found": found, "waits": len(waits)}))


def child(function, *args):
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_store; " \
           f"test_store.{function}(*sys.argv[1:])"  # fmt: skip
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_two_processes_start_different_grids_on_one_new_folder(tmp_path):
    folder, go = tmp_path / "s", tmp_path / "go"
    ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
    procs = [child("race_child", folder, grid, tag, r, go)
             for grid, tag, r in (("a", 1.0, ready[0]), ("b", 2.0, ready[1]))]  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        go.touch()  # both are polling for it: they open the store at the same moment
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], outputs
    results = [out.strip() for out, _ in outputs]
    assert sorted(r.split(":")[0] for r in results) == ["ValueError", "ok"], outputs
    loser = next(r for r in results if r != "ok")
    assert "holds another grid" in loser
    winner = "ab"[results.index("ok")]
    assert read_manifest(folder)["fingerprint"] == FINGERPRINTS[winner]
    whole = load_sweep(folder)
    assert whole.info["complete"] and whole.info["rejected_files"] == []
    assert_same_chunk(whole, fake(0, N_RUNS, {"a": 1.0, "b": 2.0}[winner]))


def test_same_grid_in_a_second_process_waits_then_resumes(tmp_path):
    folder, waiting = tmp_path / "s", tmp_path / "waiting"
    with open_store(folder) as store:
        store.save(0, fake(0, 4, tag=1.0))
        proc = child("waiting_child", folder, waiting)
        try:
            deadline = time.monotonic() + 300
            while not waiting.exists() and time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.01)
            assert waiting.exists(), "the second process never waited for the lock"
            # Saved while the other waits: it must find this chunk when it gets the folder.
            store.save(1, fake(4, 8, tag=1.0))
        except BaseException:
            proc.kill()
            raise
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert json.loads(out) == {"found": [0, 1], "waits": 1}
    whole = load_sweep(folder)
    assert whole.info["complete"] and whole.info["rejected_files"] == []
    assert whole["final_loss"].tolist() == [*(np.arange(8) + 1.0), 10.0, 11.0]


# ------------------------------------------------------------------------ forged manifests

DROP = object()


def forge(folder, **fields):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    for key, value in fields.items():
        if value is DROP:
            del manifest[key]
        else:
            manifest[key] = value
    path.write_text(json.dumps(manifest))


def schema_with(**changes):
    return {**SCHEMA, **changes}


MANIFEST_FORGERIES = {
    "n_runs 0": ({"n_runs": 0}, "n_runs"),
    "n_runs str": ({"n_runs": "10"}, "n_runs"),
    "n_runs float": ({"n_runs": 10.0}, "n_runs"),
    "n_runs bool": ({"n_runs": True}, "n_runs"),
    "n_runs missing": ({"n_runs": DROP}, "n_runs"),
    "n_runs 16": ({"n_runs": 16}, "n_chunks"),
    "chunk_size 0": ({"chunk_size": 0}, "chunk_size"),
    "chunk_size str": ({"chunk_size": "16"}, "chunk_size"),
    "chunk_size float": ({"chunk_size": 1.5}, "chunk_size"),
    "chunk_size bool": ({"chunk_size": True}, "chunk_size"),
    "chunk_size missing": ({"chunk_size": DROP}, "chunk_size"),
    "chunk_size > n_runs": ({"chunk_size": 16, "n_chunks": 1}, "chunk_size"),
    "chunk_size 3": ({"chunk_size": 3}, "n_chunks"),
    "n_chunks": ({"n_chunks": 4}, "n_chunks"),
    "n_chunks str": ({"n_chunks": "3"}, "n_chunks"),
    "fingerprint short": ({"fingerprint": "abc123"}, "fingerprint"),
    "fingerprint upper": ({"fingerprint": FINGERPRINTS["a"].upper()}, "fingerprint"),
    "fingerprint int": ({"fingerprint": 7}, "fingerprint"),
    "fastopt": ({"fastopt": 2}, "fastopt"),
    "format": ({"format": "numpy"}, "format"),
    "version 1": ({"version": 1}, "version"),
    "version str": ({"version": str(store_module.VERSION)}, "version"),
    "grid": ({"grid": [1, 2]}, "grid"),
    "extra field": ({"owner": "me"}, r"\['owner'\]"),
    "schema missing": ({"schema": DROP}, "schema"),
    "schema list": ({"schema": []}, "schema must be a JSON object"),
    "schema dtype": ({"schema": schema_with(metrics={"final_loss": "object"})}, "schema"),
    "schema dtype alias": ({"schema": schema_with(metrics={"final_loss": "f8"})}, "schema"),
    "schema dtype syntax": ({"schema": schema_with(metrics={"final_loss": "i4,("})}, "schema"),
    "schema no name": ({"schema": schema_with(metrics={"": "float64"})}, "schema metrics has"),
    "schema configs": ({"schema": schema_with(configs="optimizer")}, "schema configs"),
    "schema overlap": ({"schema": schema_with(configs=["final_loss"])}, "schema"),
    "schema n_records": ({"schema": schema_with(n_records=-1)}, "schema n_records"),
    "schema n_params": ({"schema": schema_with(n_params=0)}, "schema n_params"),
    "schema params_dtype": ({"schema": schema_with(params_dtype="int8")}, "schema params_dtype"),
    "schema record_every": ({"schema": schema_with(record_every=True)}, "schema record_every"),
    "schema extra key": ({"schema": schema_with(layout="W1")}, "schema must have exactly"),
}  # fmt: skip


@pytest.mark.parametrize("case", MANIFEST_FORGERIES)
def test_forged_manifest_is_a_clear_error(tmp_path, case):
    fields, field = MANIFEST_FORGERIES[case]
    folder = tmp_path / "s"
    fill(folder)
    forge(folder, **fields)
    path = str(folder / "manifest.json")
    message = re.escape(f"{path!r} is not a valid fastopt sweep manifest: ") + field
    for reader in (read_manifest, load_sweep, store_status):
        with pytest.raises(ValueError, match=message):
            reader(folder)
    with pytest.raises(ValueError, match="is not a valid fastopt sweep manifest"):
        open_store(folder).__enter__()


@pytest.mark.parametrize(
    "content, message",
    [(b"[1, 2]", "not a valid fastopt sweep manifest: the file is a JSON list, not an object"),
     (b'{"n_runs": "\xff\xfe"}', "not a readable sweep manifest: not UTF-8 text"),
     (b"{not json", "not a readable sweep manifest: not JSON"),
     (b"", "not a readable sweep manifest: not JSON")],
)  # fmt: skip
def test_unreadable_manifest(tmp_path, content, message):
    fill(tmp_path / "s", indices=[0])
    (tmp_path / "s" / "manifest.json").write_bytes(content)
    for reader in (read_manifest, load_sweep, store_status):
        with pytest.raises(ValueError, match=message):
            reader(tmp_path / "s")
    with pytest.raises(ValueError, match=message):
        open_store(tmp_path / "s").__enter__()


def test_consistently_edited_counts_reject_every_chunk(tmp_path):
    # n_runs and n_chunks edited together make a valid manifest: the chunks say otherwise.
    fill(tmp_path / "s")
    forge(tmp_path / "s", n_runs=8, n_chunks=2)
    status = store_status(tmp_path / "s")
    assert status["rejected_files"] == ["chunk-000000.npz", "chunk-000001.npz"]
    assert status["stored_runs"] == 0 and not status["complete"]
    with pytest.raises(ValueError, match="holds no finished chunk yet"):
        load_sweep(tmp_path / "s")
    with pytest.raises(ValueError, match="n_runs is 8, this grid's is 10"):
        open_store(tmp_path / "s").__enter__()


def test_store_status_of_what_is_not_a_store(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="it is a file, not a folder"):
        store_status(tmp_path / "file")
    with pytest.raises(ValueError, match=r"'.*missing' is not a sweep store \(no manifest.json\)"):
        store_status(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is not a sweep store"):
        store_status(tmp_path / "empty")
    with pytest.raises(ValueError, match="is not a sweep store"):
        store_status(tmp_path / "file" / "below")


def test_store_status_of_a_partial_store(tmp_path):
    fill(tmp_path / "s", indices=[0, 2])
    (tmp_path / "s" / "chunk-000002.npz").write_bytes(b"")
    status = store_status(tmp_path / "s")
    assert (status["stored_runs"], status["missing_runs"], status["complete"]) == (4, 6, False)
    assert status["rejected_files"] == ["chunk-000002.npz"]


# --------------------------------------------------------------------------- forged chunks


def edit_members(edit):
    def forge_chunk(path):
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        edit(arrays)
        with open(path, "wb") as f:
            np.savez(f, **arrays)

    return forge_chunk


def edit_json(member, **changes):
    def edit(arrays):
        value = json.loads(str(arrays[member]))
        for key, new in changes.items():
            if new is DROP:
                del value[key]
            else:
                value[key] = new
        arrays[member] = np.array(json.dumps(value))

    return edit_members(edit)


def set_member(name, value):
    def edit(arrays):
        arrays[name] = value(arrays[name]) if callable(value) else value

    return edit_members(edit)


def drop_member(name):
    return edit_members(lambda arrays: arrays.pop(name))


class Payload:
    """Unpickling it would make a folder: proof that loaders never unpickle."""

    marker = ""

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def pickled_metric(path):
    payload = Payload()
    payload.marker = str(path.parent.parent / "unpickled")
    column = np.empty(4, dtype=object)
    column[:] = [payload] * 4
    set_member("metric__final_loss", column)(path)


def write(content):
    return lambda path: path.write_bytes(content(path) if callable(content) else content)


def npy_file(path):
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))


CHUNK_FORGERIES = {
    "curves cut to 5 columns": set_member("curves", lambda c: c[:, :5].copy()),
    "curves float32": set_member("curves", lambda c: c.astype(np.float32)),
    "curves missing": drop_member("curves"),
    "metric dtype": set_member("metric__final_loss", lambda m: m.astype(np.float32)),
    "bool metric as int": set_member("metric__diverged", lambda m: m.astype(np.int64)),
    "metric too short": set_member("metric__steps_done", lambda m: m[:3].copy()),
    "metric 2-D": set_member("metric__final_loss", lambda m: m[:, None].copy()),
    "metric missing": drop_member("metric__diverged"),
    "metric extra": set_member("metric__val_loss", np.zeros(4)),
    "params width": set_member("params", lambda p: p[:, :2].copy()),
    "params dtype": set_member("params", lambda p: p.astype(np.float64)),
    "params missing": drop_member("params"),
    "extra member": set_member("layout", np.zeros(3)),
    "configs column missing": edit_json("configs", gc=DROP),
    "configs column extra": edit_json("configs", momentum=json.dumps([0.9] * 4)),
    "configs column short": edit_json("configs", seed=json.dumps([4, 5, 6])),
    "configs column not json": edit_json("configs", lr="[0.5, 0.6,"),
    "configs not json": set_member("configs", np.array("{")),
    "configs not text": set_member("configs", np.zeros(2)),
    "meta index": edit_json("meta", index=2),
    "meta index true": edit_json("meta", index=True),
    "meta start": edit_json("meta", start=3),
    "meta n_runs": edit_json("meta", n_runs=8),
    "meta record_every": edit_json("meta", record_every=10),
    "meta fingerprint": edit_json("meta", fingerprint=FINGERPRINTS["b"]),
    "meta field missing": edit_json("meta", stop=DROP),
    "meta not json": set_member("meta", np.array("not json")),
    "chunk 0 as chunk 1": lambda path: shutil.copy(path.with_name("chunk-000000.npz"), path),
    "pickled object metric": pickled_metric,
    "random bytes": write(lambda path: np.random.default_rng(0).bytes(path.stat().st_size)),
    "empty file": write(b""),
    "truncated zip": write(lambda path: path.read_bytes()[: path.stat().st_size // 2]),
    "zip cut at the end": write(lambda path: path.read_bytes()[:-10]),
    "npy, not npz": npy_file,
}  # fmt: skip


@pytest.mark.parametrize("case", CHUNK_FORGERIES)
def test_forged_chunk_is_rejected_never_merged(tmp_path, case):
    folder = tmp_path / "s"
    fill(folder, tag=0.5)
    CHUNK_FORGERIES[case](folder / "chunk-000001.npz")
    with open_store(folder) as store:
        assert store.load(1) is None
        assert store.load(1) is None  # listed once
        assert store.rejected == ["chunk-000001.npz"]
        assert_same_chunk(store.load(0), fake(0, 4, 0.5))
        store.load(2)
    partial = load_sweep(folder)
    assert partial.info["rejected_files"] == ["chunk-000001.npz"]
    assert partial.info["missing_runs"] == 4 and not partial.info["complete"]
    assert partial["seed"].tolist() == [0, 1, 2, 3, 8, 9]
    assert partial.curves.shape == (6, 8) and partial.params.shape == (6, 3)
    status = store_status(folder)
    assert status["rejected_files"] == ["chunk-000001.npz"] and status["stored_runs"] == 6
    assert not (tmp_path / "unpickled").exists()
    # The sweep computes a rejected chunk again: saving over it heals the store.
    with open_store(folder) as store:
        store.save(1, fake(4, 8, 0.5))
    assert_same_chunk(load_sweep(folder), fake(0, N_RUNS, 0.5))


def bare_columns(r):
    return {n: r[n] for n in r.config_names}, {n: r[n] for n in r.metric_names}


def test_chunk_without_params_or_curves(tmp_path):
    schema = {**SCHEMA, "n_records": 0, "n_params": None, "params_dtype": None}
    r = fake(0, 4)
    bare = SweepResult(*bare_columns(r), np.empty((4, 0)), 5)
    with open_store(tmp_path / "s", n_runs=4, schema=schema) as store:
        with pytest.raises(ValueError, match="params are present"):
            store.save(0, SweepResult(*bare_columns(r), np.empty((4, 0)), 5, r.params))
        store.save(0, bare)
        back = store.load(0)
    assert back.params is None and back.curves.shape == (4, 0)
    assert back["gc"].tolist() == ["grad", None, "grad", None]


# --------------------------------------------------------------------------------------------
# Chunked sweeps (fastopt.sweep with memory_limit, store=, executor=)
# --------------------------------------------------------------------------------------------

NET = MLP([3, 5, 2], activation="tanh")
GRID = dict(optimizer=["sgd", "adam"], lr=[0.003, 0.03, 0.3], seed=[0, 1], steps=20,
            return_params=True)  # fmt: skip


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3)).astype(np.float32)
    return X, np.tanh(X[:, :2] * 1.5).astype(np.float32)


def assert_same_runs(a, b):
    assert a.columns == b.columns
    for name in a.columns:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    np.testing.assert_array_equal(a.curves, b.curves)
    np.testing.assert_array_equal(a.params, b.params)


def test_chunks_give_the_same_table():
    X, Y = data()
    whole = sweep(NET, X, Y, **GRID)
    # About one run's worth of memory per chunk: every run is its own chunk.
    chunked = sweep(NET, X, Y, memory_limit=2000, **GRID)
    assert chunked.info["n_chunks"] > 1
    assert_same_runs(whole, chunked)


def test_store_resumes_without_recomputing(tmp_path):
    X, Y = data()
    first = sweep(NET, X, Y, memory_limit=5_000, store=tmp_path / "s", **GRID)
    assert first.info["resumed_chunks"] == 0
    again = sweep(NET, X, Y, memory_limit=5_000, store=tmp_path / "s", **GRID)
    assert again.info["resumed_chunks"] == again.info["n_chunks"] > 1
    assert_same_runs(first, again)
    loaded = load_sweep(tmp_path / "s")
    assert loaded.info["complete"] and loaded.info["missing_runs"] == 0
    np.testing.assert_array_equal(loaded.curves, first.curves)
    np.testing.assert_array_equal(loaded["final_loss"], first["final_loss"])
    assert loaded["optimizer"].tolist() == first["optimizer"].tolist()


def test_changed_grid_on_the_same_store_raises(tmp_path):
    X, Y = data()
    sweep(NET, X, Y, store=tmp_path / "s", **GRID)
    with pytest.raises(ValueError, match="holds another grid"):
        sweep(NET, X, Y, store=tmp_path / "s", **{**GRID, "lr": [0.003, 0.03]})
    with pytest.raises(ValueError, match="holds another grid"):
        sweep(NET, X * 2, Y, store=tmp_path / "s", **GRID)


def test_truncated_and_foreign_chunks_are_not_loaded(tmp_path):
    X, Y = data()
    reference_run = sweep(NET, X, Y, **GRID)
    sweep(NET, X, Y, memory_limit=5_000, store=tmp_path / "s", **GRID)
    sweep(NET, X, Y, memory_limit=5_000, store=tmp_path / "other", **{**GRID, "steps": 21})
    chunks = sorted((tmp_path / "s").glob("chunk-*.npz"))
    assert len(chunks) >= 3
    raw = chunks[0].read_bytes()
    chunks[0].write_bytes(raw[: len(raw) // 2])  # truncated
    shutil.copy(sorted((tmp_path / "other").glob("chunk-*.npz"))[1], chunks[1])  # foreign
    partial = load_sweep(tmp_path / "s")
    assert partial.info["missing_runs"] > 0 and not partial.info["complete"]
    assert sorted(partial.info["rejected_files"]) == [chunks[0].name, chunks[1].name]
    resumed = sweep(NET, X, Y, memory_limit=5_000, store=tmp_path / "s", **GRID)
    assert sorted(resumed.info["rejected_files"]) == [chunks[0].name, chunks[1].name]
    assert_same_runs(resumed, reference_run)
    assert load_sweep(tmp_path / "s").info["complete"]


def test_load_sweep_of_a_partial_store(tmp_path):
    X, Y = data()
    full = sweep(NET, X, Y, memory_limit=5_000, store=tmp_path / "s", **GRID)
    chunks = sorted((tmp_path / "s").glob("chunk-*.npz"))
    chunks[-1].unlink()
    partial = load_sweep(tmp_path / "s")
    missing = partial.info["missing_runs"]
    assert 0 < missing < len(full) and len(partial) == len(full) - missing
    np.testing.assert_array_equal(partial.curves, full.curves[: len(partial)])
    with pytest.raises(ValueError, match="not a sweep store"):
        load_sweep(tmp_path / "nothing")


KILLED_SCRIPT = """
import sys
import numpy as np
from fastopt import MLP, sweep
rng = np.random.default_rng(0)
X = rng.standard_normal((200, 4)).astype(np.float32)
Y = np.sin(X[:, :1]).astype(np.float32)
sweep(MLP([4, 32, 1]), X, Y, optimizer="adam", lr=list(np.geomspace(1e-4, 1e-1, 48)),
      steps=6000, memory_limit=220_000, store=sys.argv[1], return_params=True)
"""


def test_killed_sweep_resumes_bit_identical(tmp_path):
    store = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SCRIPT, str(store)])
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(list(store.glob("chunk-*.npz"))) < 2:
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    n_chunks = read_n_chunks(store)
    stored = len(list(store.glob("chunk-*.npz")))
    assert 2 <= stored < n_chunks
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4)).astype(np.float32)
    Y = np.sin(X[:, :1]).astype(np.float32)
    grid = dict(optimizer="adam", lr=list(np.geomspace(1e-4, 1e-1, 48)), steps=6000,
                memory_limit=220_000, return_params=True)  # fmt: skip
    resumed = sweep(MLP([4, 32, 1]), X, Y, store=store, **grid)
    assert resumed.info["resumed_chunks"] >= 2
    straight = sweep(MLP([4, 32, 1]), X, Y, **grid)
    assert_same_runs(resumed, straight)


def read_n_chunks(store):
    return json.loads((store / "manifest.json").read_text())["n_chunks"]


def test_process_pool_gives_the_same_table(tmp_path):
    X, Y = data()
    local = sweep(NET, X, Y, **GRID)
    # Numba's OpenMP threads do not survive fork(): process pools must spawn.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        remote = sweep(NET, X, Y, executor=pool, store=tmp_path / "s", **GRID)
    assert remote.info["n_chunks"] > 1
    assert_same_runs(local, remote)


class FlakyExecutor(ThreadPoolExecutor):
    """Fails the first two submissions, as a lost worker would."""

    def __init__(self):
        super().__init__(max_workers=2)
        self.failures = 2

    def submit(self, fn, *args, **kwargs):
        if self.failures > 0:
            self.failures -= 1
            future = Future()
            future.set_exception(ConnectionError("worker died"))
            return future
        return super().submit(fn, *args, **kwargs)


def test_failed_chunks_are_resubmitted():
    X, Y = data()
    with FlakyExecutor() as pool:
        result = sweep(NET, X, Y, executor=pool, **GRID)
        assert pool.failures == 0
    assert_same_runs(result, sweep(NET, X, Y, **GRID))


MEMORY_SCRIPT = """
import resource, sys
import numpy as np
from fastopt import MLP, sweep
n, memory_limit = int(sys.argv[1]), int(sys.argv[2])
X = np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32)
r = sweep(MLP([2, 2, 1]), X, X[:, :1].copy(), optimizer="sgd",
          lr=list(np.linspace(1e-3, 1e-2, n)), steps=2, keep_curves=False,
          memory_limit=memory_limit)
assert len(r) == n
try:  # VmHWM: this process's peak; ru_maxrss would include the parent's (kept across exec)
    print([l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0])
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_mib(n_runs, memory_limit):
    """Peak resident memory (MiB) of a new process running a grid of ``n_runs`` 2-2-1 runs,
    summaries only, in chunks of at most ``memory_limit`` bytes."""
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(n_runs), str(memory_limit)],
                          check=True, capture_output=True, text=True, timeout=600)  # fmt: skip
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def test_peak_memory_is_bounded_by_the_chunk():
    # Small chunks (2 MB), so that both grids are many chunks and only the summaries grow.
    small, large = peak_mib(10_000, memory_limit=2_000_000), peak_mib(100_000, 2_000_000)
    assert large < 2 * small, (small, large)


def test_bad_store_and_executor_arguments(tmp_path):
    X, Y = data()
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        sweep(NET, X, Y, executor="dask", **GRID)
    with pytest.raises(ValueError, match="memory_limit must be >= 1"):
        sweep(NET, X, Y, memory_limit=0, **GRID)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a readable sweep manifest"):
        sweep(NET, X, Y, store=tmp_path / "junk", **GRID)


def test_version_in_manifest(tmp_path):
    X, Y = data()
    sweep(NET, X, Y, store=tmp_path / "s", **GRID)
    text = (tmp_path / "s" / "manifest.json").read_text()
    assert f'"fastopt": "{fastopt.__version__}"' in text
    assert not any(p.name.endswith(".tmp") or ".tmp-" in p.name for p in (tmp_path / "s").iterdir())


def test_store_of_another_version_is_read_but_not_resumed(tmp_path):
    X, Y = data()
    first = sweep(NET, X, Y, store=tmp_path / "s", **GRID)
    manifest = tmp_path / "s" / "manifest.json"
    manifest.write_text(manifest.read_text().replace(f'"fastopt": "{fastopt.__version__}"',
                                                     '"fastopt": "0.0.1"'))  # fmt: skip
    with pytest.raises(ValueError, match=r"written by fastopt 0\.0\.1 .* mix results"):
        sweep(NET, X, Y, store=tmp_path / "s", **GRID)
    assert_same_runs(fastopt.load_sweep(tmp_path / "s"), first)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    import dask

    # One Numba thread per worker process: processes x threads = cores. Starting worker
    # processes on a loaded 2-core machine can be slow: long timeouts and a second try. The
    # dashboard takes any free port (":0"), so that two test runs never collide on 8787.
    with dask.config.set({"distributed.comm.timeouts.connect": "120s"}):
        for attempt in range(2):
            try:
                cluster = distributed.LocalCluster(
                    n_workers=2,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    env={"NUMBA_NUM_THREADS": "1"},
                )
                break
            except RuntimeError:
                if attempt == 1:
                    raise
        client = distributed.Client(cluster)
        yield client
        client.close()
        cluster.close()


def test_dask_gives_the_same_table(dask_client, tmp_path):
    X, Y = data()
    local = sweep(NET, X, Y, **GRID)
    remote = sweep(NET, X, Y, executor=dask_client.get_executor(), store=tmp_path / "s", **GRID)
    assert remote.info["n_chunks"] > 1
    assert_same_runs(local, remote)


def test_dask_survives_a_killed_worker(dask_client, tmp_path):
    import threading

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4)).astype(np.float32)
    Y = np.sin(X[:, :1]).astype(np.float32)
    grid = dict(optimizer="adam", lr=list(np.geomspace(1e-4, 1e-1, 32)), steps=4000,
                return_params=True)  # fmt: skip
    store = tmp_path / "s"
    outcome = {}

    def run():
        executor = dask_client.get_executor()
        outcome["result"] = sweep(MLP([4, 32, 1]), X, Y, executor=executor, store=store, **grid)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(store.glob("chunk-*.npz")):
        time.sleep(0.02)
    pids = dask_client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    stored_at_kill = len(list(store.glob("chunk-*.npz")))
    thread.join(timeout=600)
    assert "result" in outcome, "the sweep did not finish after a worker was killed"
    assert stored_at_kill < read_n_chunks(store), "the kill came after the last chunk"
    straight = sweep(MLP([4, 32, 1]), X, Y, **grid)
    assert_same_runs(outcome["result"], straight)
