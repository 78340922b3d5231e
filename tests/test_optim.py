"""Tests of the fused optimizers (fastopt.optim) against the NumPy reference and torch.optim."""

import numpy as np
import pytest

import fastopt
import fastopt.optim as fo
from fastopt import Layout
from fastopt._kernels import fused as _fused
from fastopt.reference import optim as ref
from fastopt.schedules import Constant, Cosine, Exponential, StepDecay

# Odd sizes on purpose: 1-D tensors, a (1, 1) matrix, a conv kernel, rows of length 1.
LAYOUT = Layout(
    [
        ("W", (3, 4)),
        ("b", (5,)),
        ("one", (1, 1)),
        ("K", (3, 2, 3, 3)),
        ("s", (1,)),
        ("col", (4, 1)),
    ]
)
ONE_D = ("b", "s")
GC_MODES = [None, "grad", "update"]
DTYPES = [np.float64, np.float32]
N_STEPS = 100


def tol(dtype):
    if np.dtype(dtype) == np.float64:
        return dict(rtol=1e-11, atol=1e-13)
    return dict(rtol=2e-4, atol=2e-5)


def make_params(dtype=np.float64, layout=LAYOUT, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=layout.size).astype(dtype)


def make_grads(n_steps, dtype=np.float64, layout=LAYOUT, seed=1):
    """Flat random gradients whose scale changes from step to step (so AMSGrad's max matters)."""
    rng = np.random.default_rng(seed)
    return [
        (rng.uniform(0.1, 2.0) * rng.normal(size=layout.size)).astype(dtype) for _ in range(n_steps)
    ]


FUSED = {
    "SGD": fastopt.SGD,
    "Momentum": fastopt.Momentum,
    "RMSprop": fastopt.RMSprop,
    "Adam": fastopt.Adam,
    "AdamW": fastopt.AdamW,
    "Adagrad": fastopt.Adagrad,
}
REFERENCE = {
    "SGD": ref.SGD,
    "Momentum": lambda **kw: ref.SGD(**{"momentum": 0.9, **kw}),
    "RMSprop": ref.RMSprop,
    "Adam": ref.Adam,
    "AdamW": ref.AdamW,
    "Adagrad": ref.Adagrad,
}

OPTIONS = {
    "SGD": [
        dict(lr=0.05),
        dict(lr=0.05, weight_decay=0.1),
        dict(lr=0.05, momentum=0.9),
        dict(lr=0.05, momentum=0.9, dampening=0.3),
        dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1),
        dict(lr=0.05, momentum=0.9, nesterov=True),
        dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    ],
    "Momentum": [
        dict(lr=0.05),
    ],
    "RMSprop": [
        dict(lr=0.01),
        dict(lr=0.01, centered=True),
        dict(lr=0.01, momentum=0.9),
        dict(lr=0.01, momentum=0.9, centered=True),
        dict(lr=0.01, weight_decay=0.1),
        dict(lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, centered=True, weight_decay=0.1),
    ],
    "Adam": [
        dict(lr=0.01),
        dict(lr=0.01, amsgrad=True),
        dict(lr=0.01, weight_decay=0.1),
        dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, amsgrad=True, weight_decay=0.1),
    ],
    "AdamW": [
        dict(lr=0.01),  # default weight_decay=1e-2
        dict(lr=0.01, weight_decay=0.0),
        dict(lr=0.01, amsgrad=True),
        dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, amsgrad=True, weight_decay=0.1),
    ],
    "Adagrad": [
        dict(lr=0.1),
        dict(lr=0.1, lr_decay=0.05),
        dict(lr=0.1, weight_decay=0.1),
        dict(lr=0.1, initial_accumulator_value=0.5),
        dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6),
    ],
}
CASES = [
    pytest.param(name, kw, id=f"{name}-" + "-".join(f"{k}={v}" for k, v in kw.items()))
    for name, kws in OPTIONS.items()
    for kw in kws
]
# One rich option set per optimizer, for the tests that do not need every option.
RICH = {name: kws[-1] for name, kws in OPTIONS.items()}
RICH["SGD"] = dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)


def buffer_keys(ref_state):
    return tuple(k for k in ref_state if k != "step")


def run_against_reference(
    name, kwargs, dtype, gc, *, layout=LAYOUT, n_steps=N_STEPS, lr=None, seed=0
):
    """Step fused and reference side by side; compare params every step, state at the end.

    Returns the fused (params, state).
    """
    kwargs = {**kwargs, "gc": gc}
    if lr is not None:
        kwargs["lr"] = lr
    opt = FUSED[name](**kwargs)
    ref_opt = REFERENCE[name](**kwargs)
    params = make_params(dtype, layout, seed)
    ref_flat = params.copy()
    ref_params = layout.views(ref_flat)  # the reference writes through these views
    state = opt.init(params, layout)
    ref_state = ref_opt.init(ref_params)

    assert state.step == 0
    assert state.buffer_names == buffer_keys(ref_state)
    assert state.buffers.shape == (len(state.buffer_names), layout.size)
    for key in state.buffer_names:  # initial values (Adagrad's accumulator is not zero)
        np.testing.assert_array_equal(state[key], layout.pack(ref_state[key], dtype=dtype))

    for i, g in enumerate(make_grads(n_steps, dtype, layout, seed + 1)):
        g_before = g.copy()
        opt.step(params, g, state)
        ref_opt.step(ref_params, layout.views(g), ref_state)
        np.testing.assert_array_equal(g, g_before)  # grads are not modified
        np.testing.assert_allclose(params, ref_flat, **tol(dtype), err_msg=f"params, step {i}")
        assert state.step == i + 1 == ref_state["step"]

    for key in state.buffer_names:
        np.testing.assert_allclose(
            state[key], layout.pack(ref_state[key], dtype=dtype), **tol(dtype), err_msg=key
        )
    # dtype is preserved everywhere, and views match the layout's shapes.
    assert params.dtype == dtype
    assert state.dtype == dtype and state.buffers.dtype == dtype
    for key in state.buffer_names:
        assert state[key].dtype == dtype
        assert state[key].shape == (layout.size,)
        for tname, view in state.views(key).items():
            assert view.shape == layout.shapes[tname]
            assert view.dtype == dtype
            assert np.shares_memory(view, state.buffers)
    return params, state


