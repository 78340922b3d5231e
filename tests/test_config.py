"""``fastopt sweep CONFIG.toml``: configuration checks, runs, resume and status."""

import io
import json
import re

import numpy as np
import pytest

import fastopt
import fastopt.store
from fastopt import MLP, data, load_sweep, sweep
from fastopt.cli import main
from fastopt.config import ConfigError, load_config, status
from tests.cli_helpers import one_line_error

GOOD = """
[model]
sizes = [2, 4, 1]
activation = "tanh"

[data]
name = "linear"
options = {{ n = 64, seed = 3 }}

[grid]
optimizer = ["sgd", "adam"]
lr = [0.01, 0.1]
gc = ["none", "grad"]
betas = [[0.9, 0.999], [0.5, 0.9]]

[run]
steps = 30
record_every = 5
store = "{store}"
"""


def write(tmp_path, text, name="grid.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_config_runs_like_the_same_sweep_and_resumes(tmp_path, capsys):
    path = write(tmp_path, GOOD.format(store=tmp_path / "store"))
    config = load_config(path)
    assert config.grid["gc"] == [None, "grad"]
    assert config.grid["betas"] == [(0.9, 0.999), (0.5, 0.9)]
    assert main(["sweep", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "(0 of 12 chunks from the store)" in out
    X, Y = data.linear(n=64, seed=3)
    direct = sweep(MLP([2, 4, 1], "tanh"), X, Y, optimizer=["sgd", "adam"], lr=[0.01, 0.1],
                   gc=[None, "grad"], betas=[(0.9, 0.999), (0.5, 0.9)], steps=30,
                   record_every=5)  # fmt: skip
    stored = load_sweep(tmp_path / "store")
    assert len(stored) == len(direct) == 2 * 2 + 2 * 2 * 2
    np.testing.assert_array_equal(stored.curves, direct.curves)
    assert main(["sweep", str(path), "--quiet"]) == 0
    assert "(12 of 12 chunks from the store)" in capsys.readouterr().out
    assert main(["sweep", "--status", str(tmp_path / "store")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"store {str(tmp_path / 'store')!r} (fastopt {fastopt.__version__}): complete",
        "  12/12 runs stored (100%), 0 missing, in 12 chunks of 1",
    ]
    # Another grid on the same folder is the user's mistake: one line, the store untouched.
    other = write(tmp_path, GOOD.format(store=tmp_path / "store").replace("0.01,", "0.02,"))
    err = one_line_error(capsys, ["sweep", str(other), "--quiet"])
    assert f"store {str(tmp_path / 'store')!r} holds another grid" in err
    np.testing.assert_array_equal(load_sweep(tmp_path / "store").curves, direct.curves)


def test_npz_data_and_default_store(tmp_path, monkeypatch):
    X, y = data.spirals(n=60)
    np.savez(tmp_path / "d.npz", X=X, Y=y, X_val=X[:10], Y_val=y[:10])
    text = """
[model]
sizes = [2, 8, 3]
loss = "cross_entropy"
[data]
path = "d.npz"
[grid]
optimizer = "adam"
lr = 0.05
[run]
steps = 5
"""
    config = load_config(write(tmp_path, text, "spiral.toml"))
    assert config.validation is not None
    monkeypatch.chdir(tmp_path)
    result = config.run(progress=False)
    assert "val_accuracy" in result.columns
    assert (tmp_path / "fastopt-out" / "sweep-spiral" / "manifest.json").exists()


BAD = [
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\n[grid]\noptimizer='sgd'\nlr=0.1\n[run]\n"
     "steps=5\nspeed=3\n", "run.speed: unknown key"),
    ("[model]\nsizes=[2,1]\nwidth=3\n[data]\nname='linear'\n[grid]\noptimizer='sgd'\nlr=0.1\n"
     "[run]\nsteps=5\n", "model.width: unknown key"),
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\n[grid]\noptimizer='sgd'\nlr='fast'\n[run]\n"
     "steps=5\n", "grid.lr: expected number"),
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\n[grid]\noptimizer='sgd'\nlr=[0.1, 'x']\n"
     "[run]\nsteps=5\n", "grid.lr: expected number values, got 'x'"),
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\n[grid]\noptimizer='sgd'\nlr=0.1\n[run]\n"
     "steps=2.5\n", "run.steps: expected int"),
    ("[model]\nsizes=[2,1]\n[grid]\noptimizer='sgd'\nlr=0.1\n[run]\nsteps=5\n",
     r"\[data\] is missing"),
    ("[model]\nsizes=[2,1]\n[data]\nname='mnist'\n[grid]\noptimizer='sgd'\nlr=0.1\n[run]\n"
     "steps=5\n", "data.name: unknown data set 'mnist'"),
    ("[model]\nsizes=[2,1]\n[data]\npath='missing.npz'\n[grid]\noptimizer='sgd'\nlr=0.1\n"
     "[run]\nsteps=5\n", "data.path: cannot read"),
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\npath='x.npz'\n[grid]\noptimizer='sgd'\n"
     "lr=0.1\n[run]\nsteps=5\n", "exactly one of data.name or data.path"),
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\n[grid]\nlr=0.1\n[run]\nsteps=5\n",
     "grid.optimizer is missing"),
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\n[grid]\noptimizer='sgd'\nlr=0.1\n[run]\n"
     "steps=5\n[extra]\n", "extra: unknown section"),
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\n[grid]\noptimizer='sgd'\nlr=[]\n[run]\n"
     "steps=5\n", "grid.lr: an empty list is no axis"),
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\noptions={n='many'}\n[grid]\n"
     "optimizer='sgd'\nlr=0.1\n[run]\nsteps=5\n", "data.options"),
    ("[model\n", "not valid TOML"),
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\n[grid]\noptimizer='sgd'\nlr=0.1\n[run]\n"
     "steps=5\nstore=''\n", "run.store: expected a folder name, got ''"),
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\noptions={n=-5}\n[grid]\n"
     "optimizer='sgd'\nlr=0.1\n[run]\nsteps=5\n", r"data.options: linear\(n=-5\) failed"),
    ("[model]\nsizes=[2,1]\n[data]\nname='spirals'\noptions={classes=0}\n[grid]\n"
     "optimizer='sgd'\nlr=0.1\n[run]\nsteps=5\n", r"data.options: spirals\(classes=0\) failed"),
    ("[model]\nsizes=[2,1]\n[data]\nname='linear'\n[grid]\noptimizer='sgd'\nlr=0.1\n[run]\n"
     "steps='ten'\n", "run.steps: expected int, got 'ten'"),
]  # fmt: skip


