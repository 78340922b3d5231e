"""Tests of the reference NAdam, RAdam, Adamax, Adadelta, Rprop, Lion, Lookahead and Ranger.

The five with a ``torch.optim`` counterpart are stepped next to torch's for-loop
implementation (``foreach=False``); Lion is checked against its paper's rule written out
here, Lookahead and Ranger against their definitions in terms of the inner optimizer.
"""

import contextlib
import copy

import numpy as np
import pytest

from fastopt.reference.optim import (
    Adadelta,
    Adam,
    Adamax,
    Lion,
    Lookahead,
    NAdam,
    RAdam,
    Ranger,
    Rprop,
    centralize,
)

torch = pytest.importorskip("torch")

SHAPES = {"W": (3, 4), "b": (5,), "one": (1, 1), "K": (2, 3, 2, 2)}
MATRICES = ("W", "one", "K")  # ndim >= 2: the tensors GC changes
N_STEPS = 30

# float64: torch differs by rounding only (lerp for the first moment, two addcdiv_ for
# NAdam, the order of scalar factors); the largest deviation seen over 30 steps is about
# 1e-14 relative, so this leaves 100x. float32: up to ~1e-6 relative is seen.
F64 = dict(rtol=1e-12, atol=1e-14)
F32 = dict(rtol=1e-5, atol=1e-6)


def make_params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=shape).astype(dtype) for name, shape in SHAPES.items()}


