"""Tests of the fused optimizers (fastopt.optim) against the NumPy reference and torch.optim."""

import inspect
import io
import json
import os
import pickle
import re
import zipfile

import numpy as np
import pytest

import fastopt
import fastopt.optimizers.base as fo
from fastopt import Layout
from fastopt._kernels import fused as _fused
from fastopt._validate import (
    check_bool,
    check_finite_or_none,
    check_fraction,
    check_int,
    check_positive,
)
from fastopt.optimizers import BASE
from fastopt.optimizers import OPTIMIZERS as REGISTRY
from fastopt.optimizers.nadam import MU_PRODUCT_FLOOR, mu_product
from fastopt.reference import optim as ref
from fastopt.schedules import Constant, Cosine, Exponential, StepDecay
from tests.optimizer_cases import (
    BY_NAME,
    DTYPE_IDS,
    DTYPES,
    GC_IDS,
    GC_MODES,
    LAYOUT,
    NAMES,
    ONE_D,
    OPTIMIZERS,
    OptimizerInfo,
    centralize_one,
    info_cases,
    make_grads,
    make_params,
    option_cases,
    run_against_torch,
)

N_STEPS = 100


def tol(dtype):
    if np.dtype(dtype) == np.float64:
        return dict(rtol=1e-11, atol=1e-13)
    return dict(rtol=2e-4, atol=2e-5)


def assert_matches_reference(actual, desired, dtype, err_msg=""):
    """``tol(dtype)`` everywhere in float64; in float32 all but 1 entry in 10^4 (and at least
    one), the rest within 5x.

    Both sides round in float32, in different orders (the fused step sums the GC mean with
    the step, in blocks of 256; the reference with NumPy's pairwise mean). Centered RMSprop
    with momentum and GC on BIG's 136k entries had one momentum-buffer entry 1.5-2x its
    tolerance from the reference (which is itself 0.3x from the float64 result there, and the
    fused step with float64 sums 2x); the code before the GC mean moved into the step loops
    was 0.85x at such an entry.
    """
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(actual, desired, **tol(dtype), err_msg=err_msg)
        return
    t = tol(dtype)
    np.testing.assert_allclose(actual, desired, rtol=5 * t["rtol"], atol=5 * t["atol"],
                               err_msg=err_msg)  # fmt: skip
    outside = ~np.isclose(actual, desired, **t)
    assert outside.sum() <= max(1, actual.size // 10_000), (err_msg, np.flatnonzero(outside))


def buffer_keys(ref_state):
    # The buffers, dicts of arrays (not the step count, nor NAdam's scalar mu_product).
    return tuple(k for k, v in ref_state.items() if isinstance(v, dict))


def run_against_reference(
    info, kwargs, dtype, gc, *, layout=LAYOUT, n_steps=N_STEPS, lr=None, seed=0
):
    """Step fused and reference side by side; compare params every step, state at the end.

    Returns the fused (params, state).
    """
    kwargs = {**kwargs, "gc": gc}
    if lr is not None:
        kwargs["lr"] = lr
    opt = info.cls(**kwargs)
    ref_opt = info.reference(**kwargs)
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
        assert_matches_reference(params, ref_flat, dtype, err_msg=f"params, step {i}")
        assert state.step == i + 1 == ref_state["step"]

    for key in state.buffer_names:
        assert_matches_reference(state[key], layout.pack(ref_state[key], dtype=dtype), dtype, key)
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


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("gc", GC_MODES, ids=GC_IDS)
@pytest.mark.parametrize(("info", "kwargs"), option_cases())
def test_matches_reference(info, kwargs, gc, dtype):
    params, _ = run_against_reference(info, kwargs, dtype, gc)
    assert not np.array_equal(params, make_params(dtype))  # it did move


SCHEDULES = [
    pytest.param(Cosine(0.05, total_steps=60, min_lr=0.001, warmup=10), id="cosine-warmup"),
    pytest.param(StepDecay(0.05, step_size=7, gamma=0.5, warmup=3), id="step-warmup"),
    pytest.param(Exponential(0.05, gamma=0.97, warmup=5), id="exp-warmup"),
    pytest.param(Constant(0.05, warmup=20), id="constant-warmup"),
]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("info", info_cases())
@pytest.mark.parametrize("gc", [None, "update"])
def test_schedule_lr_matches_reference(info, schedule, gc):
    opt = info.cls(**{**info.rich, "lr": schedule})
    assert [opt.lr_at(t) for t in range(N_STEPS)] == [schedule(t) for t in range(N_STEPS)]
    run_against_reference(info, info.rich, np.float64, gc, lr=schedule)


def test_schedule_lr_differs_from_constant_lr():
    """The schedule is really used: a warm-up start is not the constant-lr run."""
    adam = BY_NAME["Adam"]
    p_sched, _ = run_against_reference(
        adam,
        adam.rich,
        np.float64,
        None,
        lr=Cosine(0.01, total_steps=50, warmup=10),
        n_steps=20,
    )
    p_const, _ = run_against_reference(adam, adam.rich, np.float64, None, n_steps=20)
    assert not np.allclose(p_sched, p_const)


def test_momentum_is_sgd_with_momentum_09_under_its_own_name():
    opt = fastopt.Momentum(lr=0.1)
    assert opt.momentum == 0.9 and opt.name == "momentum"
    assert opt.hyperparameters() == fastopt.SGD(lr=0.1, momentum=0.9).hyperparameters()
    assert opt.init(make_params(), LAYOUT).optimizer == "momentum"


def test_every_optimizer_is_listed_under_its_state_name():
    # The table holds every optimizer but the Lookahead of each (two of those are in it; the
    # test below steps every one against the reference).
    lookaheads = {fastopt.optimizers.lookahead_class(base) for base in BASE}
    assert set(REGISTRY.values()) == {info.cls for info in OPTIMIZERS} | lookaheads
    assert set(BASE) <= {info.cls for info in OPTIMIZERS}
    for name, cls in REGISTRY.items():
        assert cls.name == name
    assert len({cls.name for cls in REGISTRY.values()}) == len(REGISTRY)
    for base in BASE:
        assert REGISTRY[f"lookahead_{base.name}"] is fastopt.optimizers.lookahead_class(base)


@pytest.mark.parametrize("base", BASE, ids=lambda c: c.__name__)
def test_lookahead_of_every_optimizer_matches_the_reference(base):
    # One GC mode each, in turn (every step kernel compiled costs a second or two).
    gc = GC_MODES[BASE.index(base) % 3]
    inner = BY_NAME[base.__name__]
    la = dict(lookahead_k=3, lookahead_alpha=0.6)
    info = OptimizerInfo(
        fastopt.optimizers.lookahead_class(base),
        lambda lookahead_k, lookahead_alpha, **kw: ref.Lookahead(
            inner.reference(**kw), k=lookahead_k, alpha=lookahead_alpha),  # fmt: skip
        options=[], rich={},
    )  # fmt: skip
    params, state = run_against_reference(info, {**inner.rich, **la}, np.float64, gc, n_steps=20)
    # Through the factory too: the same class, the inner's hyperparameters and GC kept.
    opt = fastopt.Lookahead(base(**inner.rich, gc=gc), k=3, alpha=0.6)
    assert type(opt) is info.cls and opt.gc == gc
    assert opt.hyperparameters() == {**inner.cls(**inner.rich).hyperparameters(), **la, "gc": gc}
    assert state.buffer_names[-1] == "slow_params"


def test_nadam_momentum_product_is_torchs_in_float64_and_survives_a_reload(tmp_path):
    # The product rides in the coefficient record from step to step and is recomputed from
    # the step count for a fresh record: both give the same bits, past the point where it is
    # flushed to 0 (about step 60 with the defaults) too.
    beta1, decay = 0.9, 4e-3
    product = 1.0
    for step in range(1, 101):
        product *= beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        product = 0.0 if product < MU_PRODUCT_FLOOR else product
        assert mu_product(beta1, decay, step) == product
    assert mu_product(beta1, decay, 100) == 0.0 < mu_product(beta1, decay, 40)
    opt = fastopt.NAdam(lr=0.01)
    params, state = run_fused(opt, n_steps=70)
    state.save(tmp_path / "s.npz")
    twin = params.copy()
    loaded = opt.load_state(tmp_path / "s.npz", twin, LAYOUT)
    for g in make_grads(5, seed=9):
        opt.step(params, g, state)
        opt.step(twin, g, loaded)
    np.testing.assert_array_equal(twin, params)


def test_lookahead_refuses_bad_arguments():
    with pytest.raises(TypeError, match="inner"):
        fastopt.Lookahead("adam")
    with pytest.raises(TypeError, match="Lookahead already"):
        fastopt.Lookahead(fastopt.Ranger())
    with pytest.raises(TypeError, match="Lookahead already"):
        fastopt.Lookahead(fastopt.Lookahead(fastopt.Adam()))
    with pytest.raises(ValueError, match="lookahead_k"):
        fastopt.Lookahead(fastopt.Adam(), k=0)
    with pytest.raises(TypeError, match="lookahead_k"):
        fastopt.Lookahead(fastopt.Adam(), k=2.5)
    for alpha in (0.0, 1.5, np.nan):
        with pytest.raises(ValueError, match="lookahead_alpha"):
            fastopt.Lookahead(fastopt.Adam(), alpha=alpha)
    with pytest.raises(ValueError, match="copy of the parameters: give params"):
        fastopt.Ranger().fill_initial_buffers(np.zeros((3, 5)))


@pytest.mark.parametrize(("info", "kwargs"), option_cases())
def test_hyperparameters_and_repr(info, kwargs):
    opt = info.cls(**kwargs, gc="grad")
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
        ("row", (1, 9)),  # a GC chunk of one row: no neighbour row to carry GC work
    ]
)


