"""One declaration per optimizer: what derives from an OptimizerSpec, and a new one end to end."""

import inspect

import numpy as np
import pytest
from numba import njit

import fastopt
from fastopt._kernels import fused
from fastopt._validate import check_positive
from fastopt.config import GRID_AXES
from fastopt.optimizers import OPTIMIZERS, Hyper, Optimizer, OptimizerSpec
from fastopt.optimizers.spec import check_lr
from fastopt.reference import optim as ref
from fastopt.sweep import batch_indices, sweep


# --- a new optimizer, declared as an optimizer module would: signSGD --------------------------
@njit(inline="always")
def _sign_coefficients(h, t, lr, c):
    c.lr = lr
    c.wd = h.weight_decay


@njit(inline="always")
def _sign_rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
    p, g = p[lo:hi], g[lo:hi]
    dt = p.dtype.type
    lr, wd = dt(c.lr), dt(c.wd)
    total = ahead = dt(0.0)
    for i in range(p.shape[0]):
        u = np.sign(g[i] + wd * p[i] - d_shift)
        p[i] -= lr * u
        total, ahead = fused.gc_tally(what, i, u, total, ahead, p_other, g_other, back, wd)
    return total, ahead


SIGN_SGD = OptimizerSpec(
    name="signsgd",
    hyperparameters=(
        Hyper("lr", 0.01, check_lr, kernel=()),
        Hyper("weight_decay", 0.0, lambda n, v: check_positive(n, v, allow_zero=True)),
    ),
    buffers=lambda hp: (),
    coefficients=(),
    fill_coefficients=_sign_coefficients,
    rows=_sign_rows,
)


class SignSGD(Optimizer):
    """``p -= lr * sign(g + weight_decay*p)``."""

    spec = SIGN_SGD


def sign_sgd_reference(p, g, lr, wd, gc, layout):
    """The same step in NumPy, GC as the reference optimizers do it."""
    d = g + wd * p
    if gc == "grad":
        d = layout.pack(ref.centralize(layout.views(d)))
    u = np.sign(d)
    if gc == "update":
        u = layout.pack(ref.centralize(layout.views(u)))
    return p - lr * u


LAYOUT = fastopt.Layout([("W", (3, 4)), ("b", (5,)), ("K", (2, 3, 3))])