def make_grads(n_steps=N_STEPS, dtype=np.float64, seed=1):
    """Random gradients whose scale varies over three decades from step to step."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_steps):
        scale = 10.0 ** rng.uniform(-2.0, 1.0)
        out.append({n: (scale * rng.normal(size=s)).astype(dtype) for n, s in SHAPES.items()})
    return out


def copy_arrays(arrays):
    return {k: v.copy() for k, v in arrays.items()}


def buffer_keys(state):
    """The per-tensor buffers of a state (NAdam's scalar mu_product and step excluded)."""
    return [k for k, v in state.items() if isinstance(v, dict)]


@contextlib.contextmanager
def torch_default_dtype(dtype):
    """Run with torch's default dtype set to ``dtype`` (torch's NAdam keeps mu_product in it)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def run_against_torch(
    ref_cls,
    kwargs,
    dtype=np.float64,
    *,
    tol=F64,
    gc=None,
    torch_grad=None,
    lr=None,
    grads=None,
):
    """Step the reference and ``torch.optim.<same name>`` side by side; compare every step.

    ``torch_grad(g)`` is what torch is fed instead of ``g`` (GC emulation); ``lr`` is a
    callable replacing ``kwargs["lr"]`` for us, set as torch's group lr before each step.
    """
    params = make_params(dtype)
    torch_params = {n: torch.nn.Parameter(torch.from_numpy(p.copy())) for n, p in params.items()}
    theirs = getattr(torch.optim, ref_cls.__name__)(
        list(torch_params.values()), foreach=False, **kwargs
    )
    ours = ref_cls(**{**kwargs, "gc": gc, **({} if lr is None else {"lr": lr})})
    state = ours.init(params)
    grads = make_grads(dtype=dtype) if grads is None else grads
    for i, g in enumerate(grads):
        fed = g if torch_grad is None else torch_grad(g)
        for n, tp in torch_params.items():
            tp.grad = torch.from_numpy(np.array(fed[n], dtype=dtype, copy=True))
        if lr is not None:
            theirs.param_groups[0]["lr"] = lr(i)
        theirs.step()
        ours.step(params, g, state)
        for n, tp in torch_params.items():
            np.testing.assert_allclose(
                params[n], tp.detach().numpy(), **tol, err_msg=f"{n}, step {i}"
            )
            assert params[n].dtype == dtype
    assert state["step"] == len(grads)
    for key in buffer_keys(state):
        for n, tp in torch_params.items():
            np.testing.assert_allclose(
                state[key][n], theirs.state[tp][key].numpy(), **tol, err_msg=f"{key}[{n}]"
            )
    if "mu_product" in state:
        for tp in torch_params.values():
            assert state["mu_product"] == pytest.approx(
                theirs.state[tp]["mu_product"].item(), rel=tol["rtol"]
            )
    return params, state


# --------------------------------------------------------------------------- vs torch

TORCH_CASES = {
    NAdam: [
        dict(lr=0.01),
        dict(lr=0.01, weight_decay=0.1),
        dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
        dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, momentum_decay=0.02),
        dict(lr=0.01, momentum_decay=0.0, decoupled_weight_decay=True),
    ],
    RAdam: [
        dict(lr=0.01),  # rectified from t = 6 on
        dict(lr=0.01, weight_decay=0.1),
        dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
        dict(lr=0.01, betas=(0.5, 0.9), eps=1e-6),  # rectified from t = 4 on
        dict(lr=0.01, betas=(0.9, 0.7)),  # rho_inf = 5.67: crosses 5 late
        dict(lr=0.01, betas=(0.9, 0.5)),  # rho_inf = 3: never rectified
    ],
    Adamax: [
        dict(lr=0.01),
        dict(lr=0.01, weight_decay=0.1),
        dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3),
    ],
    Adadelta: [
        dict(),
        dict(lr=0.5, weight_decay=0.1),
        dict(lr=2.0, rho=0.5, eps=1e-4),
    ],
    Rprop: [
        dict(),
        dict(lr=0.1, etas=(0.3, 1.5)),
        dict(lr=0.01, step_sizes=(1e-3, 0.02)),  # both bounds reached
        dict(lr=0.05, etas=(0.7, 1.1), step_sizes=(0.0, 1.0)),
    ],
}
TORCH_PARAMS = [
    pytest.param(cls, kw, id=f"{cls.__name__}-{i}")
    for cls, cases in TORCH_CASES.items()
    for i, kw in enumerate(cases)
]
# One option set per class that uses most of its options, for float32 and schedules.
RICH = {
    NAdam: dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=0.02),
    RAdam: dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, decoupled_weight_decay=True),
    Adamax: dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    Adadelta: dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1),
    Rprop: dict(lr=0.05, etas=(0.4, 1.3), step_sizes=(1e-3, 0.2)),
}
CLASS_PARAMS = [pytest.param(cls, id=cls.__name__) for cls in TORCH_CASES]


@pytest.mark.parametrize(("cls", "kwargs"), TORCH_PARAMS)
def test_matches_torch_float64(cls, kwargs):
    # torch's NAdam keeps mu_product in the default dtype: float64 needs a float64 default.
    with torch_default_dtype(torch.float64):
        run_against_torch(cls, kwargs)


@pytest.mark.parametrize("cls", CLASS_PARAMS)
def test_matches_torch_float32(cls):
    run_against_torch(cls, RICH[cls], np.float32, tol=F32)


@pytest.mark.parametrize("cls", CLASS_PARAMS)
def test_callable_lr_matches_torch(cls):
    with torch_default_dtype(torch.float64):
        run_against_torch(cls, RICH[cls], lr=lambda i: RICH[cls]["lr"] * 0.9**i)


def test_nadam_float32_default_dtype_rounds_mu_product():
    """Under torch's float32 default dtype, mu_product is rounded to float32 each step."""
    params = make_params()
    tp = torch.nn.Parameter(torch.from_numpy(params["W"].copy()))
    theirs = torch.optim.NAdam([tp], lr=0.01, foreach=False)
    ours = NAdam(lr=0.01)
    state = ours.init({"W": params["W"]})
    for g in make_grads(5):
        tp.grad = torch.from_numpy(g["W"].copy())
        theirs.step()
        ours.step({"W": params["W"]}, {"W": g["W"]}, state)
    assert theirs.state[tp]["mu_product"].dtype == torch.float32
    assert isinstance(state["mu_product"], float)
    assert theirs.state[tp]["mu_product"].item() == np.float32(state["mu_product"])
    np.testing.assert_allclose(params["W"], tp.detach().numpy(), rtol=1e-6)


def test_rprop_nan_and_inf_gradients_match_torch():
    """torch.sign(NaN) == 0: a NaN entry does not move p, then the entry carries on."""
    grads = make_grads(8)
    grads[0]["W"][0, 0] = np.inf  # inf * prev (0) is NaN: factor 1, p moves by -step_size
    grads[2]["W"][1, 2] = np.nan
    run_against_torch(Rprop, dict(lr=0.05), grads=grads)  # NaN positions must agree too

    opt = Rprop(lr=0.05)
    params = make_params()
    state = opt.init(params)
    opt.step(params, grads[0], state)
    assert params["W"][0, 0] == make_params()["W"][0, 0] - 0.05
    opt.step(params, grads[1], state)
    p_before, size_before = params["W"][1, 2], state["step_size"]["W"][1, 2]
    opt.step(params, grads[2], state)  # the NaN step: p and step size stay, prev keeps NaN
    assert params["W"][1, 2] == p_before
    assert state["step_size"]["W"][1, 2] == size_before
    assert np.isnan(state["prev"]["W"][1, 2])
    for g in grads[3:]:
        opt.step(params, g, state)
    assert np.isfinite(params["W"]).all() and np.isfinite(state["prev"]["W"]).all()


def test_rprop_uses_only_the_first_lr():
    opt = Rprop(lr=lambda i: 0.1 * 10.0**i)
    params = make_params()
    state = opt.init(params)
    for name in SHAPES:
        np.testing.assert_array_equal(state["step_size"][name], 0.1)
    run_against_torch(Rprop, dict(lr=0.1), lr=lambda i: 0.1 * 10.0**i)


# --------------------------------------------------------------------------- GC

# Option sets without an L2 term, so that d = g and gc="grad" is torch fed centralize(g).
L2_FREE = {
    NAdam: dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, momentum_decay=0.01),
    RAdam: dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    Adamax: dict(lr=0.01, betas=(0.8, 0.99)),
    Adadelta: dict(lr=0.5, rho=0.8),
    Rprop: dict(lr=0.05, step_sizes=(1e-3, 0.2)),
}