# --------------------------------------------------------------------------- vs reference


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("gc", GC_MODES, ids=["gc=None", "gc=grad", "gc=update"])
@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_matches_reference(name, kwargs, gc, dtype):
    params, _ = run_against_reference(name, kwargs, dtype, gc)
    assert not np.array_equal(params, make_params(dtype))  # it did move


SCHEDULES = [
    pytest.param(Cosine(0.05, total_steps=60, min_lr=0.001, warmup=10), id="cosine-warmup"),
    pytest.param(StepDecay(0.05, step_size=7, gamma=0.5, warmup=3), id="step-warmup"),
    pytest.param(Exponential(0.05, gamma=0.97, warmup=5), id="exp-warmup"),
    pytest.param(Constant(0.05, warmup=20), id="constant-warmup"),
]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad"])
@pytest.mark.parametrize("gc", [None, "update"])
def test_schedule_lr_matches_reference(name, schedule, gc):
    opt = FUSED[name](**{**RICH[name], "lr": schedule})
    assert [opt.lr_at(t) for t in range(N_STEPS)] == [schedule(t) for t in range(N_STEPS)]
    run_against_reference(name, RICH[name], np.float64, gc, lr=schedule)


def test_schedule_lr_differs_from_constant_lr():
    """The schedule is really used: a warm-up start is not the constant-lr run."""
    p_sched, _ = run_against_reference(
        "Adam",
        RICH["Adam"],
        np.float64,
        None,
        lr=Cosine(0.01, total_steps=50, warmup=10),
        n_steps=20,
    )
    p_const, _ = run_against_reference("Adam", RICH["Adam"], np.float64, None, n_steps=20)
    assert not np.allclose(p_sched, p_const)


def test_momentum_is_sgd_with_momentum_09():
    opt = fastopt.Momentum(lr=0.1)
    assert opt.momentum == 0.9 and opt.name == "sgd"
    assert opt.hyperparameters() == fastopt.SGD(lr=0.1, momentum=0.9).hyperparameters()


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_hyperparameters_and_repr(name, kwargs):
    opt = FUSED[name](**kwargs, gc="grad")
    hp = opt.hyperparameters()
    for key, value in kwargs.items():
        assert hp[key] == value, key
    assert hp["gc"] == "grad"
    assert type(opt)(**hp).hyperparameters() == hp
    assert repr(opt).startswith(f"{type(opt).__name__}(") and "gc='grad'" in repr(opt)


# --------------------------------------------------------------------------- serial vs threads

BIG = Layout(
    [
        ("W1", (330, 400)),
        ("b1", (330,)),
        ("K", (8, 3, 5, 5)),
        ("one", (1, 1)),
        ("col", (37, 1)),
        ("W2", (11, 330)),
        ("b2", (11,)),
    ]
)


