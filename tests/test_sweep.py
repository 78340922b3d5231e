"""The grid engine against single-run training, the reference, and itself."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastopt
from fastopt import MLP, reference
from fastopt.schedules import Cosine, StepDecay
from fastopt.sweep import batch_indices, sweep

REGRESSION = MLP([3, 6, 2], activation="tanh")
CLASSIFIER = MLP([4, 8, 3], activation="relu", loss="cross_entropy")


def regression_data(n=40, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)).astype(dtype)
    Y = np.stack([X[:, 0] - 0.5 * X[:, 1], np.sin(X[:, 2])], axis=1).astype(dtype)
    return X, Y


def classification_data(n=60, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    return X, y


def train_alone(net, X, Y, opt, seed, steps, batch_size=None, data_seed=0, dtype=np.float32,
                stop_below=None):  # fmt: skip
    """The loop a user would write: MLP.loss_and_grad + Optimizer.step."""
    params = net.init(seed=seed, dtype=dtype)
    state = opt.init(params, net.layout)
    grad = np.empty_like(params)
    batches = batch_indices(X.shape[0], batch_size, data_seed, steps)
    losses = []
    for t in range(steps + 1):
        rows = batches[t]
        loss, _ = net.loss_and_grad(params, X[rows], Y[rows], out=grad)
        losses.append(float(loss))
        if stop_below is not None and loss < stop_below:
            break
        if t < steps:
            opt.step(params, grad, state)
    return params, np.array(losses)


CASES = [
    ("adam", {}, fastopt.Adam(lr=0.01), None, None),
    ("adamw", {}, fastopt.AdamW(lr=0.01, gc="grad"), "grad", None),
    ("sgd", {"momentum": 0.9}, fastopt.SGD(lr=0.05, momentum=0.9, gc="update"), "update", 8),
    ("rmsprop", {"centered": True}, fastopt.RMSprop(lr=0.003, centered=True), None, 8),
    ("adagrad", {}, fastopt.Adagrad(lr=0.05), None, None),
    ("nesterov", {}, fastopt.SGD(lr=0.05, momentum=0.9, nesterov=True), None, 5),
]


@pytest.mark.parametrize("name, hyper, opt, gc, batch_size", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_run_equals_training_alone(name, hyper, opt, gc, batch_size, dtype):
    X, Y = regression_data(dtype=dtype)
    steps = 30
    result = sweep(REGRESSION, X, Y, optimizer=name, lr=opt.lr, gc=gc, seed=[0, 3],
                   batch_size=batch_size, data_seed=7, steps=steps, dtype=dtype,
                   return_params=True, **hyper)  # fmt: skip
    assert len(result) == 2
    for row, seed in enumerate([0, 3]):
        params, losses = train_alone(REGRESSION, X, Y, opt, seed, steps, batch_size, 7, dtype)
        # Bit for bit: the grid runs the single-run kernels in the same order.
        np.testing.assert_array_equal(result.params[row], params)
        np.testing.assert_array_equal(result.curves[row].astype(dtype), losses.astype(dtype))
        assert result.params.dtype == dtype
        assert result["steps_done"][row] == steps


# The same names, in the same order, as test_config and test_compare use: one grid kernel.
ZOO = ["nadam", "radam", "adamax", "adadelta", "rprop", "lion", "lookahead_adam",
       "lookahead_sgd", "ranger"]  # fmt: skip


def test_the_optimizer_zoo_in_one_grid_equals_training_alone():
    # One grid of every optimizer beyond the first six (one kernel compiled for them all, in
    # float32 only: it takes 40 s): NAdam's momentum product carried across steps,
    # Lookahead's slow weights (a copy of each run's start) and their syncs, Rprop's step
    # sizes starting at lr.
    dtype = np.float32
    X, Y = regression_data(dtype=dtype)
    steps, lr = 13, 0.01
    result = sweep(REGRESSION, X, Y, optimizer=ZOO, lr=lr, gc=[None, "grad", "update"],
                   seed=[0, 3], batch_size=8, steps=steps, dtype=dtype, lookahead_k=3,
                   return_params=True)  # fmt: skip
    assert len(result) == len(ZOO) * 3 * 2
    for row, config in enumerate(result.rows()):
        cls = fastopt.optim.OPTIMIZERS[config["optimizer"]]
        opt = cls(lr=lr, gc=config["gc"], lookahead_k=3) if "lookahead_k" in cls.spec.names \
            else cls(lr=lr, gc=config["gc"])  # fmt: skip
        params, losses = train_alone(REGRESSION, X, Y, opt, config["seed"], steps, 8, 0, dtype)
        np.testing.assert_array_equal(result.params[row], params, err_msg=str(config))
        np.testing.assert_array_equal(result.curves[row].astype(dtype), losses.astype(dtype))
    # gc="default" (the sweep's default) is each optimizer's own: Ranger's is "grad".
    result = sweep(REGRESSION, X, Y, optimizer=ZOO, lr=lr, steps=2, dtype=dtype)
    assert list(result["gc"]) == [("grad" if name == "ranger" else None) for name in ZOO]
    ranger = fastopt.Ranger(lr=lr)
    params, _ = train_alone(REGRESSION, X, Y, ranger, 0, 2, dtype=dtype)
    assert ranger.gc == "grad"
    np.testing.assert_array_equal(
        sweep(REGRESSION, X, Y, optimizer=ZOO, lr=lr, steps=2, dtype=dtype,
              return_params=True).params[ZOO.index("ranger")], params)  # fmt: skip


@pytest.mark.parametrize(
    "sizes, n, batch_size",
    [([8, 16, 1], 128, None), ([8, 16, 1], 128, 32), ([256, 4, 1], 96, None),
     ([256, 4, 1], 96, 64), ([256, 4, 1], 96, 32)],
)  # fmt: skip
def test_input_layouts_equal_training_alone(sizes, n, batch_size):
    # The grid transposes a full batch once and gathers mini-batches transposed, or reads
    # big inputs in place (256 x 64 and more), as MLP.loss_and_grad decides for each call.
    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, sizes[0])).astype(np.float32)
    Y = np.tanh(X[:, :1] - X[:, 1:2]).astype(np.float32)
    net = MLP(sizes, activation="relu")
    result = sweep(net, X, Y, optimizer="adam", lr=0.01, seed=[0, 1], batch_size=batch_size,
                   steps=6, return_params=True)  # fmt: skip
    for row, seed in enumerate([0, 1]):
        params, losses = train_alone(net, X, Y, fastopt.Adam(lr=0.01), seed, 6, batch_size)
        np.testing.assert_array_equal(result.params[row], params)
        np.testing.assert_array_equal(result.curves[row].astype(np.float32),
                                      losses.astype(np.float32))  # fmt: skip


def test_runs_match_the_reference():
    X, Y = regression_data(dtype=np.float64)
    steps = 25
    result = sweep(REGRESSION, X, Y, optimizer="adam", lr=[0.003, 0.03], steps=steps,
                   dtype=np.float64, return_params=True)  # fmt: skip
    for row, lr in enumerate([0.003, 0.03]):
        params = REGRESSION.init(seed=0, dtype=np.float64)
        named = {k: v.copy() for k, v in REGRESSION.layout.views(params).items()}
        opt = reference.Adam(lr=lr)
        state = opt.init(named)
        for _ in range(steps):
            flat = REGRESSION.layout.pack(named, dtype=np.float64)
            _, grad = reference.mlp_loss_and_grad(REGRESSION, flat, X, Y)
            opt.step(named, REGRESSION.layout.views(grad), state)
        expected = REGRESSION.layout.pack(named, dtype=np.float64)
        np.testing.assert_allclose(result.params[row], expected, rtol=1e-9, atol=1e-12)


def test_schedules_and_classifier_metrics():
    X, y = classification_data()
    X_val, y_val = classification_data(n=30, seed=5)
    schedules = [Cosine(0.1, total_steps=20, warmup=3), StepDecay(0.05, step_size=5, gamma=0.5)]
    result = sweep(CLASSIFIER, X, y, optimizer="momentum", schedule=schedules, steps=20,
                   X_val=X_val, Y_val=y_val, return_params=True)  # fmt: skip
    for row, sched in enumerate(schedules):
        params, losses = train_alone(CLASSIFIER, X, y, fastopt.Momentum(lr=sched), 0, 20)
        np.testing.assert_array_equal(result.params[row], params)
        probs = CLASSIFIER.forward(params, X_val)
        expected_val = -np.mean(np.log(probs[np.arange(len(y_val)), y_val]))
        np.testing.assert_allclose(result["val_loss"][row], expected_val, rtol=1e-5)
        assert result["val_accuracy"][row] == np.mean(probs.argmax(1) == y_val)
        train_pred = CLASSIFIER.predict(params, X)
        assert result["train_accuracy"][row] == np.mean(train_pred == y)
        np.testing.assert_allclose(result["final_loss"][row], CLASSIFIER.loss(params, X, y),
                                   rtol=1e-6)  # fmt: skip


def test_result_does_not_depend_on_the_rest_of_the_grid():
    X, Y = regression_data()
    alone = sweep(REGRESSION, X, Y, optimizer="adam", lr=0.02, seed=4, steps=40,
                  return_params=True)  # fmt: skip
    crowd = sweep(REGRESSION, X, Y, optimizer=["sgd", "adam", "rmsprop"],
                  lr=[0.001, 0.02, 0.5, 10.0], seed=[1, 4, 9], steps=40,
                  return_params=True)  # fmt: skip
    row = crowd.select(optimizer="adam", lr=0.02, seed=4)
    assert len(row) == 1
    np.testing.assert_array_equal(row.params[0], alone.params[0])
    np.testing.assert_array_equal(row.curves[0], alone.curves[0])


THREADS_SCRIPT = """
import json, sys
import numpy as np
from fastopt import MLP
from fastopt.sweep import sweep
rng = np.random.default_rng(0)
X = rng.standard_normal((50, 3)).astype(np.float32)
Y = rng.standard_normal((50, 2)).astype(np.float32)
r = sweep(MLP([3, 6, 2]), X, Y, optimizer=["adam", "sgd"], lr=[0.003, 0.03, 0.3], seed=[0, 1],
          batch_size=10, steps=30, return_params=True)