@pytest.mark.parametrize("text, match", BAD)
def test_bad_files_name_the_key(tmp_path, text, match):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=match):
        load_config(path).run(progress=False)


@pytest.mark.parametrize("text, match", BAD)
def test_bad_files_are_one_line_on_the_cli(tmp_path, capsys, text, match):
    err = one_line_error(capsys, ["sweep", str(write(tmp_path, text)), "--quiet"])
    assert err.startswith("fastopt sweep: ")
    assert re.search(match, err)


def test_binary_file_and_folder_as_config(tmp_path, capsys):
    binary = tmp_path / "grid.toml"
    binary.write_bytes(bytes(range(256)))
    err = one_line_error(capsys, ["sweep", str(binary)])
    assert f"{str(binary)!r} is not a TOML file (not UTF-8 text)" in err
    err = one_line_error(capsys, ["sweep", str(tmp_path)])
    assert f"cannot read {str(tmp_path)!r}: Is a directory" in err


NPZ = (
    "[model]\nsizes=[2,1]\n[data]\npath='d.npz'\n[grid]\noptimizer='sgd'\nlr=0.1\n[run]\nsteps=5\n"
)


def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


X, Y = data.linear(n=16)
DATA_FILES = {
    "truncated": (_npz_bytes(X=X, Y=Y)[:300], "is not an .npz file"),
    "empty": (b"", "is not an .npz file"),
    "text": (b"X,Y\n1,2\n", "is not an .npz file"),
    "npy": (_npy_bytes(X), "is not an .npz file"),
    "no Y": (_npz_bytes(X=X), "has no array Y"),
    "X_val alone": (_npz_bytes(X=X, Y=Y, X_val=X), "holds X_val without Y_val"),
    "Y_val alone": (_npz_bytes(X=X, Y=Y, Y_val=Y), "holds Y_val without X_val"),
    "misspelt": (_npz_bytes(X=X, Y=Y, x_val=X, Y_val=Y), "unknown array 'x_val'"),
    "objects": (_npz_bytes(X=np.array([None] * 16), Y=Y), "is damaged or holds objects"),
}


@pytest.mark.parametrize("case", sorted(DATA_FILES))
def test_bad_data_files_name_the_path(tmp_path, capsys, case):
    content, match = DATA_FILES[case]
    (tmp_path / "d.npz").write_bytes(content)
    path = write(tmp_path, NPZ)
    with pytest.raises(ConfigError, match=f"data.path: {str(tmp_path / 'd.npz')!r}"):
        load_config(path)
    err = one_line_error(capsys, ["sweep", str(path)])
    assert match in err
    assert not (tmp_path / "fastopt-out").exists()


def test_bad_data_after_loading_is_one_line(tmp_path, capsys, monkeypatch):
    # Arrays that load but do not fit the model: sweep() names them before any work.
    (tmp_path / "d.npz").write_bytes(_npz_bytes(X=X, Y=Y[:5]))
    monkeypatch.chdir(tmp_path)
    err = one_line_error(capsys, ["sweep", str(write(tmp_path, NPZ))])
    assert err.startswith("fastopt sweep: Y must have shape")  # sweep names the array