@pytest.mark.parametrize("cls", CLASS_PARAMS)
def test_gc_grad_equals_torch_fed_centralized_gradient(cls):
    with torch_default_dtype(torch.float64):
        params, _ = run_against_torch(cls, L2_FREE[cls], gc="grad", torch_grad=centralize)
    assert not np.allclose(params["W"], make_params()["W"])


# (factory, whether it has decoupled decay that joins u) for the gc="update" check.
UPDATE_FACTORIES = [
    pytest.param(lambda gc: NAdam(gc=gc, **L2_FREE[NAdam]), id="NAdam-decoupled"),
    pytest.param(lambda gc: NAdam(lr=0.01, gc=gc), id="NAdam"),
    pytest.param(lambda gc: RAdam(gc=gc, **L2_FREE[RAdam]), id="RAdam-decoupled"),
    pytest.param(lambda gc: RAdam(lr=0.01, betas=(0.5, 0.9), gc=gc), id="RAdam"),
    pytest.param(lambda gc: Adamax(gc=gc, **L2_FREE[Adamax]), id="Adamax"),
    pytest.param(lambda gc: Adadelta(gc=gc, **L2_FREE[Adadelta]), id="Adadelta"),
    pytest.param(lambda gc: Rprop(gc=gc, **L2_FREE[Rprop]), id="Rprop"),
    pytest.param(lambda gc: Lion(lr=0.01, weight_decay=0.5, gc=gc), id="Lion-decay"),
    pytest.param(lambda gc: Lion(lr=0.01, betas=(0.5, 0.9), gc=gc), id="Lion"),
]