def spy(monkeypatch, attr):
    calls = []
    real = getattr(_fused, attr)

    def wrapper(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(_fused, attr, wrapper)
    return calls


def test_big_layout_is_above_parallel_threshold():
    # The threaded-path tests rely on BIG taking the threads and LAYOUT staying serial.
    assert fo.PARALLEL_MIN_SIZE <= BIG.size
    assert LAYOUT.size < fo.PARALLEL_MIN_SIZE


def test_chunks_tile_the_layout_and_gc_chunks_hold_whole_rows():
    from fastopt.optim import CHUNK, _chunk_table

    for centralize in (False, True):
        table = _chunk_table(BIG, centralize)
        assert table[0, 0] == 0 and table[-1, 1] == BIG.size
        np.testing.assert_array_equal(table[1:, 0], table[:-1, 1])  # no gap, no overlap
    table = _chunk_table(BIG, True)
    for spec in BIG:
        inside = table[(table[:, 0] >= spec.offset) & (table[:, 1] <= spec.stop)]
        assert inside[0, 0] == spec.offset and inside[-1, 1] == spec.stop
        sizes = inside[:, 1] - inside[:, 0]
        if len(spec.shape) > 1:  # centralized: whole rows, about CHUNK entries a chunk
            row = spec.size // spec.shape[0]
            assert (inside[:, 2] == row).all() and (sizes % row == 0).all()
            assert sizes.max() <= max(CHUNK, row)
        else:
            assert (inside[:, 2] == 0).all()
    assert (_chunk_table(BIG, False)[:, 2] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("gc", GC_MODES, ids=["gc=None", "gc=grad", "gc=update"])
@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad"])
def test_parallel_path_matches_reference_and_serial(name, gc, dtype, monkeypatch):
    n_steps = 3
    parallel_calls = spy(monkeypatch, "step_parallel")
    serial_calls = spy(monkeypatch, "step_serial")
    p_par, s_par = run_against_reference(name, RICH[name], dtype, gc, layout=BIG, n_steps=n_steps)
    assert len(parallel_calls) == n_steps and not serial_calls

    # Forcing the serial path gives bit-identical results.
    monkeypatch.setattr(fo, "PARALLEL_MIN_SIZE", BIG.size + 1)
    opt = FUSED[name](**RICH[name], gc=gc)
    p_ser = make_params(dtype, BIG)
    s_ser = opt.init(p_ser, BIG)
    for g in make_grads(n_steps, dtype, BIG, seed=1):
        opt.step(p_ser, g, s_ser)
    assert len(serial_calls) == n_steps and len(parallel_calls) == n_steps
    np.testing.assert_array_equal(p_par, p_ser)
    np.testing.assert_array_equal(s_par.buffers, s_ser.buffers)
    assert s_par.step == s_ser.step == n_steps


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("gc", GC_MODES, ids=["gc=None", "gc=grad", "gc=update"])
@pytest.mark.parametrize("name", list(FUSED))
def test_threaded_path_on_odd_layout_is_bit_identical_to_serial(name, gc, dtype, monkeypatch):
    results = {}
    for threshold in (1, LAYOUT.size + 1):
        monkeypatch.setattr(fo, "PARALLEL_MIN_SIZE", threshold)
        calls = spy(monkeypatch, "step_parallel")
        opt = FUSED[name](**RICH[name], gc=gc)
        params = make_params(dtype)
        state = opt.init(params, LAYOUT)
        for g in make_grads(10, dtype):
            opt.step(params, g, state)
        assert len(calls) == (10 if threshold == 1 else 0)
        results[threshold] = (params, state.buffers)
    (p_par, b_par), (p_ser, b_ser) = results.values()
    np.testing.assert_array_equal(p_par, p_ser)
    np.testing.assert_array_equal(b_par, b_ser)


WIDE = Layout([("W", (5, 37)), ("b", (37,)), ("K", (3, 4, 4, 4)), ("one", (1, 1))])


def run_at(name, gc, dtype, gap_pg, gap_gb, n_steps=3):
    """Run with params, grads and state buffers carved from one array, ``gap_pg`` entries
    between params and grads and ``gap_gb`` between grads and the buffers."""
    opt = FUSED[name](**RICH[name], gc=gc)
    n, k = WIDE.size, len(opt.buffer_names)
    base = np.zeros(2 * n + k * n + gap_pg + gap_gb, dtype=dtype)
    params = base[:n]
    params[:] = make_params(dtype, WIDE)
    grads = base[n + gap_pg : 2 * n + gap_pg]
    state = opt.init(params, WIDE)
    start = 2 * n + gap_pg + gap_gb
    state.buffers = base[start : start + k * n].reshape(k, n)  # same zeros, placed by us
    for g in make_grads(n_steps, dtype, WIDE):
        grads[:] = g
        opt.step(params, grads, state)
    return params.copy(), state.buffers.copy()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("gc", GC_MODES, ids=["gc=None", "gc=grad", "gc=update"])
@pytest.mark.parametrize("name", list(FUSED))
def test_result_does_not_depend_on_where_the_arrays_live(name, gc, dtype):
    """Bit-identical steps whatever the arrays' relative addresses (vectorized loops with
    runtime overlap checks must not change the summation order of GC row means)."""
    p_far, b_far = run_at(name, gc, dtype, 1000, 1000)
    for gap_pg, gap_gb in [(0, 0), (1, 3), (1000, 0), (0, 1000), (8, 8)]:
        p, b = run_at(name, gc, dtype, gap_pg, gap_gb)
        np.testing.assert_array_equal(p, p_far, err_msg=f"gaps {gap_pg}, {gap_gb}")
        np.testing.assert_array_equal(b, b_far, err_msg=f"gaps {gap_pg}, {gap_gb}")


# --------------------------------------------------------------------------- GC


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_centralize_in_place_matches_reference(dtype):
    rng = np.random.default_rng(7)
    x = (rng.normal(size=LAYOUT.size) + 3.0).astype(dtype)
    original = x.copy()
    out = fastopt.centralize(x, LAYOUT)
    assert out is x and x.dtype == dtype

    expected = LAYOUT.pack(ref.centralize(LAYOUT.views(original)), dtype=dtype)
    np.testing.assert_allclose(x, expected, **tol(dtype))
    views, before = LAYOUT.views(x), LAYOUT.views(original)
    row_tol = 1e-12 if dtype == np.float64 else 1e-5
    for name, shape in LAYOUT.shapes.items():
        if len(shape) == 1:
            np.testing.assert_array_equal(views[name], before[name])  # untouched
        else:
            rows = views[name].reshape(shape[0], -1).astype(np.float64)
            np.testing.assert_allclose(rows.mean(axis=1), 0.0, atol=row_tol, err_msg=name)
            assert not np.array_equal(views[name], before[name])
    # Rows of length one become exactly zero.
    np.testing.assert_array_equal(views["one"], 0.0)
    np.testing.assert_array_equal(views["col"], 0.0)


def test_centralize_rejects_bad_input():
    x = make_params()
    with pytest.raises(TypeError, match="layout"):
        fastopt.centralize(x, LAYOUT.shapes)
    with pytest.raises(ValueError, match="grads"):
        fastopt.centralize(np.zeros(2 * LAYOUT.size)[::2], LAYOUT)
    ro = x.copy()
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="grads"):
        fastopt.centralize(ro, LAYOUT)
    with pytest.raises(ValueError, match="grads"):
        fastopt.centralize(x[:-1].copy(), LAYOUT)


def run_fused(opt, n_steps=10, dtype=np.float64, layout=LAYOUT):
    params = make_params(dtype, layout)
    state = opt.init(params, layout)
    for g in make_grads(n_steps, dtype, layout):
        opt.step(params, g, state)
    return params, state


@pytest.mark.parametrize(
    "factory",
    [
        lambda gc: fastopt.Adam(lr=0.01, gc=gc),
        lambda gc: fastopt.AdamW(lr=0.01, weight_decay=0.1, gc=gc),
        lambda gc: fastopt.RMSprop(lr=0.01, gc=gc),
        lambda gc: fastopt.RMSprop(lr=0.01, momentum=0.5, centered=True, gc=gc),
        lambda gc: fastopt.Adagrad(lr=0.1, gc=gc),
    ],
    ids=["adam", "adamw", "rmsprop", "rmsprop-centered-momentum", "adagrad"],
)
def test_gc_grad_and_update_differ(factory):
    p_grad, s_grad = run_fused(factory("grad"))
    p_upd, s_upd = run_fused(factory("update"))
    p_none, s_none = run_fused(factory(None))
    v_grad, v_upd, v_none = (LAYOUT.views(p) for p in (p_grad, p_upd, p_none))
    for name in ("W", "K"):
        assert not np.allclose(v_grad[name], v_upd[name], rtol=1e-6), name
        assert not np.allclose(v_grad[name], v_none[name], rtol=1e-6), name
    for name in ONE_D:  # never centralized: the same code path in every mode
        np.testing.assert_array_equal(v_grad[name], v_none[name])
        np.testing.assert_array_equal(v_upd[name], v_none[name])
    # gc="update" keeps the state of gc=None.
    np.testing.assert_allclose(s_upd.buffers, s_none.buffers, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(momentum=0.9),
        dict(momentum=0.9, dampening=0.3, weight_decay=0.1),
        dict(momentum=0.9, nesterov=True, weight_decay=0.1),
    ],
    ids=["momentum", "dampening-wd", "nesterov-wd"],
)
def test_gc_modes_of_momentum_sgd_take_the_same_steps_but_keep_different_buffers(kwargs):
    """Momentum is linear in the gradient and so is centralization: centralizing every
    gradient or the momentum direction moves the parameters alike (the reference agrees),
    but only gc="grad" stores a centralized momentum buffer."""
    p_grad, s_grad = run_fused(fastopt.SGD(lr=0.05, **kwargs, gc="grad"))
    p_upd, s_upd = run_fused(fastopt.SGD(lr=0.05, **kwargs, gc="update"))
    p_none, s_none = run_fused(fastopt.SGD(lr=0.05, **kwargs))
    np.testing.assert_allclose(p_grad, p_upd, rtol=1e-11, atol=1e-13)
    assert not np.allclose(LAYOUT.views(p_grad)["W"], LAYOUT.views(p_none)["W"])
    buf_grad, buf_upd = s_grad.views("momentum_buffer"), s_upd.views("momentum_buffer")
    assert not np.allclose(buf_grad["W"], buf_upd["W"])
    np.testing.assert_allclose(buf_grad["W"].mean(axis=1), 0.0, atol=1e-12)
    if "weight_decay" not in kwargs:  # else the buffer also depends on the (other) params
        np.testing.assert_allclose(s_upd.buffers, s_none.buffers, rtol=1e-12, atol=1e-15)

    refs = {}
    for gc in ("grad", "update"):
        opt = ref.SGD(lr=0.05, **kwargs, gc=gc)
        flat = make_params()
        views = LAYOUT.views(flat)
        state = opt.init(views)
        for g in make_grads(10):
            opt.step(views, LAYOUT.views(g), state)
        refs[gc] = flat
    np.testing.assert_allclose(refs["grad"], refs["update"], rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gc_grad_and_update_coincide_for_plain_sgd(weight_decay, dtype):
    p_grad, _ = run_fused(fastopt.SGD(lr=0.1, weight_decay=weight_decay, gc="grad"), dtype=dtype)
    p_upd, _ = run_fused(fastopt.SGD(lr=0.1, weight_decay=weight_decay, gc="update"), dtype=dtype)
    p_none, _ = run_fused(fastopt.SGD(lr=0.1, weight_decay=weight_decay), dtype=dtype)
    np.testing.assert_allclose(p_grad, p_upd, **tol(dtype))
    assert not np.allclose(LAYOUT.views(p_grad)["W"], LAYOUT.views(p_none)["W"])


@pytest.mark.parametrize("gc", ["grad", "update"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(FUSED))
def test_gc_never_moves_rows_of_length_one(name, gc, dtype):
    """A row of one entry centralizes to exactly 0, so (1, 1) and (n, 1) tensors stay put."""
    opt = FUSED[name](**RICH[name], gc=gc)
    params, _ = run_fused(opt, n_steps=20, dtype=dtype)
    start = LAYOUT.views(make_params(dtype))
    views = LAYOUT.views(params)
    for tname in ("one", "col"):
        if name == "AdamW" and gc == "grad":
            # Decoupled decay is not part of the gradient: it still shrinks these entries.
            decay = (1 - opt.lr * opt.weight_decay) ** 20
            np.testing.assert_allclose(views[tname], start[tname] * decay, **tol(dtype))
            assert not np.array_equal(views[tname], start[tname])
        else:
            np.testing.assert_array_equal(views[tname], start[tname], err_msg=tname)


# --------------------------------------------------------------------------- vs torch

TORCH_CASES = [
    pytest.param(name, kw, id=f"{name}-" + "-".join(f"{k}={v}" for k, v in kw.items()))
    for name, kws in OPTIONS.items()
    for kw in kws
    if name != "Momentum"
] + [pytest.param("Momentum", dict(lr=0.05, momentum=0.9), id="Momentum")]


def run_against_torch(name, kwargs, dtype, rtol, atol, n_steps=50):
    torch = pytest.importorskip("torch")
    torch_name = "SGD" if name == "Momentum" else name
    params = make_params(dtype)
    torch_params = {
        n: torch.nn.Parameter(torch.from_numpy(v.copy())) for n, v in LAYOUT.views(params).items()
    }
    theirs = getattr(torch.optim, torch_name)(list(torch_params.values()), foreach=False, **kwargs)
    ours = FUSED[name](**kwargs)
    state = ours.init(params, LAYOUT)
    for i, g in enumerate(make_grads(n_steps, dtype)):
        for n, gv in LAYOUT.views(g).items():
            torch_params[n].grad = torch.from_numpy(gv.copy())
        theirs.step()
        ours.step(params, g, state)
        expected = LAYOUT.pack({n: tp.detach().numpy() for n, tp in torch_params.items()})
        assert expected.dtype == dtype
        np.testing.assert_allclose(params, expected, rtol=rtol, atol=atol, err_msg=f"step {i}")


@pytest.mark.parametrize(("name", "kwargs"), TORCH_CASES)
def test_matches_torch_float64(name, kwargs):
    run_against_torch(name, kwargs, np.float64, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("name", "kwargs"), TORCH_CASES)
def test_matches_torch_float32(name, kwargs):
    run_against_torch(name, kwargs, np.float32, rtol=2e-4, atol=2e-5)


# --------------------------------------------------------------------------- convergence

QUAD_A = np.array([[1.0, 4.0]])
QUAD_C = np.array([[1.5, -0.5]])
ROSEN_MIN = np.array([[1.0, 1.0]])
LAYOUT_12 = Layout([("x", (1, 2))])


def quadratic(x):
    d = x - QUAD_C
    return 0.5 * float(np.sum(QUAD_A * d * d)), QUAD_A * d


def rosenbrock(x):
    a, b = x[0]
    loss = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    grad = np.array([[-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)]])
    return loss, grad


# Starts lie on the line x0 + x1 = (sum at the minimum): GC removes the gradient's row mean,
# so with gc="grad" the (1, 2) row can only move along that line, which holds the minimum.
PROBLEMS = {
    "quadratic": (quadratic, np.array([[-1.0, 2.0]]), QUAD_C),
    "rosenbrock": (rosenbrock, np.array([[0.6, 1.4]]), ROSEN_MIN),
}
# optimizer -> problem -> (lr, steps); adaptive methods anneal with a cosine schedule.
CONVERGENCE = {
    "SGD": (
        lambda lr, n, gc: fastopt.SGD(lr=lr, gc=gc),
        {"quadratic": (0.2, 200), "rosenbrock": (1.5e-3, 10000)},
    ),
    "Momentum": (
        lambda lr, n, gc: fastopt.Momentum(lr=lr, gc=gc),
        {"quadratic": (0.05, 300), "rosenbrock": (3e-4, 6000)},
    ),
    "Nesterov": (
        lambda lr, n, gc: fastopt.SGD(lr=lr, momentum=0.9, nesterov=True, gc=gc),
        {"quadratic": (0.05, 300), "rosenbrock": (3e-4, 6000)},
    ),
    "RMSprop": (
        lambda lr, n, gc: fastopt.RMSprop(lr=Cosine(lr, total_steps=n), gc=gc),
        {"quadratic": (0.05, 1000), "rosenbrock": (1e-2, 4000)},
    ),
    "Adam": (
        lambda lr, n, gc: fastopt.Adam(lr=Cosine(lr, total_steps=n), gc=gc),
        {"quadratic": (0.05, 500), "rosenbrock": (2e-2, 5000)},
    ),
    "AdamW": (
        lambda lr, n, gc: fastopt.AdamW(lr=Cosine(lr, total_steps=n), weight_decay=0.0, gc=gc),
        {"quadratic": (0.05, 500), "rosenbrock": (2e-2, 5000)},
    ),
    "Adagrad": (
        lambda lr, n, gc: fastopt.Adagrad(lr=lr, gc=gc),
        {"quadratic": (0.5, 300), "rosenbrock": (0.5, 5000)},
    ),
}


@pytest.mark.parametrize("gc", [None, "grad"], ids=["gc=None", "gc=grad"])
@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("name", list(CONVERGENCE))
def test_converges(name, problem, gc):
    fn, x0, x_star = PROBLEMS[problem]
    factory, settings = CONVERGENCE[name]
    lr, n_steps = settings[problem]
    x = x0.reshape(-1).copy()
    xv = LAYOUT_12.views(x)["x"]
    opt = factory(lr, n_steps, gc)
    state = opt.init(x, LAYOUT_12)
    grad = np.empty_like(x)
    loss0, _ = fn(xv)
    for _ in range(n_steps):
        _, g = fn(xv)
        grad[:] = g.reshape(-1)
        opt.step(x, grad, state)
        if gc == "grad":
            assert x.sum() == pytest.approx(x0.sum(), abs=1e-9)
    loss, _ = fn(xv)
    assert np.all(np.isfinite(x))
    assert np.linalg.norm(x - x_star.reshape(-1)) < (1e-4 if problem == "quadratic" else 2e-2)
    assert loss < 1e-6 * loss0
    assert state.step == n_steps


# --------------------------------------------------------------------------- check_finite

FINITE_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", RICH["SGD"]),
    ("RMSprop", RICH["RMSprop"]),
    ("Adam", RICH["Adam"]),
    ("AdamW", RICH["AdamW"]),
    ("Adagrad", RICH["Adagrad"]),
]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(("tensor", "index"), [("K", 5), ("b", 4), ("one", 0)])
@pytest.mark.parametrize("gc", GC_MODES, ids=["gc=None", "gc=grad", "gc=update"])
@pytest.mark.parametrize(("name", "kwargs"), FINITE_CASES)
def test_check_finite_raises_and_leaves_everything_unchanged(name, kwargs, gc, tensor, index, bad):
    opt = FUSED[name](**kwargs, gc=gc)
    twin = FUSED[name](**kwargs, gc=gc)
    grads = make_grads(4)
    params, twin_params = make_params(), make_params()
    state, twin_state = opt.init(params, LAYOUT), twin.init(twin_params, LAYOUT)
    for g in grads[:2]:
        opt.step(params, g, state, check_finite=True)
        twin.step(twin_params, g, twin_state)
    p_before, b_before = params.copy(), state.buffers.copy()

    bad_grads = grads[2].copy()
    LAYOUT.views(bad_grads)[tensor].reshape(-1)[index] = bad
    flat_index = LAYOUT[tensor].offset + index
    with pytest.raises(FloatingPointError, match=rf"'{tensor}'.*index {flat_index}"):
        opt.step(params, bad_grads, state, check_finite=True)
    np.testing.assert_array_equal(params, p_before)
    np.testing.assert_array_equal(state.buffers, b_before)
    assert state.step == 2

    # The failed call left no trace: the run continues exactly like the twin's.
    for g in grads[2:]:
        opt.step(params, g, state, check_finite=True)
        twin.step(twin_params, g, twin_state)
    np.testing.assert_array_equal(params, twin_params)
    np.testing.assert_array_equal(state.buffers, twin_state.buffers)
    assert state.step == twin_state.step == 4


