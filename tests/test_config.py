"""``fastopt sweep CONFIG.toml``: configuration checks, runs, resume and status."""

import numpy as np
import pytest

from fastopt import MLP, data, load_sweep, sweep
from fastopt.cli import main
from fastopt.config import ConfigError, load_config

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
    assert "12/12 runs stored (100%), 0 missing, in chunks of 1" in capsys.readouterr().out


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
]  # fmt: skip


@pytest.mark.parametrize("text, match", BAD)
def test_bad_files_name_the_key(tmp_path, text, match):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=match):
        load_config(path).run(progress=False)


def test_cli_reports_errors_and_usage(tmp_path, capsys):
    path = write(tmp_path, BAD[0][0])
    assert main(["sweep", str(path)]) == 2
    assert "run.speed: unknown key" in capsys.readouterr().err
    assert main(["sweep"]) == 2
    assert main(["sweep", "--status", str(tmp_path)]) == 2
    assert "not a sweep store" in capsys.readouterr().err


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