@pytest.mark.parametrize("factory", UPDATE_FACTORIES)
def test_gc_update_centralizes_the_step_and_leaves_state_alone(factory):
    """gc="update" moves p by the centralized gc=None step; the buffers are gc=None's.

    Without an L2 term the buffers do not depend on p, so gc=None and gc="update" keep
    equal buffers while their parameters part ways. Decoupled decay: gc=None's step
    ``p(1 - lr wd) - lr u`` is ``p - lr (u + wd p)``, whose centralization is gc="update"'s.
    """
    opt_upd, opt_none = factory("update"), factory(None)
    params = make_params()
    state_upd, state_none = opt_upd.init(params), opt_none.init(params)
    for g in make_grads(12):
        before = copy_arrays(params)
        scratch = copy_arrays(params)
        opt_none.step(scratch, g, state_none)
        opt_upd.step(params, g, state_upd)

        delta = {k: params[k] - before[k] for k in SHAPES}
        expected = centralize({k: scratch[k] - before[k] for k in SHAPES})
        for name in SHAPES:
            np.testing.assert_allclose(delta[name], expected[name], rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(delta["W"].mean(axis=1), 0.0, atol=1e-15)
        np.testing.assert_allclose(delta["K"].mean(axis=(1, 2, 3)), 0.0, atol=1e-15)
        assert state_upd["step"] == state_none["step"]
        assert state_upd.get("mu_product") == state_none.get("mu_product")
        for key in buffer_keys(state_none):
            for name in SHAPES:  # same buffers as gc=None, not centralized
                np.testing.assert_array_equal(state_upd[key][name], state_none[key][name])
    assert not np.allclose(params["W"], scratch["W"])  # GC did change the parameters
    np.testing.assert_array_equal(params["one"], make_params()["one"])  # (1,1) never moves


@pytest.mark.parametrize(
    "factory",
    [
        pytest.param(lambda gc: NAdam(lr=0.01, weight_decay=0.1, gc=gc), id="NAdam-L2"),
        pytest.param(lambda gc: RAdam(lr=0.01, weight_decay=0.1, gc=gc), id="RAdam-L2"),
        pytest.param(lambda gc: Adamax(lr=0.01, weight_decay=0.1, gc=gc), id="Adamax-L2"),
        pytest.param(lambda gc: Adadelta(weight_decay=0.1, gc=gc), id="Adadelta-L2"),
    ],
)
def test_gc_grad_centralizes_the_l2_gradient_first_step(factory):
    """With L2, gc="grad" centralizes d = g + wd p: on step 1, that is gc=None fed d_c - wd p."""
    params = make_params()
    g = make_grads(1)[0]
    wd = factory(None).weight_decay
    d_c = centralize({k: g[k] + wd * params[k] for k in SHAPES})
    fed = {k: d_c[k] - wd * params[k] for k in SHAPES}  # so that gc=None's d is d_c
    p_grad, p_none = copy_arrays(params), copy_arrays(params)
    opt = factory("grad")
    opt.step(p_grad, g, opt.init(p_grad))
    opt = factory(None)
    opt.step(p_none, fed, opt.init(p_none))
    for name in SHAPES:
        np.testing.assert_allclose(p_grad[name], p_none[name], rtol=1e-12, atol=1e-15)


def test_gc_grad_lion_equals_lion_fed_centralized_gradient():
    grads = make_grads(10)
    p_grad, p_none = make_params(), make_params()
    opt_grad, opt_none = Lion(lr=0.01, weight_decay=0.1, gc="grad"), Lion(lr=0.01, weight_decay=0.1)
    s_grad, s_none = opt_grad.init(p_grad), opt_none.init(p_none)
    for g in grads:
        opt_grad.step(p_grad, g, s_grad)
        opt_none.step(p_none, centralize(g), s_none)
    for name in SHAPES:
        np.testing.assert_array_equal(p_grad[name], p_none[name])
        np.testing.assert_array_equal(s_grad["exp_avg"][name], s_none["exp_avg"][name])


# --------------------------------------------------------------------------- Lion


def lion_paper(p, m, g, lr, beta1, beta2, wd):
    """Chen et al. 2023, Algorithm 2 (one step, plain NumPy)."""
    c = beta1 * m + (1 - beta1) * g  # update interpolation
    p = p - lr * (np.sign(c) + wd * p)  # sign update with decoupled weight decay
    m = beta2 * m + (1 - beta2) * g  # momentum update
    return p, m


def test_lion_first_step_by_hand():
    p = {"w": np.array([1.0, -2.0, 0.5]), "M": np.array([[0.3, -0.1], [0.0, 4.0]])}
    g = {"w": np.array([0.2, 0.0, -3.0]), "M": np.array([[-1e-9, 5.0], [2.0, 0.0]])}
    opt = Lion(lr=0.1, betas=(0.9, 0.99), weight_decay=0.5)
    state = opt.init(p)
    opt.step(p, g, state)
    # exp_avg = 0: u = sign(0.1 g); p = p (1 - 0.05) - 0.1 sign(g); sign(0) = 0.
    np.testing.assert_allclose(p["w"], [0.95 - 0.1, -1.9, 0.475 + 0.1], rtol=1e-15)
    np.testing.assert_allclose(p["M"], [[0.285 + 0.1, -0.095 - 0.1], [-0.1, 3.8]], rtol=1e-15)
    np.testing.assert_allclose(state["exp_avg"]["w"], [0.002, 0.0, -0.03], rtol=1e-15)
    assert opt.betas == (0.9, 0.99) and state["step"] == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "kwargs", [dict(lr=0.1), dict(lr=0.05, betas=(0.5, 0.8), weight_decay=0.3)]
)
def test_lion_matches_paper_rule(kwargs, dtype):
    rng = np.random.default_rng(7)
    params = {"w": rng.normal(size=3).astype(dtype), "M": rng.normal(size=(2, 2)).astype(dtype)}
    mine = copy_arrays(params)
    moment = {k: np.zeros_like(v) for k, v in params.items()}
    opt = Lion(**kwargs)
    state = opt.init(params)
    beta1, beta2 = kwargs.get("betas", (0.9, 0.99))
    wd = kwargs.get("weight_decay", 0.0)
    for _ in range(5):
        g = {k: rng.normal(size=v.shape).astype(dtype) for k, v in params.items()}
        opt.step(params, g, state)
        for k in mine:
            mine[k], moment[k] = lion_paper(
                mine[k], moment[k], g[k], kwargs["lr"], beta1, beta2, wd
            )
        for k in mine:
            assert params[k].dtype == dtype
            np.testing.assert_allclose(
                params[k], mine[k], rtol=1e-6 if dtype == np.float32 else 1e-14
            )
            np.testing.assert_allclose(state["exp_avg"][k], moment[k], rtol=1e-6, atol=0)