def test_check_finite_names_the_first_bad_tensor():
    opt = fastopt.Adam()
    params = make_params()
    state = opt.init(params, LAYOUT)
    g = make_grads(1)[0]
    views = LAYOUT.views(g)
    views["col"][2, 0] = np.inf
    views["W"][1, 1] = np.nan
    with pytest.raises(FloatingPointError, match="'W'"):
        opt.step(params, g, state, check_finite=True)
    views["W"][1, 1] = 0.0
    with pytest.raises(FloatingPointError, match="'col'"):
        opt.step(params, g, state, check_finite=True)


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("tensor", ["K", "b"])
@pytest.mark.parametrize("gc", GC_MODES, ids=["gc=None", "gc=grad", "gc=update"])
@pytest.mark.parametrize(("name", "kwargs"), FINITE_CASES)
def test_without_check_finite_nan_propagates_like_reference(name, kwargs, gc, tensor, bad):
    opt, ref_opt = FUSED[name](**kwargs, gc=gc), REFERENCE[name](**kwargs, gc=gc)
    params = make_params()
    ref_flat = params.copy()
    ref_params = LAYOUT.views(ref_flat)
    state, ref_state = opt.init(params, LAYOUT), ref_opt.init(ref_params)
    grads = make_grads(3)
    LAYOUT.views(grads[1])[tensor].reshape(-1)[3] = bad
    with np.errstate(invalid="ignore", over="ignore"):
        for g in grads:
            opt.step(params, g, state)
            ref_opt.step(ref_params, LAYOUT.views(g), ref_state)
    flat_index = LAYOUT[tensor].offset + 3
    assert not np.isfinite(params[flat_index])  # not silently dropped
    # Non-finite exactly where the reference is (whole GC rows included), same values elsewhere.
    np.testing.assert_array_equal(np.isfinite(params), np.isfinite(ref_flat))
    finite = np.isfinite(ref_flat)
    np.testing.assert_allclose(params[finite], ref_flat[finite], rtol=1e-11, atol=1e-13)
    assert state.step == 3