def spy(monkeypatch, attr):
    """Record the calls of ``fused.<attr>`` (the step kernels of every GC mode)."""
    calls = []

    def wrap(real):
        def wrapper(*args):
            calls.append(args[3])
            return real(*args)

        wrapper.overloads, wrapper.compile = real.overloads, real.compile  # as a dispatcher
        return wrapper

    monkeypatch.setattr(_fused, attr, tuple(wrap(real) for real in getattr(_fused, attr)))
    return calls


def test_big_layout_is_above_parallel_threshold():
    # The threaded-path tests rely on BIG taking the threads and LAYOUT staying serial.
    assert fo.PARALLEL_MIN_SIZE <= BIG.size
    assert LAYOUT.size < fo.PARALLEL_MIN_SIZE


def test_chunks_tile_the_layout_and_gc_chunks_hold_whole_rows():
    from fastopt.optim import GC_CHUNK, chunk_table

    for centralize in (False, True):
        table = chunk_table(BIG, centralize)
        assert table[0, 0] == 0 and table[-1, 1] == BIG.size
        np.testing.assert_array_equal(table[1:, 0], table[:-1, 1])  # no gap, no overlap
    table = chunk_table(BIG, True)
    for spec in BIG:
        inside = table[(table[:, 0] >= spec.offset) & (table[:, 1] <= spec.stop)]
        assert inside[0, 0] == spec.offset and inside[-1, 1] == spec.stop
        sizes = inside[:, 1] - inside[:, 0]
        if len(spec.shape) > 1:  # centralized: whole rows, about GC_CHUNK entries a chunk
            row = spec.size // spec.shape[0]
            assert (inside[:, 2] == row).all() and (sizes % row == 0).all()
            assert sizes.max() <= max(GC_CHUNK, row)
        else:
            assert (inside[:, 2] == 0).all()
    assert (chunk_table(BIG, False)[:, 2] == 0).all()