def test_lion_update_mode_by_hand():
    """gc="update": u = sign(c) + wd p, then centralized, one step from exp_avg = 0."""
    p = {"M": np.array([[1.0, 3.0], [-2.0, 0.0]])}
    g = {"M": np.array([[1.0, -1.0], [1.0, 1.0]])}
    opt = Lion(lr=0.1, weight_decay=0.5, gc="update")
    opt.step(p, g, opt.init(p))
    u = np.array([[1.0 + 0.5, -1.0 + 1.5], [1.0 - 1.0, 1.0 + 0.0]])  # [[1.5, 0.5], [0, 1]]
    cu = np.array([[0.5, -0.5], [-0.5, 0.5]])
    np.testing.assert_allclose(u - u.mean(axis=1, keepdims=True), cu)
    np.testing.assert_allclose(p["M"], [[1.0 - 0.05, 3.0 + 0.05], [-2.0 + 0.05, -0.05]])


# --------------------------------------------------------------------------- Lookahead


@pytest.mark.parametrize(
    "inner_factory",
    [
        pytest.param(lambda: Adam(lr=0.01, gc="grad"), id="Adam"),
        pytest.param(lambda: NAdam(lr=0.01, weight_decay=0.1), id="NAdam"),
        pytest.param(lambda: Rprop(lr=0.05), id="Rprop"),
    ],
)
@pytest.mark.parametrize(("k", "alpha"), [(5, 0.5), (3, 0.8), (1, 0.3)])
def test_lookahead(inner_factory, k, alpha):
    opt = Lookahead(inner_factory(), k=k, alpha=alpha)
    params = make_params()
    p0 = copy_arrays(params)
    state = opt.init(params)
    assert set(state) == set(opt.inner.init(params)) | {"slow_params"}
    for name in SHAPES:
        np.testing.assert_array_equal(state["slow_params"][name], p0[name])
        assert state["slow_params"][name] is not params[name]

    # The first k - 1 steps are those of the inner optimizer run alone.
    alone, alone_opt = copy_arrays(params), inner_factory()
    alone_state = alone_opt.init(alone)
    grads = make_grads(3 * k + 2)
    for t, g in enumerate(grads, start=1):
        slow_before = copy_arrays(state["slow_params"])
        scratch, scratch_state = copy_arrays(params), copy.deepcopy(state)
        opt.inner.step(scratch, g, scratch_state)  # the inner step from the same point
        opt.step(params, g, state)
        assert state["step"] == t
        if t < k:
            alone_opt.step(alone, g, alone_state)
            for name in SHAPES:
                np.testing.assert_array_equal(params[name], alone[name])
        for name in SHAPES:
            slow = state["slow_params"][name]
            if t % k == 0:  # sync: slow moves towards the fast weights, p jumps to slow
                expected = slow_before[name] + alpha * (scratch[name] - slow_before[name])
                np.testing.assert_allclose(slow, expected, rtol=1e-15, atol=1e-15)
                np.testing.assert_array_equal(params[name], slow)
                assert not np.array_equal(slow, slow_before[name]) or name == "one"
            else:  # between syncs: slow is still, p is the inner step
                np.testing.assert_array_equal(slow, slow_before[name])
                np.testing.assert_array_equal(params[name], scratch[name])
        for key in buffer_keys(scratch_state):
            if key != "slow_params":  # the inner buffers are not touched by the sync
                for name in SHAPES:
                    np.testing.assert_array_equal(state[key][name], scratch_state[key][name])