@pytest.mark.parametrize(
    "kwargs", [dict(lr=0.1), dict(lr=0.1, momentum=0.9)], ids=["sgd", "momentum"]
)
def test_without_weight_decay_nan_in_one_step_stays_nan(kwargs):
    opt = fastopt.SGD(**kwargs)
    params = make_params()
    state = opt.init(params, LAYOUT)
    g = make_grads(1)[0]
    g[7] = np.nan
    opt.step(params, g, state)
    assert np.isnan(params[7])
    opt.step(params, make_grads(1)[0], state)
    assert np.isnan(params[7])
    assert np.isfinite(np.delete(params, 7)).all()


@pytest.mark.parametrize(
    "kwargs", [dict(lr=0.1), dict(lr=0.1, momentum=0.9)], ids=["sgd", "momentum"]
)
def test_infinite_param_stays_infinite_without_weight_decay(kwargs):
    opt = fastopt.SGD(**kwargs)
    params = np.zeros(LAYOUT.size)
    state = opt.init(params, LAYOUT)
    g = np.ones(LAYOUT.size)
    g[7] = np.inf
    opt.step(params, g, state)
    assert params[7] == -np.inf  # p - lr*inf
    opt.step(params, np.ones(LAYOUT.size), state)
    assert params[7] == -np.inf  # torch.optim.SGD and fastopt.reference: still -inf