def threaded_cases() -> list:
    """``(info, gc)`` for the threaded-path tests: every GC mode for the first six optimizers,
    one each, in turn, for the later ones. A threaded kernel takes a second or two to compile
    per optimizer, mode and dtype, and what it adds to the serial one (the spans of chunks
    given to the threads) is the same code for every optimizer."""
    cases = []
    for i, info in enumerate(OPTIMIZERS):
        modes = GC_MODES if i < 6 else [GC_MODES[i % 3]]
        cases += [pytest.param(info, gc, id=f"{info.name}-gc={gc}") for gc in modes]
    return cases


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("info", "gc"), threaded_cases())
def test_parallel_path_matches_reference_and_serial(info, gc, dtype, monkeypatch):
    n_steps = 3
    parallel_calls = spy(monkeypatch, "STEP_PARALLEL")
    serial_calls = spy(monkeypatch, "STEP_SERIAL")
    p_par, s_par = run_against_reference(info, info.rich, dtype, gc, layout=BIG, n_steps=n_steps)
    assert len(parallel_calls) == n_steps and not serial_calls

    # Forcing the serial path gives bit-identical results.
    monkeypatch.setattr(fo, "PARALLEL_MIN_SIZE", BIG.size + 1)
    opt = info.cls(**info.rich, gc=gc)
    p_ser = make_params(dtype, BIG)
    s_ser = opt.init(p_ser, BIG)
    for g in make_grads(n_steps, dtype, BIG, seed=1):
        opt.step(p_ser, g, s_ser)
    assert len(serial_calls) == n_steps and len(parallel_calls) == n_steps
    np.testing.assert_array_equal(p_par, p_ser)
    np.testing.assert_array_equal(s_par.buffers, s_ser.buffers)
    assert s_par.step == s_ser.step == n_steps


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("info", "gc"), threaded_cases())
def test_threaded_path_on_odd_layout_is_bit_identical_to_serial(info, gc, dtype, monkeypatch):
    results = {}
    for threshold in (1, LAYOUT.size + 1):
        monkeypatch.setattr(fo, "PARALLEL_MIN_SIZE", threshold)
        calls = spy(monkeypatch, "STEP_PARALLEL")
        opt = info.cls(**info.rich, gc=gc)
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


def run_at(info, gc, dtype, gap_pg, gap_gb, n_steps=3):
    """Run with params, grads and state buffers carved from one array, ``gap_pg`` entries
    between params and grads and ``gap_gb`` between grads and the buffers."""
    opt = info.cls(**info.rich, gc=gc)
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


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("gc", GC_MODES, ids=GC_IDS)
@pytest.mark.parametrize("info", info_cases())
def test_result_does_not_depend_on_where_the_arrays_live(info, gc, dtype):
    """Bit-identical steps whatever the arrays' relative addresses (vectorized loops with
    runtime overlap checks must not change the summation order of GC row means)."""
    p_far, b_far = run_at(info, gc, dtype, 1000, 1000)
    for gap_pg, gap_gb in [(0, 0), (1, 3), (1000, 0), (0, 1000), (8, 8)]:
        p, b = run_at(info, gc, dtype, gap_pg, gap_gb)
        np.testing.assert_array_equal(p, p_far, err_msg=f"gaps {gap_pg}, {gap_gb}")
        np.testing.assert_array_equal(b, b_far, err_msg=f"gaps {gap_pg}, {gap_gb}")


# --------------------------------------------------------------------------- GC


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
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
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_gc_grad_and_update_coincide_for_plain_sgd(weight_decay, dtype):
    p_grad, _ = run_fused(fastopt.SGD(lr=0.1, weight_decay=weight_decay, gc="grad"), dtype=dtype)
    p_upd, _ = run_fused(fastopt.SGD(lr=0.1, weight_decay=weight_decay, gc="update"), dtype=dtype)
    p_none, _ = run_fused(fastopt.SGD(lr=0.1, weight_decay=weight_decay), dtype=dtype)
    np.testing.assert_allclose(p_grad, p_upd, **tol(dtype))
    assert not np.allclose(LAYOUT.views(p_grad)["W"], LAYOUT.views(p_none)["W"])


