"""Chunked sweeps: memory limit, store and resume, executors."""

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import fastopt
from bench.sweep_scale import peak_mib
from fastopt import MLP, load_sweep, sweep

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
    import json

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