# --------------------------------------------------------------------------- save / load

SAVE_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", RICH["SGD"]),
    ("RMSprop", RICH["RMSprop"]),
    ("Adam", RICH["Adam"]),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("Adagrad", RICH["Adagrad"]),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "kwargs"), SAVE_CASES)
def test_save_load_round_trip_is_exact(name, kwargs, dtype, tmp_path):
    opt = FUSED[name](**kwargs, gc="grad")
    grads = make_grads(15, dtype)
    params = make_params(dtype)
    state = opt.init(params, LAYOUT)
    for g in grads[:5]:
        opt.step(params, g, state)
    path = tmp_path / "state.npz"
    state.save(path)

    params2 = params.copy()
    loaded = FUSED[name](**kwargs, gc="grad").load_state(path, params2, LAYOUT)
    assert loaded.step == 5 and loaded.optimizer == state.optimizer
    assert loaded.buffer_names == state.buffer_names
    assert loaded.layout == LAYOUT and loaded.dtype == dtype
    np.testing.assert_array_equal(loaded.buffers, state.buffers)
    assert not np.shares_memory(loaded.buffers, state.buffers)

    for g in grads[5:]:
        opt.step(params, g, state)
        opt.step(params2, g, loaded)
    np.testing.assert_array_equal(params2, params)
    np.testing.assert_array_equal(loaded.buffers, state.buffers)
    assert loaded.step == state.step == 15


def saved_state(tmp_path, opt, dtype=np.float64, layout=LAYOUT, n_steps=2):
    params, state = run_fused(opt, n_steps=n_steps, dtype=dtype, layout=layout)
    path = tmp_path / "state.npz"
    state.save(path)
    return path, params


def test_load_rejects_another_optimizer(tmp_path):
    path, params = saved_state(tmp_path, fastopt.Adam())
    with pytest.raises(ValueError, match="'adam'.*'adamw'"):
        fastopt.AdamW().load_state(path, params, LAYOUT)
    with pytest.raises(ValueError, match="'adam'.*'rmsprop'"):
        fastopt.RMSprop().load_state(path, params, LAYOUT)


def test_load_rejects_another_layout(tmp_path):
    path, params = saved_state(tmp_path, fastopt.Adam())
    # Same size, other shapes: W is (4, 3) instead of (3, 4).
    other = Layout([("W", (4, 3)), *[(s.name, s.shape) for s in LAYOUT][1:]])
    assert other.size == LAYOUT.size
    with pytest.raises(ValueError, match="saved for"):
        fastopt.Adam().load_state(path, params, other)
    renamed = Layout([("V", (3, 4)), *[(s.name, s.shape) for s in LAYOUT][1:]])
    with pytest.raises(ValueError, match="saved for"):
        fastopt.Adam().load_state(path, params, renamed)


def test_load_rejects_another_dtype(tmp_path):
    path, params = saved_state(tmp_path, fastopt.Adam(), dtype=np.float64)
    with pytest.raises(TypeError, match="float64.*float32"):
        fastopt.Adam().load_state(path, params.astype(np.float32), LAYOUT)