@pytest.mark.parametrize("gc", ["grad", "update"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("info", info_cases())
def test_gc_never_moves_rows_of_length_one(info, gc, dtype):
    """A row of one entry centralizes to exactly 0, so (1, 1) and (n, 1) tensors stay put."""
    opt = info.cls(**info.rich, gc=gc)
    params, _ = run_fused(opt, n_steps=20, dtype=dtype)
    start = LAYOUT.views(make_params(dtype))
    views = LAYOUT.views(params)
    for tname in ("one", "col"):
        if not info.l2_weight_decay(info.rich) and gc == "grad":
            # Decoupled decay is not part of the gradient: it still shrinks these entries.
            decay = (1 - opt.lr * opt.weight_decay) ** 20
            np.testing.assert_allclose(views[tname], start[tname] * decay, **tol(dtype))
            assert not np.array_equal(views[tname], start[tname])
        else:
            np.testing.assert_array_equal(views[tname], start[tname], err_msg=tname)


# --------------------------------------------------------------------------- vs torch


@pytest.mark.parametrize(("info", "kwargs"), option_cases(torch_only=True))
def test_matches_torch_float64(info, kwargs):
    run_against_torch(info, kwargs, np.float64, implementation="fused", rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("info", "kwargs"), option_cases(torch_only=True))
def test_matches_torch_float32(info, kwargs):
    run_against_torch(info, kwargs, np.float32, implementation="fused", rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("info", info_cases(torch_only=True))
def test_schedule_matches_torch_fed_the_same_rates(info):
    run_against_torch(
        info,
        info.rich,
        np.float64,
        implementation="fused",
        rtol=1e-10,
        atol=1e-12,
        lr=Exponential(0.1, gamma=0.5, warmup=2),
    )


@pytest.mark.parametrize(
    ("implementation", "rtol", "atol"), [("fused", 1e-10, 1e-12), ("reference", 1e-12, 1e-14)]
)
@pytest.mark.parametrize(("info", "kwargs"), option_cases(torch_only=True))
def test_gc_grad_matches_torch_fed_the_centralized_gradient(info, kwargs, implementation, rtol,
                                                            atol):  # fmt: skip
    """gc="grad" == torch fed centralize(g + wd * p) with its own L2 decay off (AdamW: its
    decoupled decay kept, fed centralize(g)); the fused step and the reference alike."""
    wd = info.cls(**kwargs).hyperparameters().get("weight_decay")
    if wd is None:  # none to take out (Rprop)
        overrides, fed = {}, lambda p, g: centralize_one(g)
    elif info.l2_weight_decay(kwargs):
        overrides, fed = {"weight_decay": 0.0}, lambda p, g: centralize_one(g + wd * p)
    else:
        overrides, fed = {}, lambda p, g: centralize_one(g)
    run_against_torch(info, kwargs, np.float64, implementation=implementation, rtol=rtol,
                      atol=atol, gc="grad", torch_overrides=overrides,
                      torch_grad=fed)  # fmt: skip


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
    "NAdam": (
        lambda lr, n, gc: fastopt.NAdam(lr=Cosine(lr, total_steps=n), gc=gc),
        {"quadratic": (0.1, 500), "rosenbrock": (1e-2, 10000)},
    ),
    "RAdam": (
        lambda lr, n, gc: fastopt.RAdam(lr=Cosine(lr, total_steps=n), gc=gc),
        {"quadratic": (0.1, 500), "rosenbrock": (3e-3, 20000)},
    ),
    "Adamax": (
        lambda lr, n, gc: fastopt.Adamax(lr=Cosine(lr, total_steps=n), gc=gc),
        {"quadratic": (0.1, 500), "rosenbrock": (1e-2, 10000)},
    ),
    "Adadelta": (
        lambda lr, n, gc: fastopt.Adadelta(lr=lr, gc=gc),
        {"quadratic": (0.3, 2000), "rosenbrock": (3e-3, 20000)},
    ),
    "Rprop": (
        lambda lr, n, gc: fastopt.Rprop(lr=lr, gc=gc),
        {"quadratic": (0.05, 500), "rosenbrock": (1e-2, 5000)},
    ),
    "Lion": (
        lambda lr, n, gc: fastopt.Lion(lr=Cosine(lr, total_steps=n), gc=gc),
        {"quadratic": (0.05, 2000), "rosenbrock": (3e-3, 5000)},
    ),
    "LookaheadAdam": (
        lambda lr, n, gc: fastopt.Lookahead(fastopt.Adam(lr=Cosine(lr, total_steps=n), gc=gc)),
        {"quadratic": (0.3, 500), "rosenbrock": (0.1, 5000)},
    ),
    "Ranger": (
        lambda lr, n, gc: fastopt.Ranger(lr=Cosine(lr, total_steps=n), gc=gc),
        {"quadratic": (0.3, 2000), "rosenbrock": (3e-3, 20000)},
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

FINITE_CASES = [pytest.param(BY_NAME["SGD"], dict(lr=0.05), id="SGD-plain")] + [
    pytest.param(info, info.rich, id=info.name) for info in OPTIMIZERS
]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(("tensor", "index"), [("K", 5), ("b", 4), ("one", 0)])
@pytest.mark.parametrize("gc", GC_MODES, ids=GC_IDS)
@pytest.mark.parametrize(("info", "kwargs"), FINITE_CASES)
def test_check_finite_raises_and_leaves_everything_unchanged(info, kwargs, gc, tensor, index, bad):
    opt = info.cls(**kwargs, gc=gc)
    twin = info.cls(**kwargs, gc=gc)
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
@pytest.mark.parametrize("gc", GC_MODES, ids=GC_IDS)
@pytest.mark.parametrize(("info", "kwargs"), FINITE_CASES)
def test_without_check_finite_nan_propagates_like_reference(info, kwargs, gc, tensor, bad):
    opt, ref_opt = info.cls(**kwargs, gc=gc), info.reference(**kwargs, gc=gc)
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
    if not info.sign_steps:  # Rprop and Lion step by signs: sign(inf) is 1, torch's sign(NaN) 0
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

SAVE_CASES = [pytest.param(BY_NAME["SGD"], dict(lr=0.05), id="SGD-plain")] + [
    pytest.param(info, info.rich, id=info.name) for info in OPTIMIZERS
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("info", "kwargs"), SAVE_CASES)
def test_save_load_round_trip_is_exact(info, kwargs, dtype, tmp_path):
    opt = info.cls(**kwargs, gc="grad")
    grads = make_grads(15, dtype)
    params = make_params(dtype)
    state = opt.init(params, LAYOUT)
    for g in grads[:5]:
        opt.step(params, g, state)
    path = tmp_path / "state.npz"
    state.save(path)

    params2 = params.copy()
    loaded = info.cls(**kwargs, gc="grad").load_state(path, params2, LAYOUT)
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


def adam_meta(**changes):
    """The meta of a valid 3-step Adam float64 state for LAYOUT, with ``changes`` (a value
    of ``MISSING`` drops the key)."""
    meta = {
        "format": fo.STATE_FORMAT,
        "version": fo.STATE_VERSION,
        "optimizer": "adam",
        "buffer_names": ["exp_avg", "exp_avg_sq"],
        "layout": [[spec.name, list(spec.shape)] for spec in LAYOUT],
        "dtype": "float64",
        "step": 3,
    }
    meta.update(changes)
    return {k: v for k, v in meta.items() if v is not MISSING}


MISSING = object()
GOOD_BUFFERS = np.full((2, LAYOUT.size), 0.5)


def npz(meta=None, buffers=GOOD_BUFFERS, *, raw_meta=None, **arrays):
    """A writer of a hand-made .npz: ``meta`` (a dict, JSON-encoded) or ``raw_meta`` (an
    array as is), ``buffers`` and other arrays."""

    def write(path):
        members = dict(arrays)
        if meta is not None:
            members["meta"] = np.array(json.dumps(meta))
        if raw_meta is not None:
            members["meta"] = raw_meta
        if buffers is not None:
            members["buffers"] = buffers
        with open(path, "wb") as f:
            np.savez(f, **members)

    return write


def raw_bytes(data):
    def write(path):
        path.write_bytes(data)

    return write


def from_saved(edit):
    """A writer that saves a real Adam state, then passes its bytes through ``edit``."""

    def write(path):
        opt = fastopt.Adam()
        params = make_params()
        state = opt.init(params, LAYOUT)
        opt.step(params, make_grads(1)[0], state)
        state.save(path)
        path.write_bytes(edit(path.read_bytes()))

    return write


def npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def zip_of(members):
    """A writer of a zip archive with raw ``members`` (name -> bytes)."""

    def write(path):
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)

    return write


def flip_byte(data, index=400):
    return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]


FORGERIES = [
    ("empty", raw_bytes(b""), "the file is empty"),
    ("random-bytes", raw_bytes(np.random.default_rng(0).bytes(300)), "not an .npz"),
    ("a-pickle", raw_bytes(pickle.dumps({"step": 3})), "not an .npz"),
    ("npy-file", raw_bytes(npy_bytes(np.zeros(3))), "single .npy array"),
    ("truncated-half", from_saved(lambda b: b[: len(b) // 2]), "damaged or truncated"),
    ("truncated-tail", from_saved(lambda b: b[:-10]), "damaged or truncated"),
    ("flipped-data-byte", from_saved(flip_byte), "damaged or truncated"),
    ("other-arrays", npz(None, None, weights=np.zeros(3)), r"holds \['weights'\]"),
    ("no-meta", npz(None), "holds"),
    ("no-buffers", npz(adam_meta(), None), "holds"),
    ("extra-array", npz(adam_meta(), extra=np.zeros(1)), "holds"),
    ("meta-not-json", npz(raw_meta=np.array("{not json")), "meta is not JSON"),
    ("meta-a-list", npz([1, 2]), "meta is a JSON list"),
    ("meta-numbers", npz(raw_meta=np.zeros(3)), "meta.npy must be one string"),
    ("meta-objects", npz(raw_meta=np.array([{"a": 1}], dtype=object)), "Python objects"),
    *[
        (f"no-{key}", npz(adam_meta(**{key: MISSING})), f"meta lacks \\['{key}'\\]")
        for key in fo._STATE_KEYS
    ],
    ("unknown-key", npz(adam_meta(hack=1)), r"unknown keys \['hack'\]"),
    ("other-format", npz(adam_meta(format="other")), "format is 'other'"),
    ("version-2", npz(adam_meta(version=2)), "version 2"),
    ("version-true", npz(adam_meta(version=True)), "version True"),
    ("version-str", npz(adam_meta(version="1")), "version '1'"),
    ("version-float", npz(adam_meta(version=1.0)), "version 1.0"),
    ("optimizer-int", npz(adam_meta(optimizer=3)), "optimizer name is 3"),
    ("buffer-names-str", npz(adam_meta(buffer_names="exp_avg")), "buffer_names"),
    ("buffer-names-ints", npz(adam_meta(buffer_names=[1, 2])), "buffer_names"),
    ("buffer-names-twice", npz(adam_meta(buffer_names=["exp_avg"] * 2)), "buffer_names"),
    ("layout-str", npz(adam_meta(layout="W")), "layout must be"),
    ("layout-bare-shape", npz(adam_meta(layout=[["W", 12]])), "layout must be"),
    ("layout-triple", npz(adam_meta(layout=[["W", [12], 0]])), "layout must be"),
    ("layout-empty", npz(adam_meta(layout=[])), "layout is invalid"),
    ("layout-negative", npz(adam_meta(layout=[["W", [3, -4]]])), "layout is invalid"),
    ("layout-float", npz(adam_meta(layout=[["W", [3, 4.5]]])), "layout is invalid"),
    ("layout-bool", npz(adam_meta(layout=[["W", [True]]])), "layout is invalid"),
    ("layout-int-name", npz(adam_meta(layout=[[3, [2]]])), "layout is invalid"),
    ("layout-twice", npz(adam_meta(layout=[["W", [2]], ["W", [2]]])), "layout is invalid"),
    ("dtype-float16", npz(adam_meta(dtype="float16")), "dtype is 'float16'"),
    ("dtype-int", npz(adam_meta(dtype=64)), "dtype is 64"),
    ("step-negative", npz(adam_meta(step=-1)), "step must be >= 0"),
    ("step-float", npz(adam_meta(step=2.5)), "step must be an int"),
    ("step-str", npz(adam_meta(step="3")), "step must be an int"),
    ("step-true", npz(adam_meta(step=True)), "step must be an int"),
    ("step-null", npz(adam_meta(step=None)), "step must be an int"),
    ("step-huge", npz(adam_meta(step=2**63)), "step must be <="),
    ("buffers-shape", npz(adam_meta(), np.zeros((3, LAYOUT.size))), "buffers.npy has shape"),
    ("buffers-flat", npz(adam_meta(), np.zeros(2 * LAYOUT.size)), "buffers.npy has shape"),
    ("buffers-float32", npz(adam_meta(), GOOD_BUFFERS.astype(np.float32)), "dtype float32"),
    (
        "buffers-objects",
        npz(adam_meta(), np.empty((2, LAYOUT.size), dtype=object)),
        "Python objects",
    ),
    (
        "buffers-short",
        zip_of(
            {
                "meta.npy": npy_bytes(np.array(json.dumps(adam_meta()))),
                "buffers.npy": npy_bytes(GOOD_BUFFERS)[:-8],
            }
        ),
        "buffers.npy is truncated",
    ),
    (
        "buffers-long",
        zip_of(
            {
                "meta.npy": npy_bytes(np.array(json.dumps(adam_meta()))),
                "buffers.npy": npy_bytes(GOOD_BUFFERS) + b"\0" * 8,
            }
        ),
        "more bytes than its header",
    ),
]


def test_the_hand_made_state_is_valid(tmp_path):
    """The forgeries below each change one thing of this file, which loads."""
    path = tmp_path / "state.npz"
    npz(adam_meta())(path)
    params = make_params()
    state = fastopt.Adam().load_state(path, params, LAYOUT)
    assert state.step == 3
    np.testing.assert_array_equal(state.buffers, GOOD_BUFFERS)
    fastopt.Adam().step(params, make_grads(1)[0], state)
    assert np.isfinite(params).all()


@pytest.mark.parametrize(
    ("write", "why"), [pytest.param(w, why, id=name) for name, w, why in FORGERIES]
)
def test_load_refuses_a_forged_or_damaged_file(write, why, tmp_path):
    path = tmp_path / "state.npz"
    write(path)
    params = make_params()
    prefix = f"'{path}' is not a valid fastopt optimizer state: "
    with pytest.raises(ValueError, match="^" + re.escape(prefix) + ".*" + why) as error:
        fastopt.Adam().load_state(path, params, LAYOUT)
    assert "pickle" not in str(error.value).replace("(a pickle)", "")
    np.testing.assert_array_equal(params, make_params())


def test_load_refuses_a_folder_and_reports_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match=re.escape(f"'{tmp_path}' is not a valid") + ".*folder"):
        fastopt.Adam().load_state(tmp_path, make_params(), LAYOUT)
    missing = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        fastopt.Adam().load_state(missing, make_params(), LAYOUT)


@pytest.mark.parametrize("path", [3, None, ["state.npz"]])
def test_save_and_load_refuse_a_path_that_is_not_one(path, tmp_path):
    """An int would be opened as a file descriptor: written to, or read from."""
    opt, params, state, _ = fresh()
    with pytest.raises(TypeError, match="path"):
        state.save(path)
    with pytest.raises(TypeError, match="path"):
        opt.load_state(path, params, LAYOUT)


def test_load_accepts_str_and_bytes_paths(tmp_path):
    opt, params, state, _ = fresh()
    state.save(str(tmp_path / "a.npz"))
    assert opt.load_state(os.fsencode(tmp_path / "a.npz"), params, LAYOUT).step == 0


@pytest.mark.parametrize(
    ("step", "exc", "match"),
    [
        (-1, ValueError, "state.step must be >= 0"),
        (2.5, TypeError, "state.step must be an int"),
        ("3", TypeError, "state.step must be an int"),
        (True, TypeError, "state.step must be an int"),
    ],
)
def test_step_refuses_a_step_count_set_by_hand(step, exc, match, tmp_path):
    opt, params, state, g = fresh()
    state.step = step
    with pytest.raises(exc, match=match):
        opt.step(params, g, state)
    with pytest.raises(exc, match=match):
        state.save(tmp_path / "never-written.npz")
    assert not (tmp_path / "never-written.npz").exists()
    np.testing.assert_array_equal(params, make_params())


def test_a_numpy_step_count_is_saved_as_an_int(tmp_path):
    opt, params, state, g = fresh()
    state.step = np.int64(4)
    state.save(tmp_path / "s.npz")
    assert opt.load_state(tmp_path / "s.npz", params, LAYOUT).step == 4


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

OPTIMIZER_CLASSES = [info.cls for info in OPTIMIZERS]


@pytest.mark.parametrize("cls", OPTIMIZER_CLASSES, ids=NAMES)
@pytest.mark.parametrize("lr", [0.0, -0.1, np.nan, np.inf, -np.inf])
def test_bad_lr_value(cls, lr):
    with pytest.raises(ValueError, match="lr"):
        cls(lr=lr)


@pytest.mark.parametrize("cls", OPTIMIZER_CLASSES, ids=NAMES)
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
        (lambda: fastopt.NAdam(momentum_decay=-1e-3), ValueError, "momentum_decay"),
        (lambda: fastopt.NAdam(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
        (lambda: fastopt.NAdam(decoupled_weight_decay=1), TypeError, "decoupled_weight_decay"),
        (lambda: fastopt.RAdam(betas=(-0.1, 0.9)), ValueError, r"betas\[0\]"),
        (lambda: fastopt.RAdam(eps=-1.0), ValueError, "eps"),
        (lambda: fastopt.Adamax(betas=0.9), TypeError, "betas"),
        (lambda: fastopt.Adamax(weight_decay=np.nan), ValueError, "weight_decay"),
        (lambda: fastopt.Adadelta(rho=1.5), ValueError, "rho"),
        (lambda: fastopt.Adadelta(lr=0.0), ValueError, "lr"),
        (lambda: fastopt.Rprop(etas=(1.2, 0.5)), ValueError, "etas"),
        (lambda: fastopt.Rprop(etas=(0.5, 1.0)), ValueError, "etas"),
        (lambda: fastopt.Rprop(etas=(0.0, 1.2)), ValueError, r"etas\[0\]"),
        (lambda: fastopt.Rprop(step_sizes=(1.0, 0.1)), ValueError, "step_sizes"),
        (lambda: fastopt.Rprop(step_sizes=(1e-6,)), TypeError, "step_sizes"),
        (lambda: fastopt.Rprop(weight_decay=0.1), TypeError, "weight_decay"),
        (lambda: fastopt.Lion(betas=(0.9, 1.5)), ValueError, r"betas\[1\]"),
        (lambda: fastopt.Lion(weight_decay=-0.1), ValueError, "weight_decay"),
        (lambda: fastopt.Lion(eps=1e-8), TypeError, "eps"),
        (lambda: fastopt.Ranger(lookahead_k=0), ValueError, "lookahead_k"),
        (lambda: fastopt.Ranger(lookahead_alpha=2.0), ValueError, "lookahead_alpha"),
        (lambda: fastopt.Ranger(gc="both"), ValueError, "gc"),
    ],
)
def test_bad_hyperparameter(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("cls", OPTIMIZER_CLASSES, ids=NAMES)
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


ALIASES = [
    pytest.param(lambda p: p, id="is"),
    pytest.param(lambda p: p[:], id="[:]"),
    pytest.param(lambda p: p[::1], id="[::1]"),
    pytest.param(lambda p: p.view(), id="view"),
    pytest.param(lambda p: p.reshape(1, -1)[0], id="reshaped"),
    pytest.param(lambda p: p[::-1], id="reversed"),  # strided: copied, but refused first
]


@pytest.mark.parametrize("gc", GC_MODES, ids=GC_IDS)
@pytest.mark.parametrize("alias", ALIASES)
def test_grads_overlapping_params_are_refused(alias, gc):
    opt, params, state, _ = fresh(fastopt.Adam(gc=gc))
    with pytest.raises(ValueError, match="grads and params share memory"):
        opt.step(params, alias(params), state)
    assert_untouched(params, state)


@pytest.mark.parametrize("shift", [1, LAYOUT.size // 2, LAYOUT.size - 1])
def test_grads_overlapping_params_in_one_bigger_buffer_are_refused(shift):
    base = np.zeros(2 * LAYOUT.size)
    params = base[: LAYOUT.size]
    params[:] = make_params()
    opt = fastopt.SGD(lr=0.1, momentum=0.9, gc="update")
    state = opt.init(params, LAYOUT)
    grads = base[shift : shift + LAYOUT.size]
    with pytest.raises(ValueError, match="grads and params share memory"):
        opt.step(params, grads, state)
    assert_untouched(params, state)
    # Right after params, not overlapping: accepted, and the same step as a copy.
    after = base[LAYOUT.size :]
    after[:] = make_grads(1)[0]
    opt.step(params, after, state)
    twin, twin_params, twin_state, g = fresh(fastopt.SGD(lr=0.1, momentum=0.9, gc="update"))
    twin.step(twin_params, g, twin_state)
    np.testing.assert_array_equal(params, twin_params)


def test_overlap_with_state_buffers_is_refused():
    opt, params, state, g = fresh(fastopt.Adam(gc="update"))
    with pytest.raises(ValueError, match="grads shares memory with the state buffers"):
        opt.step(params, state.buffers[1], state)
    # params inside a buffer block of its own state.
    n = LAYOUT.size
    base = np.zeros(3 * n)
    params = base[:n]
    params[:] = make_params()
    state = opt.init(params, LAYOUT)
    state.buffers = base[n // 2 : n // 2 + 2 * n].reshape(2, n)
    with pytest.raises(ValueError, match="params shares memory with the state buffers"):
        opt.step(params, g, state)
    assert state.step == 0


def test_non_contiguous_grads_give_the_contiguous_result():
    opt, params, state, g = fresh(fastopt.Adam(gc="grad"))
    strided = np.zeros(2 * LAYOUT.size)
    strided[::2] = g
    opt.step(params, strided[::2], state)
    opt2, params2, state2, _ = fresh(fastopt.Adam(gc="grad"))
    opt2.step(params2, g, state2)
    np.testing.assert_array_equal(params, params2)
    assert not np.array_equal(params, make_params())


# --------------------------------------------------------------------------- the table, bools


@pytest.mark.parametrize("info", info_cases())
def test_the_table_uses_every_constructor_argument(info):
    """A new hyperparameter needs a row in tests/optimizer_cases.py (gc: every test crosses
    the GC modes)."""
    arguments = set(inspect.signature(info.cls).parameters) - {"gc"}
    assert set().union(*info.options) == arguments
    assert set(info.rich) <= arguments


BOOL_OPTIONS = [
    pytest.param(info, name, id=f"{info.name}-{name}")
    for info in OPTIMIZERS
    for name, parameter in inspect.signature(info.cls).parameters.items()
    if isinstance(parameter.default, bool)
]


def test_there_are_bool_options_to_check():
    assert {(p.values[0].name, p.values[1]) for p in BOOL_OPTIONS} >= {
        ("SGD", "nesterov"),
        ("RMSprop", "centered"),
        ("Adam", "amsgrad"),
        ("AdamW", "amsgrad"),
    }


@pytest.mark.parametrize("value", ["False", "no", "true", "", 0, 1, 1.0, None, [True]])
@pytest.mark.parametrize(("info", "option"), BOOL_OPTIONS)
def test_bool_hyperparameters_refuse_anything_but_a_bool(info, option, value):
    """Read by truthiness, "False" and "no" would mean True."""
    with pytest.raises(TypeError, match=f"^{option} must be True or False"):
        info.cls(**{**info.options[0], option: value})


@pytest.mark.parametrize(("info", "option"), BOOL_OPTIONS)
def test_bool_hyperparameters_accept_numpy_bools(info, option):
    with_true = next(kw for kw in info.options if kw.get(option) is True)
    opt = info.cls(**{**with_true, option: np.bool_(True)})
    assert opt.hyperparameters() == info.cls(**with_true).hyperparameters()
    assert type(getattr(opt, option)) is bool
    assert getattr(info.cls(**{**info.options[0], option: np.bool_(False)}), option) is False


@pytest.mark.parametrize("value", ["no", 1, None])
def test_check_finite_must_be_a_bool(value):
    opt, params, state, g = fresh()
    with pytest.raises(TypeError, match="check_finite"):
        opt.step(params, g, state, check_finite=value)
    assert_untouched(params, state)


@pytest.mark.parametrize(
    ("optimizer", "hyper"),
    [("adam", dict(amsgrad="no")), ("sgd", dict(momentum=0.9, nesterov="False"))],
)
def test_sweep_refuses_a_string_for_a_bool_hyperparameter(optimizer, hyper):
    X = np.zeros((4, 2))
    Y = np.zeros((4, 1))
    name = next(iter(k for k in hyper if k != "momentum"))
    with pytest.raises(TypeError, match=name):
        fastopt.sweep(fastopt.MLP([2, 3, 1]), X, Y, optimizer=optimizer, lr=0.1, steps=2, **hyper)


@pytest.mark.parametrize("gc", [["grad"], {"grad": 1}, b"grad"])
def test_unhashable_or_bytes_gc_is_refused_by_name(gc):
    with pytest.raises(ValueError, match="gc must be"):
        fastopt.Adam(gc=gc)


# --------------------------------------------------------------------------- Momentum's name


@pytest.mark.parametrize(
    ("saved", "loader"),
    [
        (fastopt.Momentum(lr=0.1), fastopt.SGD(lr=0.1, momentum=0.9)),
        (fastopt.SGD(lr=0.1, momentum=0.9), fastopt.Momentum(lr=0.1)),
    ],
    ids=["momentum-into-sgd", "sgd-into-momentum"],
)
def test_momentum_and_sgd_states_do_not_mix(saved, loader, tmp_path):
    assert saved.buffer_names == loader.buffer_names  # only the name tells them apart
    path, params = saved_state(tmp_path, saved)
    match = f"'{saved.name}' state; this optimizer is '{loader.name}'"
    with pytest.raises(ValueError, match=match):
        loader.load_state(path, params, LAYOUT)
    state = saved.init(params, LAYOUT)
    with pytest.raises(ValueError, match=f"state belongs to a '{saved.name}' optimizer"):
        loader.step(params, make_grads(1)[0], state)
    assert saved.load_state(path, params, LAYOUT).optimizer == saved.name


# --------------------------------------------------------------------------- fill_initial_buffers


@pytest.mark.parametrize("info", info_cases())
def test_fill_initial_buffers_writes_what_init_starts_from(info):
    opt = info.cls(**info.rich)
    state = opt.init(make_params(), LAYOUT)
    rows = len(opt.buffer_names)
    taller = np.full((rows + 2, LAYOUT.size), 7.0)  # a grid's block: as tall as its tallest
    opt.fill_initial_buffers(taller, make_params())  # Lookahead's slow weights copy them
    np.testing.assert_array_equal(taller[:rows], state.buffers)
    np.testing.assert_array_equal(taller[rows:], 7.0)  # not this optimizer's rows
    ref_state = info.reference(**info.rich).init(LAYOUT.views(make_params()))
    for i, key in enumerate(opt.buffer_names):
        np.testing.assert_array_equal(taller[i], LAYOUT.pack(ref_state[key]))


def test_fill_initial_buffers_overwrites_and_has_no_private_alias():
    opt = fastopt.Adagrad(initial_accumulator_value=0.25)
    buffers = np.full((1, 5), -3.0, dtype=np.float32)
    opt.fill_initial_buffers(buffers)
    np.testing.assert_array_equal(buffers, 0.25)
    assert buffers.dtype == np.float32
    assert not hasattr(fastopt.Optimizer, "_initial_buffers")


@pytest.mark.parametrize(
    ("buffers", "exc", "match"),
    [
        ([[0.0] * 5], TypeError, "NumPy array"),
        (np.zeros((1, 5), dtype=np.int64), TypeError, "float32 or float64"),
        (np.zeros((1, 5), dtype=np.complex128), TypeError, "float32 or float64"),
        (np.zeros(5), ValueError, "shape"),
        (np.zeros((1, 2, 5)), ValueError, "shape"),
        (np.zeros((1, 5)), ValueError, r"n_rows >= 2"),
    ],
)
def test_fill_initial_buffers_bad_input(buffers, exc, match):
    with pytest.raises(exc, match=match):
        fastopt.Adam().fill_initial_buffers(buffers)


def test_fill_initial_buffers_read_only():
    buffers = np.zeros((2, 5))
    buffers.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        fastopt.Adam().fill_initial_buffers(buffers)


# --------------------------------------------------------------------------- lr_at


@pytest.mark.parametrize("lr", [0.1, Cosine(0.1, total_steps=10)], ids=["float", "schedule"])
def test_lr_at_refuses_negative_and_non_integer_steps(lr):
    opt = fastopt.SGD(lr=lr)
    assert opt.lr_at(np.int64(0)) == opt.lr_at(0) == 0.1
    with pytest.raises(ValueError, match="t must be >= 0"):
        opt.lr_at(-1)
    with pytest.raises(TypeError, match="t must be an int"):
        opt.lr_at(1.5)


# --------------------------------------------------------------------------- _validate


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: check_int("n", np.int32(3)), 3),
        (lambda: check_int("n", 3, 3, 3), 3),
        (lambda: check_bool("flag", np.bool_(True)), True),
        (lambda: check_bool("flag", False), False),
        (lambda: check_positive("x", np.float32(0.5)), 0.5),
        (lambda: check_positive("x", 0, allow_zero=True), 0.0),
        (lambda: check_positive("x", 2), 2.0),
        (lambda: check_fraction("x", 0.0), 0.0),
        (lambda: check_fraction("x", 1, allow_one=True), 1.0),
        (lambda: check_finite_or_none("x", -2), -2.0),
        (lambda: check_finite_or_none("x", 2, positive=True), 2.0),
    ],
)
def test_validators_return_canonical_python_values(call, expected):
    value = call()
    assert value == expected and type(value) is type(expected)


def test_check_finite_or_none_maps_none_to_nan():
    assert np.isnan(check_finite_or_none("x", None))


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: check_int("n", True), TypeError, "^n must be an int, got True"),
        (lambda: check_int("n", np.bool_(True)), TypeError, "^n must be an int"),
        (lambda: check_int("n", 3.0), TypeError, "^n must be an int"),
        (lambda: check_int("n", "3"), TypeError, "^n must be an int"),
        (lambda: check_int("n", 2, 3), ValueError, "^n must be >= 3, got 2"),
        (lambda: check_int("n", 4, None, 3), ValueError, "^n must be <= 3, got 4"),
        (lambda: check_bool("flag", "False"), TypeError, "^flag must be True or False"),
        (lambda: check_bool("flag", 0), TypeError, "^flag must be True or False"),
        (lambda: check_bool("flag", np.array(True)), TypeError, "^flag must be True or False"),
        (lambda: check_positive("x", True), TypeError, "^x must be a number"),
        (lambda: check_positive("x", "1"), TypeError, "^x must be a number"),
        (lambda: check_positive("x", 1j), TypeError, "^x must be a number"),
        (lambda: check_positive("x", 0), ValueError, "^x must be finite and > 0"),
        (lambda: check_positive("x", -1, allow_zero=True), ValueError, ">= 0"),
        (lambda: check_positive("x", np.nan), ValueError, "^x must be finite"),
        (lambda: check_positive("x", np.inf, allow_zero=True), ValueError, "^x must be finite"),
        (lambda: check_fraction("x", 1.0), ValueError, r"^x must lie in \[0, 1\)"),
        (lambda: check_fraction("x", -0.1), ValueError, r"^x must lie in \[0, 1\)"),
        (lambda: check_fraction("x", np.nan), ValueError, "^x must lie in"),
        (lambda: check_fraction("x", 1.5, allow_one=True), ValueError, r"\[0, 1\]"),
        (lambda: check_fraction("x", False), TypeError, "^x must be a number"),
        (lambda: check_finite_or_none("x", "a"), TypeError, "^x must be a number or None"),
        (lambda: check_finite_or_none("x", True), TypeError, "^x must be a number or None"),
        (lambda: check_finite_or_none("x", np.inf), ValueError, "^x must be finite"),
        (lambda: check_finite_or_none("x", 0, positive=True), ValueError, "finite and > 0"),
    ],
)
def test_validators_refuse_naming_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