def test_lookahead_alpha_one_k_one_is_the_inner_optimizer():
    grads = make_grads(10)
    p_la, p_in = make_params(), make_params()
    la, inner = Lookahead(RAdam(lr=0.01), k=1, alpha=1.0), RAdam(lr=0.01)
    s_la, s_in = la.init(p_la), inner.init(p_in)
    for g in grads:
        la.step(p_la, g, s_la)
        inner.step(p_in, g, s_in)
    for name in SHAPES:
        np.testing.assert_array_equal(p_la[name], p_in[name])


def test_lookahead_float32_and_attributes():
    inner = Adamax(lr=lambda i: 0.01, gc="update")
    opt = Lookahead(inner, k=2, alpha=0.25)
    assert opt.inner is inner and opt.k == 2 and opt.alpha == 0.25
    assert opt.lr is inner.lr and opt.gc == "update" and opt.lr_at(3) == 0.01
    params = make_params(np.float32)
    state = opt.init(params)
    for g in make_grads(4, np.float32):
        opt.step(params, g, state)
    for name in SHAPES:
        assert params[name].dtype == np.float32
        assert state["slow_params"][name].dtype == np.float32
        np.testing.assert_array_equal(params[name], state["slow_params"][name])  # t = 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(k=0), "k"),
        (dict(k=2.0), "k"),
        (dict(k=True), "k"),
        (dict(alpha=0.0), "alpha"),
        (dict(alpha=1.5), "alpha"),
        (dict(alpha=float("nan")), "alpha"),
    ],
)
def test_lookahead_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Lookahead(Adam(), **kwargs)