print(json.dumps({"params": r.params.tolist(), "curves": np.nan_to_num(r.curves).tolist()}))
"""


def test_bit_identical_across_thread_counts():
    outputs = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        done = subprocess.run([sys.executable, "-c", THREADS_SCRIPT], env=env, check=True,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        outputs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]


def test_early_stop_at_first_step_below_target():
    X, Y = regression_data()
    target = 0.2
    result = sweep(REGRESSION, X, Y, optimizer="adam", lr=[0.01, 0.03], steps=300,
                   stop_below=target)  # fmt: skip
    for row, lr in enumerate([0.01, 0.03]):
        _, losses = train_alone(REGRESSION, X, Y, fastopt.Adam(lr=lr), 0, 300,
                                stop_below=target)  # fmt: skip
        first = int(np.argmax(losses < target))
        assert losses[first] < target and (losses[:first] >= target).all()
        assert result["steps_to_target"][row] == first
        curve = result.curves[row]
        assert not np.isnan(curve[: first + 1]).any() and np.isnan(curve[first + 1 :]).all()
        assert curve[first] < target
        assert result["steps_done"][row] == first
    never = sweep(REGRESSION, X, Y, optimizer="sgd", lr=1e-4, steps=5, stop_below=1e-9)
    assert never["steps_to_target"][0] == -1


def test_divergence_is_marked_and_isolated():
    X, Y = regression_data()
    both = sweep(REGRESSION, X, Y, optimizer="sgd", lr=[1e-3, 10.0], steps=50,
                 return_params=True)  # fmt: skip
    calm = sweep(REGRESSION, X, Y, optimizer="sgd", lr=1e-3, steps=50, return_params=True)
    assert both["diverged"].tolist() == [False, True]
    at = both["diverged_at"][1]
    assert 0 < at < 50
    _, losses = train_alone(REGRESSION, X, Y, fastopt.SGD(lr=10.0), 0, at)
    threshold = 1e3 * losses[0]
    assert not (np.isfinite(losses[at]) and losses[at] <= threshold)
    assert (np.isfinite(losses[:at]) & (losses[:at] <= threshold)).all()
    np.testing.assert_array_equal(both.params[0], calm.params[0])
    np.testing.assert_array_equal(both.curves[0], calm.curves[0])
    assert np.isnan(both.curves[1, at + 1 :]).all()
    explicit = sweep(REGRESSION, X, Y, optimizer="sgd", lr=10.0, steps=50, diverge_above=5.0)
    assert explicit["diverged_at"][0] <= at


def test_record_every_and_best_loss():
    X, Y = regression_data()
    result = sweep(REGRESSION, X, Y, optimizer="adam", lr=0.01, steps=20, record_every=5)
    _, losses = train_alone(REGRESSION, X, Y, fastopt.Adam(lr=0.01), 0, 20)
    assert result.curves.shape == (1, 5)
    np.testing.assert_array_equal(result.curves[0].astype(np.float32),
                                  losses[::5].astype(np.float32))  # fmt: skip
    assert np.float32(result["best_loss"][0]) == np.float32(losses.min())


def test_hyperparameter_axes_only_multiply_their_optimizers():
    X, Y = regression_data()
    result = sweep(REGRESSION, X, Y, optimizer=["sgd", "adam"], lr=0.01, momentum=[0.0, 0.9],
                   betas=[(0.9, 0.999), (0.5, 0.9)], steps=3)  # fmt: skip
    assert result["optimizer"].tolist().count("sgd") == 2
    assert result["optimizer"].tolist().count("adam") == 2
    assert len(result) == 4


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(optimizer=[], lr=0.1), ValueError, "optimizer is an empty list"),
        (dict(optimizer="adam", lr=[]), ValueError, "lr is an empty list"),
        (dict(optimizer="adamx", lr=0.1), ValueError, "unknown optimizer 'adamx'"),
        (dict(optimizer="adam", lr=0.1, momentum=0.9), ValueError, "unknown hyperparameter"),
        (dict(optimizer="adam", lr=0.0), ValueError, "lr must be finite and > 0"),
        (dict(optimizer="adam", lr=[0.1, -1.0]), ValueError, "lr must be finite and > 0"),
        (dict(optimizer="adam", lr=0.1, steps=0), ValueError, "steps must be >= 1"),
        (dict(optimizer="adam", lr=0.1, batch_size=41), ValueError, "larger than the data"),
        (dict(optimizer="adam", lr=0.1, batch_size=0), ValueError, "batch_size must be >= 1"),
        (dict(optimizer="adam", lr=0.1, dtype=np.int32), TypeError, "dtype must be float32"),
        (dict(optimizer="adam", lr=0.1, gc="center"), ValueError, "gc must be"),
        (dict(optimizer="adam", lr=0.1, betas=(1.0, 0.9)), ValueError, "betas"),
        (dict(optimizer="adam"), ValueError, "lr is required"),
        (dict(optimizer="adam", lr=0.1, record_every=0), ValueError, "record_every"),
        (dict(optimizer="adam", lr=0.1, X_val=np.zeros((2, 3))), ValueError, "both X_val"),
    ],
)
def test_bad_input(kwargs, error, match):
    X, Y = regression_data()
    kwargs.setdefault("steps", 5)
    with pytest.raises(error, match=match):
        sweep(REGRESSION, X, Y, **kwargs)


def test_bad_data():
    X, Y = regression_data()
    with pytest.raises(ValueError, match=r"Y must have shape \(40, 2\)"):
        sweep(REGRESSION, X, Y[:, :1], optimizer="adam", lr=0.1, steps=2)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples >= 1, 3\)"):
        sweep(REGRESSION, X[:, :2], Y, optimizer="adam", lr=0.1, steps=2)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="X holds NaN"):
        sweep(REGRESSION, bad, Y, optimizer="adam", lr=0.1, steps=2)
    Xc, y = classification_data()
    with pytest.raises(ValueError, match=r"class labels outside \[0, 3\)"):
        sweep(CLASSIFIER, Xc, y + 1, optimizer="adam", lr=0.1, steps=2)
    with pytest.raises(TypeError, match="integer class labels"):
        sweep(CLASSIFIER, Xc, y.astype(float), optimizer="adam", lr=0.1, steps=2)
    with pytest.raises(TypeError, match="model must be a fastopt.MLP"):
        sweep("mlp", X, Y, optimizer="adam", lr=0.1, steps=2)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((10, 0, 0, 3), ValueError, "batch_size must be >= 1"),
        ((10, 11, 0, 3), ValueError, "larger than the data"),
        ((0, None, 0, 3), ValueError, "n must be >= 1"),
        ((10, 2, 0, -1), ValueError, "steps must be >= 0"),
        ((10, 2, -1, 3), ValueError, "data_seed must be >= 0"),
        ((10, 2.0, 0, 3), TypeError, "batch_size must be an int"),
        ((10, 2, 0, 3.5), TypeError, "steps must be an int"),
        ((10, True, 0, 3), TypeError, "batch_size must be an int"),
    ],
)
def test_batch_indices_refuses_bad_domains(args, error, match):
    with pytest.raises(error, match=match):
        batch_indices(*args)


def test_batch_indices_at_zero_steps_is_the_first_batch():
    assert batch_indices(10, 3, 5, 0).shape == (1, 3)
    np.testing.assert_array_equal(batch_indices(10, 3, 5, 0)[0], batch_indices(10, 3, 5, 4)[0])


def test_a_run_that_cannot_fit_memory_limit_is_refused_with_a_remedy():
    X, Y = regression_data()
    with pytest.raises(ValueError, match="record_every=.*keep_curves=False"):
        sweep(REGRESSION, X, Y, optimizer="adam", lr=0.1, steps=10**11)
    # Without curves the same run fits: it stops at step 0 here, and nothing huge is allocated.
    result = sweep(REGRESSION, X, Y, optimizer="adam", lr=0.1, steps=10**11, keep_curves=False,
                   stop_below=1e9)  # fmt: skip
    assert result.curves.shape == (1, 0)
    assert result["steps_to_target"][0] == 0
    # Mini-batch orders are one permutation per epoch: they must fit too.
    with pytest.raises(ValueError, match="mini-batch order of batch_size=4"):
        sweep(REGRESSION, X, Y, optimizer="adam", lr=0.1, steps=10**9, keep_curves=False,
              batch_size=4)  # fmt: skip


def test_cheap_checks_come_before_building_the_grid(monkeypatch):
    import fastopt.plan

    def never(*args, **kwargs):
        raise AssertionError("the grid was built before the cheap checks")

    monkeypatch.setattr(fastopt.plan, "Grid", never)
    X, Y = regression_data()
    for kwargs, match in [
        (dict(memory_limit=-1), "memory_limit must be >= 1"),
        (dict(keep_curves="no"), "keep_curves"),
        (dict(return_params="yes"), "return_params"),
        (dict(steps=0), "steps must be >= 1"),
        (dict(store=3), "store must be a folder path"),
        (dict(progress="on"), "progress must be"),
        (dict(executor="dask"), "executor must be"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            sweep(REGRESSION, X, Y, optimizer="adam", lr=[0.1] * 10**6, **{"steps": 5, **kwargs})


def test_progress_callback_reports_growing_totals_to_the_end():
    from fastopt.plan import plan_sweep
    from fastopt.sweep import execute

    X, Y = regression_data()
    plan = plan_sweep(REGRESSION, X, Y, optimizer=["adam", "sgd"], lr=[0.01, 0.1], seed=[0, 1],
                      steps=12, stop_below=0.3, memory_limit=4096)  # fmt: skip
    assert plan.n_chunks > 1
    seen = []
    result = execute(plan, on_progress=lambda runs, steps: seen.append((runs, steps)))
    runs, steps = zip(*seen, strict=True)
    assert list(runs) == sorted(runs) and list(steps) == sorted(steps)
    assert seen[-1] == (len(result), int(result["steps_done"].sum()))
    # The plan's configs are the result's, built without optimizers.
    for name in plan.grid.config_names:
        got = np.concatenate([plan.configs(i)[name] for i in range(plan.n_chunks)])
        assert list(got) == list(result[name])


def test_batch_indices():
    full = batch_indices(10, None, 0, 3)
    np.testing.assert_array_equal(full, np.tile(np.arange(10), (4, 1)))
    mini = batch_indices(10, 3, 5, 6)
    assert mini.shape == (7, 3)
    # Each epoch is 3 batches of one permutation: no sample twice within an epoch.
    for epoch in (mini[0:3], mini[3:6]):
        assert len(set(epoch.ravel().tolist())) == 9
    assert not np.array_equal(mini[:3], batch_indices(10, 3, 6, 6)[:3])
