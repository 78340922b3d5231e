"""Tests of the pure-NumPy reference optimizers against hand-derived facts and torch.optim."""

import numpy as np
import pytest

from fastopt.reference.optim import SGD, Adagrad, Adam, AdamW, RMSprop, centralize
from tests.optimizer_cases import info_cases, option_cases, run_against_torch

SHAPES = {"W": (3, 4), "b": (5,), "one": (1, 1), "K": (2, 3, 2, 2), "s": (1,)}
N_STEPS = 50


def make_params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=shape).astype(dtype) for name, shape in SHAPES.items()}


def make_grads(n_steps=N_STEPS, dtype=np.float64, seed=1):
    """Random gradients whose scale changes from step to step (so AMSGrad's max matters)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_steps):
        scale = rng.uniform(0.1, 2.0)
        out.append({n: (scale * rng.normal(size=s)).astype(dtype) for n, s in SHAPES.items()})
    return out


def copy_arrays(arrays):
    return {k: v.copy() for k, v in arrays.items()}


# --------------------------------------------------------------------------- centralize


def test_centralize_rows_have_zero_mean_and_1d_unchanged():
    rng = np.random.default_rng(3)
    x = {
        "W": rng.normal(size=(4, 7)) + 5.0,
        "K": rng.normal(size=(3, 2, 2, 2)) - 2.0,
        "b": rng.normal(size=(6,)) + 1.0,
        "one": np.array([[2.5]]),
    }
    original = copy_arrays(x)
    out = centralize(x)

    assert set(out) == set(x)
    for name in x:
        assert out[name].shape == x[name].shape
        np.testing.assert_array_equal(x[name], original[name])  # input untouched
    np.testing.assert_allclose(out["W"].mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(out["W"], x["W"] - x["W"].mean(axis=1, keepdims=True))
    # 4-D: each of the 3 rows is a mean over 2*2*2 = 8 entries.
    rows = x["K"].reshape(3, 8)
    expected_k = (rows - rows.mean(axis=1, keepdims=True)).reshape(3, 2, 2, 2)
    np.testing.assert_allclose(out["K"], expected_k, atol=1e-12)
    np.testing.assert_allclose(out["K"].sum(axis=(1, 2, 3)), 0.0, atol=1e-12)
    assert not np.allclose(out["K"].mean(axis=(2, 3)), 0.0)  # not per-(row, channel)
    np.testing.assert_array_equal(out["b"], x["b"])
    assert out["b"] is not x["b"]
    np.testing.assert_array_equal(out["one"], np.zeros((1, 1)))


def test_centralize_keeps_float32():
    x = {"W": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2, np.float32)}
    out = centralize(x)
    assert out["W"].dtype == np.float32 and out["b"].dtype == np.float32
    np.testing.assert_allclose(out["W"], [[-1, 0, 1], [-1, 0, 1]])


# --------------------------------------------------------------------------- GC modes


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_gc_grad_and_update_agree_for_plain_sgd(weight_decay):
    grads = make_grads(10)
    results = {}
    for mode in ("grad", "update"):
        params = make_params()
        opt = SGD(lr=0.1, weight_decay=weight_decay, gc=mode)
        state = opt.init(params)
        for g in grads:
            opt.step(params, g, state)
        results[mode] = params
    for name in SHAPES:
        np.testing.assert_allclose(results["grad"][name], results["update"][name], rtol=1e-12)
    # ...and GC did change something compared to no GC.
    plain = make_params()
    opt = SGD(lr=0.1, weight_decay=weight_decay)
    state = opt.init(plain)
    for g in grads:
        opt.step(plain, g, state)
    assert not np.allclose(plain["W"], results["grad"]["W"])
    np.testing.assert_allclose(plain["b"], results["grad"]["b"], rtol=1e-12)  # 1-D


def test_gc_grad_and_update_differ_for_adam():
    grads = make_grads(5)
    results = {}
    for mode in ("grad", "update"):
        params = make_params()
        opt = Adam(lr=0.01, gc=mode)
        state = opt.init(params)
        for g in grads:
            opt.step(params, g, state)
        results[mode] = params
    assert not np.allclose(results["grad"]["W"], results["update"]["W"], rtol=1e-6)
    assert not np.allclose(results["grad"]["K"], results["update"]["K"], rtol=1e-6)
    # 1-D tensors are never centralized, so there the modes agree.
    np.testing.assert_allclose(results["grad"]["b"], results["update"]["b"], rtol=1e-12)


# Optimizers whose buffers do not depend on the parameters (no L2 term), so that the
# "update" mode must equal the centralized gc=None step taken from the same point.
PARAM_FREE_STATE = [
    lambda gc: SGD(lr=0.1, momentum=0.9, dampening=0.1, gc=gc),
    lambda gc: SGD(lr=0.1, momentum=0.9, nesterov=True, gc=gc),
    lambda gc: RMSprop(lr=0.01, momentum=0.5, centered=True, gc=gc),
    lambda gc: RMSprop(lr=0.01, gc=gc),
    lambda gc: Adam(lr=0.01, amsgrad=True, gc=gc),
    lambda gc: AdamW(lr=0.01, weight_decay=0.1, gc=gc),
    lambda gc: Adagrad(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, gc=gc),
]


@pytest.mark.parametrize("factory", PARAM_FREE_STATE)
def test_gc_update_centralizes_the_step_and_leaves_state_alone(factory):
    grads = make_grads(8)
    opt_upd, opt_none = factory("update"), factory(None)
    params = make_params()
    state_upd, state_none = opt_upd.init(params), opt_none.init(params)
    for g in grads:
        before = copy_arrays(params)
        scratch = copy_arrays(params)
        opt_none.step(scratch, g, state_none)
        opt_upd.step(params, g, state_upd)

        expected_delta = centralize({k: scratch[k] - before[k] for k in SHAPES})
        for name in SHAPES:
            np.testing.assert_allclose(
                params[name] - before[name], expected_delta[name], rtol=1e-9, atol=1e-14
            )
        for key in state_none:
            if key == "step":
                assert state_upd["step"] == state_none["step"]
                continue
            for name in SHAPES:  # buffers are those of gc=None, not centralized
                np.testing.assert_allclose(state_upd[key][name], state_none[key][name], rtol=1e-12)
    np.testing.assert_array_equal(params["one"], make_params()["one"])  # (1,1) never moves


def test_gc_update_adam_first_step_by_hand():
    params = make_params()
    p0 = copy_arrays(params)
    g = make_grads(1)[0]
    lr, eps = 0.01, 1e-8
    opt = Adam(lr=lr, eps=eps, gc="update")
    opt.step(params, g, opt.init(params))
    # t = 1: m/bc1 = g and sqrt(v/bc2) = |g|, so u = g / (|g| + eps).
    u = {k: g[k] / (np.abs(g[k]) + eps) for k in g}
    cu = centralize(u)
    for name in SHAPES:
        np.testing.assert_allclose(params[name], p0[name] - lr * cu[name], rtol=1e-12)


def test_unknown_gc_mode_raises():
    for cls in (SGD, RMSprop, Adam, AdamW, Adagrad):
        with pytest.raises(ValueError, match="gc"):
            cls(lr=0.1, gc="weights")


# --------------------------------------------------------------------------- state, dtype


@pytest.mark.parametrize(
    ("opt", "keys"),
    [
        (SGD(lr=0.1), {"step"}),
        (SGD(lr=0.1, momentum=0.9), {"step", "momentum_buffer"}),
        (RMSprop(), {"step", "square_avg"}),
        (
            RMSprop(momentum=0.9, centered=True),
            {"step", "square_avg", "momentum_buffer", "grad_avg"},
        ),
        (Adam(), {"step", "exp_avg", "exp_avg_sq"}),
        (AdamW(amsgrad=True), {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
        (Adagrad(initial_accumulator_value=0.25), {"step", "sum"}),
    ],
)
def test_state_layout(opt, keys):
    params = make_params()
    state = opt.init(params)
    assert set(state) == keys
    assert state["step"] == 0
    fill = 0.25 if isinstance(opt, Adagrad) else 0.0
    for key in keys - {"step"}:
        assert set(state[key]) == set(SHAPES)
        for name, shape in SHAPES.items():
            assert state[key][name].shape == shape
            np.testing.assert_array_equal(state[key][name], fill)
    opt.step(params, make_grads(1)[0], state)
    opt.step(params, make_grads(1)[0], state)
    assert state["step"] == 2


ALL_GC = [
    (cls, gc)
    for cls in (
        lambda gc: SGD(lr=0.1, momentum=0.9, weight_decay=0.01, gc=gc),
        lambda gc: RMSprop(momentum=0.9, centered=True, weight_decay=0.01, gc=gc),
        lambda gc: Adam(amsgrad=True, weight_decay=0.01, gc=gc),
        lambda gc: AdamW(amsgrad=True, gc=gc),
        lambda gc: Adagrad(weight_decay=0.01, gc=gc),
    )
    for gc in (None, "grad", "update")
]


@pytest.mark.parametrize(("factory", "gc"), ALL_GC)
def test_float32_preserved_in_place_and_grads_untouched(factory, gc):
    opt = factory(gc)
    params = make_params(np.float32)
    arrays = dict(params)  # the original array objects
    state = opt.init(params)
    grads = make_grads(3, np.float32)
    grads_before = [copy_arrays(g) for g in grads]
    for g in grads:
        opt.step(params, g, state)
    for name in SHAPES:
        assert params[name] is arrays[name]  # updated in place
        assert params[name].dtype == np.float32
        for key, bufs in state.items():
            if key != "step":
                assert bufs[name].dtype == np.float32, key
    assert not np.array_equal(params["W"], make_params(np.float32)["W"])
    for g, g0 in zip(grads, grads_before, strict=True):
        for name in SHAPES:
            np.testing.assert_array_equal(g[name], g0[name])


def test_callable_lr_called_once_per_step_with_zero_based_index():
    calls = []

    def lr(i):
        calls.append(i)
        return 0.1

    opt = Adam(lr=lr)
    params = make_params()
    state = opt.init(params)
    for g in make_grads(3):
        opt.step(params, g, state)
    assert calls == [0, 1, 2]


# --------------------------------------------------------------------------- vs torch
# The option sets and the torch loop are shared with test_optim.py (tests/optimizer_cases.py).


@pytest.mark.parametrize(("info", "kwargs"), option_cases(torch_only=True))
def test_matches_torch_float64(info, kwargs):
    run_against_torch(info, kwargs, np.float64, implementation="reference", rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("info", info_cases(torch_only=True))
def test_matches_torch_float32(info):
    run_against_torch(info, info.rich, np.float32, implementation="reference", rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("info", info_cases(torch_only=True))
def test_callable_lr_matches_torch(info):
    run_against_torch(
        info,
        info.rich,
        np.float64,
        implementation="reference",
        rtol=1e-12,
        atol=1e-14,
        lr=lambda t: 0.1 * 0.5**t,
    )