# --------------------------------------------------------------------------- Ranger


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, gc="update"),
        dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8, lookahead_k=4, lookahead_alpha=0.7),
    ],
)
def test_ranger_is_lookahead_radam(kwargs):
    ranger = Ranger(**kwargs)
    expected = Lookahead(
        RAdam(
            lr=kwargs.get("lr", 1e-3),
            betas=kwargs.get("betas", (0.95, 0.999)),
            eps=kwargs.get("eps", 1e-5),
            weight_decay=kwargs.get("weight_decay", 0.0),
            decoupled_weight_decay=kwargs.get("decoupled_weight_decay", False),
            gc=kwargs.get("gc", "grad"),
        ),
        k=kwargs.get("lookahead_k", 6),
        alpha=kwargs.get("lookahead_alpha", 0.5),
    )
    assert isinstance(ranger, Lookahead) and isinstance(ranger.inner, RAdam)
    assert vars(ranger.inner) == vars(expected.inner)
    p_r, p_e = make_params(), make_params()
    s_r, s_e = ranger.init(p_r), expected.init(p_e)
    for g in make_grads(20):
        ranger.step(p_r, g, s_r)
        expected.step(p_e, g, s_e)
    for name in SHAPES:
        np.testing.assert_array_equal(p_r[name], p_e[name])


def test_ranger_defaults():
    r = Ranger()
    assert (r.k, r.alpha, r.gc, r.lr) == (6, 0.5, "grad", 1e-3)
    assert (r.inner.betas, r.inner.eps, r.inner.weight_decay) == ((0.95, 0.999), 1e-5, 0.0)


# --------------------------------------------------------------------------- state, dtype

ALL_NEW = {
    NAdam: {"exp_avg", "exp_avg_sq"},
    RAdam: {"exp_avg", "exp_avg_sq"},
    Adamax: {"exp_avg", "exp_inf"},
    Adadelta: {"square_avg", "acc_delta"},
    Rprop: {"prev", "step_size"},
    Lion: {"exp_avg"},
}


@pytest.mark.parametrize("cls", [pytest.param(c, id=c.__name__) for c in ALL_NEW])
def test_state_layout(cls):
    opt = cls(lr=0.25)
    params = make_params()
    state = opt.init(params)
    scalars = {"step"} | ({"mu_product"} if cls is NAdam else set())
    assert set(state) == ALL_NEW[cls] | scalars
    assert state["step"] == 0
    for key in ALL_NEW[cls]:
        assert set(state[key]) == set(SHAPES)
        for name, shape in SHAPES.items():
            assert state[key][name].shape == shape
            np.testing.assert_array_equal(state[key][name], 0.25 if key == "step_size" else 0.0)
    if cls is NAdam:
        assert state["mu_product"] == 1.0 and isinstance(state["mu_product"], float)
    for g in make_grads(2):
        opt.step(params, g, state)
    assert state["step"] == 2
    if cls is NAdam:  # the float64 product of the two mu's
        mus = [0.9 * (1 - 0.5 * 0.96 ** (t * 4e-3)) for t in (1, 2)]
        assert state["mu_product"] == mus[0] * mus[1]