@pytest.mark.parametrize(
    ("saved", "loader"),
    [
        (fastopt.SGD(lr=0.1, momentum=0.9), fastopt.SGD(lr=0.1)),
        (fastopt.SGD(lr=0.1), fastopt.SGD(lr=0.1, momentum=0.9)),
        (fastopt.Adam(amsgrad=True), fastopt.Adam()),
        (fastopt.Adam(), fastopt.Adam(amsgrad=True)),
        (fastopt.RMSprop(centered=True), fastopt.RMSprop(momentum=0.9)),
    ],
    ids=[
        "momentum-to-plain",
        "plain-to-momentum",
        "amsgrad-to-plain",
        "plain-to-amsgrad",
        "centered-to-momentum",
    ],
)
def test_load_rejects_other_buffers(saved, loader, tmp_path):
    path, params = saved_state(tmp_path, saved)
    with pytest.raises(ValueError, match="buffers"):
        loader.load_state(path, params, LAYOUT)


def test_load_rejects_non_fastopt_npz(tmp_path):
    params = make_params()
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a fastopt optimizer state"):
        fastopt.Adam().load_state(path, params, LAYOUT)
    # meta and buffers present, but not our format.
    fake = tmp_path / "fake.npz"
    np.savez(fake, meta=np.array('{"format": "other"}'), buffers=np.zeros((2, LAYOUT.size)))
    with pytest.raises(ValueError, match="not a fastopt optimizer state"):
        fastopt.Adam().load_state(fake, params, LAYOUT)


def test_load_rejects_npy_file_with_value_error(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match="not a fastopt optimizer state"):
        fastopt.Adam().load_state(path, make_params(), LAYOUT)


def test_loaded_state_is_bound_to_the_params_it_was_loaded_for(tmp_path):
    opt = fastopt.Adam()
    path, params = saved_state(tmp_path, opt)
    params2 = params.copy()
    loaded = opt.load_state(path, params2, LAYOUT)
    with pytest.raises(ValueError, match="another params array"):
        opt.step(params, make_grads(1)[0], loaded)


def test_state_getitem_and_repr():
    opt = fastopt.RMSprop(momentum=0.9, centered=True)
    params, state = run_fused(opt, n_steps=3)
    assert state.buffer_names == ("square_avg", "momentum_buffer", "grad_avg")
    for i, key in enumerate(state.buffer_names):
        assert np.shares_memory(state[key], state.buffers)
        np.testing.assert_array_equal(state[key], state.buffers[i])
    with pytest.raises(KeyError, match="exp_avg"):
        state["exp_avg"]
    text = repr(state)
    assert "rmsprop" in text and "step=3" in text and "float64" in text


# --------------------------------------------------------------------------- bad input

OPTIMIZER_CLASSES = list(FUSED.values())


@pytest.mark.parametrize("cls", OPTIMIZER_CLASSES, ids=list(FUSED))
@pytest.mark.parametrize("lr", [0.0, -0.1, np.nan, np.inf, -np.inf])
def test_bad_lr_value(cls, lr):
    with pytest.raises(ValueError, match="lr"):
        cls(lr=lr)