@pytest.mark.parametrize("gc", [None, "grad", "update"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_new_optimizer_is_one_declaration(gc, dtype):
    rng = np.random.default_rng(0)
    p = rng.standard_normal(LAYOUT.size).astype(dtype)
    opt = SignSGD(lr=0.1, weight_decay=0.05, gc=gc)
    state = opt.init(p, LAYOUT)
    expected = p.copy()
    for _ in range(5):
        g = rng.standard_normal(LAYOUT.size).astype(dtype)
        expected = sign_sgd_reference(expected, g, dtype(0.1), dtype(0.05), gc, LAYOUT)
        opt.step(p, g, state)
        np.testing.assert_allclose(p, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)
        assert p.dtype == dtype
    assert state.step == 5 and state.buffer_names == ()
    assert repr(opt) == "SignSGD(lr=0.1, weight_decay=0.05, gc=" + repr(gc) + ")"


def test_a_new_optimizer_sweeps_bit_identical_to_training_alone():
    net = fastopt.MLP([3, 5, 1], activation="tanh")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((24, 3))
    Y = X[:, :1] - 0.5 * X[:, 1:2]
    opt = SignSGD(lr=0.01, weight_decay=0.01)
    result = sweep(net, X, Y, optimizer=[opt, "adam"], lr=[0.01, 0.03], gc=[None, "update"],
                   batch_size=8, steps=15, dtype=np.float64, return_params=True)  # fmt: skip
    rows = result.select(optimizer=repr(opt))
    assert len(rows) == 4 and len(result) == 8
    for k in range(len(rows)):
        alone = SignSGD(lr=rows["lr"][k], weight_decay=0.01, gc=rows["gc"][k])
        params = net.init(seed=0, dtype=np.float64)
        state = alone.init(params, net.layout)
        grad = np.empty_like(params)
        for t, batch in enumerate(batch_indices(24, 8, 0, 15)):
            net.loss_and_grad(params, X[batch], Y[batch], out=grad)
            if t < 15:
                alone.step(params, grad, state)
        np.testing.assert_array_equal(rows.params[k], params)


# --- what every registered optimizer derives from its spec -----------------------------------
@pytest.mark.parametrize("cls", list(OPTIMIZERS.values()), ids=list(OPTIMIZERS))
def test_the_class_is_its_spec(cls):
    spec = cls.spec
    assert cls.name == spec.name and OPTIMIZERS[spec.name] is cls
    signature = inspect.signature(cls)
    assert list(signature.parameters) == [*spec.names, "gc"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values())
    for name, default in spec.defaults.items():
        assert signature.parameters[name].default == default
    # The sweep and the TOML file accept every hyperparameter, typed as the spec says.
    for h in spec.hyperparameters:
        assert GRID_AXES[h.name] == ("number" if h.name == "lr" else h.axis)
    # The kernel's records are built by name from the hyperparameters.
    opt = cls(**{**spec.defaults, "lr": 0.1})
    record = opt.hyper_record()
    assert not record.flags.writeable and record.shape == (1,)
    for h in spec.hyperparameters:
        value = getattr(opt, h.name)
        values = value if isinstance(value, tuple) else (value,)
        for field, v in zip(h.kernel_fields, values, strict=False):
            assert record[field][0] == float(v)
    assert spec.coefficient_dtype.names[:2] == fused.COMMON_COEFFICIENTS


def test_hyperparameters_are_named_and_fixed():
    opt = fastopt.Adam(lr=0.01, betas=(0.8, 0.95), amsgrad=True)
    record = opt.hyper_record()[0]
    assert (record["beta1"], record["beta2"], record["amsgrad"]) == (0.8, 0.95, 1.0)
    assert record["decoupled"] == 0.0 and fastopt.AdamW().hyper_record()[0]["decoupled"] == 1.0
    assert opt.betas == (0.8, 0.95) and opt.buffer_names[-1] == "max_exp_avg_sq"
    with pytest.raises(AttributeError, match="fixed at construction"):
        opt.betas = (0.9, 0.9)
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['beta'\]"):
        fastopt.Adam(beta=0.9)
    with pytest.raises(TypeError, match=r"needs the keyword argument\(s\) \['lr'\]"):
        fastopt.SGD()
    with pytest.raises(TypeError):
        fastopt.Adam(0.01)  # keyword-only


def test_variants_share_the_kernel_but_not_the_name():
    assert fastopt.Momentum.spec.coefficient_dtype == fastopt.SGD.spec.coefficient_dtype
    assert fastopt.Momentum(lr=0.1).momentum == 0.9
    assert fastopt.AdamW.spec.torch == "AdamW" and fastopt.AdamW().weight_decay == 1e-2
    assert fastopt.Momentum.name == "momentum" != fastopt.SGD.name


def test_a_record_belongs_to_one_optimizer():
    """Two specs with one record type would run each other's loops: refused."""

    @njit(inline="always")
    def other_rows(c, p, g, S, lo, hi, d_shift, what, p_other, g_other, back):
        return 0.0, 0.0

    with pytest.raises(ValueError, match="registered to another optimizer"):
        fused.register(SIGN_SGD.coefficient_dtype, SIGN_SGD.hyper_dtype, other_rows,
                       _sign_coefficients)  # fmt: skip


def test_the_source_stamp_follows_the_loop_module():
    """An edited element loop changes the record type, so no cached driver runs stale code."""
    stamp = SIGN_SGD.coefficient_dtype.names[-1]
    assert stamp.startswith("source_")
    assert stamp != fastopt.Adam.spec.coefficient_dtype.names[-1]
    assert (
        fastopt.Adam.spec.coefficient_dtype.names[-1]
        == (fastopt.AdamW.spec.coefficient_dtype.names[-1])
    )