FACTORIES_ALL_GC = [
    pytest.param(factory, gc, id=f"{name}-gc={gc}")
    for name, factory in [
        ("NAdam", lambda gc: NAdam(weight_decay=0.1, gc=gc)),
        ("NAdamW", lambda gc: NAdam(weight_decay=0.1, decoupled_weight_decay=True, gc=gc)),
        ("RAdam", lambda gc: RAdam(weight_decay=0.1, gc=gc)),
        ("RAdamW", lambda gc: RAdam(weight_decay=0.1, decoupled_weight_decay=True, gc=gc)),
        ("Adamax", lambda gc: Adamax(weight_decay=0.1, gc=gc)),
        ("Adadelta", lambda gc: Adadelta(weight_decay=0.1, gc=gc)),
        ("Rprop", lambda gc: Rprop(gc=gc)),
        ("Lion", lambda gc: Lion(weight_decay=0.1, gc=gc)),
        ("Lookahead", lambda gc: Lookahead(NAdam(gc=gc), k=2)),
        ("Ranger", lambda gc: Ranger(gc=gc)),
    ]
    for gc in (None, "grad", "update")
]


@pytest.mark.parametrize(("factory", "gc"), FACTORIES_ALL_GC)
def test_float32_preserved_in_place_and_grads_untouched(factory, gc):
    opt = factory(gc)
    params = make_params(np.float32)
    arrays = dict(params)
    state = opt.init(params)
    grads = make_grads(7, np.float32)
    grads_before = [copy_arrays(g) for g in grads]
    for g in grads:
        opt.step(params, g, state)
    for name in SHAPES:
        assert params[name] is arrays[name]
        assert params[name].dtype == np.float32
        for key in buffer_keys(state):
            assert state[key][name].dtype == np.float32, key
    assert not np.array_equal(params["W"], make_params(np.float32)["W"])
    for g, g0 in zip(grads, grads_before, strict=True):
        for name in SHAPES:
            np.testing.assert_array_equal(g[name], g0[name])


@pytest.mark.parametrize("cls", [pytest.param(c, id=c.__name__) for c in ALL_NEW])
def test_callable_lr_called_once_per_step_with_zero_based_index(cls):
    calls = []

    def lr(i):
        calls.append(i)
        return 0.1

    opt = cls(lr=lr)
    params = make_params()
    state = opt.init(params)
    init_calls = [0] if cls is Rprop else []  # Rprop's step sizes start at lr(0)
    assert calls == init_calls
    for g in make_grads(3):
        opt.step(params, g, state)
    assert calls == init_calls + [0, 1, 2]


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (NAdam, dict(lr=-1.0), "lr"),
        (NAdam, dict(betas=(1.0, 0.9)), "betas"),
        (NAdam, dict(eps=-1e-8), "eps"),
        (NAdam, dict(weight_decay=-0.1), "weight_decay"),
        (NAdam, dict(momentum_decay=-1.0), "momentum_decay"),
        (RAdam, dict(betas=(0.9, 1.0)), "betas"),
        (RAdam, dict(weight_decay=-0.1), "weight_decay"),
        (Adamax, dict(betas=(-0.1, 0.9)), "betas"),
        (Adamax, dict(eps=-1.0), "eps"),
        (Adadelta, dict(rho=1.5), "rho"),
        (Adadelta, dict(lr=-1.0), "lr"),
        (Rprop, dict(etas=(1.2, 0.5)), "etas"),
        (Rprop, dict(etas=(0.5, 1.0)), "etas"),
        (Rprop, dict(step_sizes=(1.0, 0.5)), "step_sizes"),
        (Lion, dict(betas=(0.9, 1.5)), "betas"),
        (Lion, dict(weight_decay=-1.0), "weight_decay"),
        (Ranger, dict(lookahead_k=0), "k"),
        (Ranger, dict(eps=-1.0), "eps"),
    ],
)
def test_bad_hyperparameters_raise(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [pytest.param(c, id=c.__name__) for c in [*ALL_NEW, Ranger]])
def test_unknown_gc_mode_raises(cls):
    with pytest.raises(ValueError, match="gc"):
        cls(gc="weights")