@pytest.mark.parametrize("cls", OPTIMIZER_CLASSES, ids=list(FUSED))
@pytest.mark.parametrize("lr", ["0.1", None, True, lambda t: 0.1])
def test_bad_lr_type(cls, lr):
    with pytest.raises(TypeError, match="lr"):
        cls(lr=lr)


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: fastopt.SGD(lr=0.1, momentum=-0.1), ValueError, "momentum"),
        (lambda: fastopt.Momentum(lr=0.1, momentum=-0.5), ValueError, "momentum"),
        (lambda: fastopt.RMSprop(momentum=-0.1), ValueError, "momentum"),
        (lambda: fastopt.SGD(lr=0.1, momentum=np.nan), ValueError, "momentum"),
        (lambda: fastopt.SGD(lr=0.1, dampening=-0.1), ValueError, "dampening"),
        (lambda: fastopt.SGD(lr=0.1, momentum=0.9, dampening=1.5), ValueError, "dampening"),
        (lambda: fastopt.SGD(lr=0.1, nesterov=True), ValueError, "nesterov"),
        (
            lambda: fastopt.SGD(lr=0.1, momentum=0.9, nesterov=True, dampening=0.1),
            ValueError,
            "nesterov",
        ),
        (lambda: fastopt.Momentum(lr=0.1, nesterov=True, dampening=0.5), ValueError, "nesterov"),
        (lambda: fastopt.SGD(lr=0.1, weight_decay=-1e-3), ValueError, "weight_decay"),
        (lambda: fastopt.Adam(weight_decay=np.inf), ValueError, "weight_decay"),
        (lambda: fastopt.Adam(betas=(-0.1, 0.999)), ValueError, r"betas\[0\]"),
        (lambda: fastopt.Adam(betas=(1.0, 0.999)), ValueError, r"betas\[0\]"),
        (lambda: fastopt.Adam(betas=(np.nan, 0.999)), ValueError, r"betas\[0\]"),
        (lambda: fastopt.AdamW(betas=(0.9, -1e-3)), ValueError, r"betas\[1\]"),
        (lambda: fastopt.AdamW(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
        (lambda: fastopt.Adam(betas=(0.9, 1.5)), ValueError, r"betas\[1\]"),
        (lambda: fastopt.Adam(betas=(0.9,)), TypeError, "betas"),
        (lambda: fastopt.Adam(betas=(0.9, 0.99, 0.999)), TypeError, "betas"),
        (lambda: fastopt.AdamW(betas=0.9), TypeError, "betas"),
        (lambda: fastopt.Adam(betas="ab"), TypeError, "betas"),
        (lambda: fastopt.Adam(betas=(0.9, "0.99")), TypeError, "betas"),
        (lambda: fastopt.Adam(eps=-1e-8), ValueError, "eps"),
        (lambda: fastopt.AdamW(eps=-1e-8), ValueError, "eps"),
        (lambda: fastopt.RMSprop(eps=-1.0), ValueError, "eps"),
        (lambda: fastopt.Adagrad(eps=-1e-10), ValueError, "eps"),
        (lambda: fastopt.RMSprop(alpha=-0.1), ValueError, "alpha"),
        (lambda: fastopt.RMSprop(alpha=1.0), ValueError, "alpha"),
        (lambda: fastopt.RMSprop(alpha=1.5), ValueError, "alpha"),
        (lambda: fastopt.Adagrad(lr_decay=-0.1), ValueError, "lr_decay"),
        (
            lambda: fastopt.Adagrad(initial_accumulator_value=-0.1),
            ValueError,
            "initial_accumulator_value",
        ),
    ],
)
def test_bad_hyperparameter(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("cls", OPTIMIZER_CLASSES, ids=list(FUSED))
@pytest.mark.parametrize("gc", ["weights", "Grad", "", True, 1])
def test_unknown_gc_mode(cls, gc):
    with pytest.raises(ValueError, match="gc"):
        cls(lr=0.1, gc=gc)


def fresh(opt=None, dtype=np.float64):
    opt = opt if opt is not None else fastopt.Adam()
    params = make_params(dtype)
    return opt, params, opt.init(params, LAYOUT), make_grads(1, dtype)[0]


def assert_untouched(params, state, dtype=np.float64):
    np.testing.assert_array_equal(params, make_params(dtype))
    assert state.step == 0
    assert not state.buffers.any()


def test_grads_of_another_dtype():
    opt, params, state, g = fresh()
    with pytest.raises(TypeError, match="grads.*float32"):
        opt.step(params, g.astype(np.float32), state)
    opt, params, state, g = fresh(dtype=np.float32)
    with pytest.raises(TypeError, match="grads.*float64"):
        opt.step(params, g.astype(np.float64), state)
    assert_untouched(params, state, np.float32)


def test_grads_not_a_float_array():
    opt, params, state, g = fresh()
    with pytest.raises(TypeError, match="grads"):
        opt.step(params, list(g), state)
    with pytest.raises(TypeError, match="grads"):
        opt.step(params, g.astype(np.int64), state)
    assert_untouched(params, state)


@pytest.mark.parametrize("length", [0, LAYOUT.size - 1, LAYOUT.size + 1])
def test_grads_of_wrong_length(length):
    opt, params, state, _ = fresh()
    with pytest.raises(ValueError, match="grads"):
        opt.step(params, np.zeros(length), state)
    with pytest.raises(ValueError, match="grads"):
        opt.step(params, np.zeros((1, LAYOUT.size)), state)
    assert_untouched(params, state)


def test_params_of_wrong_length_for_the_state():
    opt, params, state, g = fresh()
    longer = np.zeros(LAYOUT.size + 1)
    with pytest.raises(ValueError, match="params"):
        opt.step(longer, np.zeros(LAYOUT.size + 1), state)
    with pytest.raises(ValueError, match="params"):
        opt.step(params[:-1], g[:-1], state)
    assert_untouched(params, state)


def test_state_from_another_optimizer():
    _, params, adam_state, g = fresh(fastopt.Adam())
    with pytest.raises(ValueError, match="state"):
        fastopt.AdamW().step(params, g, adam_state)
    with pytest.raises(ValueError, match="state"):
        fastopt.Adam(amsgrad=True).step(params, g, adam_state)
    with pytest.raises(ValueError, match="state"):
        fastopt.SGD(lr=0.1, momentum=0.9).step(params, g, adam_state)
    with pytest.raises(TypeError, match="state"):
        fastopt.Adam().step(params, g, {"step": 0})
    assert_untouched(params, adam_state)


def test_non_contiguous_params():
    opt = fastopt.SGD(lr=0.1, momentum=0.9)
    strided = np.zeros(2 * LAYOUT.size)[::2]
    with pytest.raises(ValueError, match="params.*contiguous"):
        opt.init(strided, LAYOUT)
    _, params, state, g = fresh(opt)
    with pytest.raises(ValueError, match="params.*contiguous"):
        opt.step(strided, g, state)


def test_read_only_params():
    opt = fastopt.Adagrad()
    ro = make_params()
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="params.*read-only"):
        opt.init(ro, LAYOUT)
    params = make_params()
    state = opt.init(params, LAYOUT)
    params.setflags(write=False)
    with pytest.raises(ValueError, match="params.*read-only"):
        opt.step(params, make_grads(1)[0], state)
    assert state.step == 0


def test_bad_params_or_layout_in_init():
    opt = fastopt.Adam()
    with pytest.raises(TypeError, match="layout"):
        opt.init(make_params(), LAYOUT.shapes)
    with pytest.raises(TypeError, match="params"):
        opt.init(list(make_params()), LAYOUT)
    with pytest.raises(TypeError, match="params"):
        opt.init(make_params().astype(np.float16), LAYOUT)
    with pytest.raises(ValueError, match="params"):
        opt.init(np.zeros(LAYOUT.size + 1), LAYOUT)


def test_state_used_for_another_params_array():
    opt, params, state, g = fresh()
    other = params.copy()
    with pytest.raises(ValueError, match="another params array"):
        opt.step(other, g, state)
    assert state.step == 0
    np.testing.assert_array_equal(other, params)


def test_state_accepts_another_view_of_the_same_params():
    opt, params, state, g = fresh(fastopt.SGD(lr=0.1))
    opt.step(params[:], g, state)
    np.testing.assert_allclose(params, make_params() - 0.1 * g, rtol=1e-15)
    assert state.step == 1


def test_grads_is_params():
    opt, params, state, _ = fresh()
    with pytest.raises(ValueError, match="grads is params"):
        opt.step(params, params, state)
    assert_untouched(params, state)


def test_non_contiguous_grads_give_the_contiguous_result():
    opt, params, state, g = fresh(fastopt.Adam(gc="grad"))
    strided = np.zeros(2 * LAYOUT.size)
    strided[::2] = g
    opt.step(params, strided[::2], state)
    opt2, params2, state2, _ = fresh(fastopt.Adam(gc="grad"))
    opt2.step(params2, g, state2)
    np.testing.assert_array_equal(params, params2)
    assert not np.array_equal(params, make_params())