def test_store_that_cannot_be_written_is_refused_before_the_sweep(tmp_path, capsys):
    a_file = tmp_path / "runs"
    a_file.write_text("mine")
    text = GOOD.format(store=a_file)
    err = one_line_error(capsys, ["sweep", str(write(tmp_path, text))])
    assert f"fastopt sweep: run.store {str(a_file)!r} is a file, not a folder" in err
    err = one_line_error(capsys, ["sweep", str(write(tmp_path, GOOD.format(store=a_file / "x")))])
    assert f"run.store {str(a_file / 'x')!r}: cannot write there (Not a directory)" in err
    assert a_file.read_text() == "mine"


def test_too_many_steps_are_refused_before_allocating(tmp_path, capsys):
    text = GOOD.format(store=tmp_path / "store").replace("steps = 30", f"steps = {10**12}")
    err = one_line_error(capsys, ["sweep", str(write(tmp_path, text)), "--quiet"])
    assert "memory_limit" in err  # sweep's memory check, before the grid is cut into chunks
    assert list((tmp_path / "store").iterdir()) == []  # checked writable; nothing stored


def test_status_of_what_is_no_store(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    listed = tmp_path / "listed"
    listed.mkdir()
    (listed / "manifest.json").write_text(json.dumps([1, 2]))
    for folder in (a_file, tmp_path / "missing", broken, listed):
        err = one_line_error(capsys, ["sweep", "--status", str(folder)])
        assert err.startswith(f"fastopt sweep: '{folder}"), err  # the folder or its manifest


def test_data_sets():
    X, Y = data.linear(n=1000)
    assert X.shape == (1000, 2) and Y.shape == (1000, 1)
    np.testing.assert_allclose(np.mean((Y - 0) ** 2), 30, rtol=0.25)  # SEED: initial loss ~30
    w, *_ = np.linalg.lstsq(np.c_[X, np.ones(1000)], Y[:, 0], rcond=None)
    np.testing.assert_allclose(w, [2, -3.4, 4.2], atol=0.01)
    Xs, ys = data.spirals(n=90, classes=3)
    assert Xs.shape == (90, 2) and set(ys.tolist()) == {0, 1, 2}
    Xb, yb = data.blobs(n=50, classes=4, features=5)
    assert Xb.shape == (50, 5) and yb.max() < 4


def test_status_formats_the_stores_account(monkeypatch):
    account = {
        "folder": "runs/grid", "fastopt": "0.2.0", "fingerprint": "ab" * 32, "n_runs": 1000,
        "chunk_size": 100, "n_chunks": 10, "stored_runs": 999, "missing_runs": 1,
        "rejected_files": ["part-7", "part-9"], "complete": False,
    }  # fmt: skip
    monkeypatch.setattr(fastopt.store, "store_status", lambda folder: account)
    assert status("anything").splitlines() == [
        "store 'runs/grid' (fastopt 0.2.0): incomplete: run the same sweep again to resume it",
        "  999/1000 runs stored (99%), 1 missing, in 10 chunks of 100",  # never a rounded 100%
        "  rejected (truncated or foreign): part-7, part-9",
    ]


def test_every_optimizer_name_and_its_axes_run_from_a_file(tmp_path):
    # The names of issue 15's optimizers (the same kernels as test_sweep's zoo grid, so the
    # compiled grid is shared), Lookahead's axis, Rprop's pairs, and gc left to each optimizer.
    names = ["nadam", "radam", "adamax", "adadelta", "rprop", "lion", "lookahead_adam",
             "lookahead_sgd", "ranger"]  # fmt: skip
    text = GOOD.format(store=tmp_path / "store").replace(
        'optimizer = ["sgd", "adam"]\nlr = [0.01, 0.1]\ngc = ["none", "grad"]\n'
        "betas = [[0.9, 0.999], [0.5, 0.9]]",
        f"optimizer = {json.dumps(names)}\nlr = 0.01\nlookahead_k = [2, 4]\n"
        "etas = [[0.5, 1.2], [0.3, 1.5]]",
    )
    config = load_config(write(tmp_path, text))
    assert config.grid["etas"] == [(0.5, 1.2), (0.3, 1.5)]
    result = config.run(progress=False)
    X, Y = data.linear(n=64, seed=3)
    direct = sweep(MLP([2, 4, 1], "tanh"), X, Y, optimizer=names, lr=0.01, lookahead_k=[2, 4],
                   etas=[(0.5, 1.2), (0.3, 1.5)], steps=30, record_every=5)  # fmt: skip
    np.testing.assert_array_equal(result.curves, direct.curves)
    # Each axis multiplies only the optimizers that take it: 7 + 2 * 2 lookaheads + 2 rprops.
    assert len(result) == 6 + 2 + 3 * 2 - 1
    assert set(result.select(optimizer="ranger")["gc"]) == {"grad"}
    assert set(result.select(optimizer="lion")["gc"]) == {None}
