"""MLP kernels against fastopt.reference and central finite differences."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastopt import MLP
from fastopt._kernels import mlp as mlp_kernels
from fastopt.mlp import ACTIVATIONS
from fastopt.reference import mlp as ref

LOSSES = ["mse", "cross_entropy"]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


def make_problem(sizes, activation, loss, n, dtype, seed):
    rng = np.random.default_rng(seed)
    net = MLP(sizes, activation, loss=loss)
    params = net.init(seed=seed, dtype=dtype)
    # Non-zero biases, so that the bias paths are exercised too.
    params += (0.1 * rng.standard_normal(params.shape)).astype(dtype)
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    if loss == "mse":
        Y = rng.standard_normal((n, sizes[-1])).astype(dtype)
    else:
        Y = rng.integers(0, sizes[-1], size=n)
    return net, params, X, Y


def central_differences(net, params, X, Y, indices, h=1e-6):
    out = np.empty(len(indices))
    for k, i in enumerate(indices):
        plus, minus = params.copy(), params.copy()
        plus[i] += h
        minus[i] -= h
        out[k] = (
            ref.mlp_loss_and_grad(net, plus, X, Y)[0] - ref.mlp_loss_and_grad(net, minus, X, Y)[0]
        ) / (2 * h)
    return out


CASES = list(itertools.product([1, 2, 3, 4], sorted(ACTIVATIONS), LOSSES, [1, 7, 128]))


@pytest.mark.parametrize("depth, activation, loss, n", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_matches_reference(depth, activation, loss, n, dtype):
    seed = CASES.index((depth, activation, loss, n))
    widths = np.random.default_rng(seed).integers(1, 65, size=depth + 1)
    if loss == "cross_entropy":
        widths[-1] = max(widths[-1], 2) if seed % 3 else 1  # a 1-class softmax is legal, loss 0
    sizes = [int(w) for w in widths]
    net, params, X, Y = make_problem(sizes, activation, loss, n, dtype, seed)

    loss_value, grad = net.loss_and_grad(params, X, Y)
    ref_loss, ref_grad = ref.mlp_loss_and_grad(net, params, X, Y)
    assert grad.dtype == dtype and grad.shape == params.shape
    assert isinstance(loss_value, np.floating) and loss_value.dtype == dtype
    np.testing.assert_allclose(loss_value, ref_loss, **TOL[dtype])
    scale = max(np.abs(ref_grad).max(), 1e-3)
    np.testing.assert_allclose(
        grad, ref_grad, rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["rtol"] * scale
    )
    np.testing.assert_allclose(net.loss(params, X, Y), loss_value, **TOL[dtype])
    np.testing.assert_allclose(
        net.forward(params, X), ref.mlp_forward(net, params, X), **TOL[dtype]
    )

    if dtype is np.float64:
        # Both against the definition of the derivative, on a sample of coordinates.
        idx = np.random.default_rng(seed).choice(
            params.size, size=min(12, params.size), replace=False
        )
        fd = central_differences(net, params, X, Y, idx)
        np.testing.assert_allclose(grad[idx], fd, rtol=1e-5, atol=1e-7)


def test_float32_agrees_with_float64():
    net, p64, X64, Y64 = make_problem([5, 16, 16, 3], "tanh", "mse", 32, np.float64, 1)
    l64, g64 = net.loss_and_grad(p64, X64, Y64)
    l32, g32 = net.loss_and_grad(
        p64.astype(np.float32), X64.astype(np.float32), Y64.astype(np.float32)
    )
    assert g32.dtype == np.float32
    np.testing.assert_allclose(l32, l64, rtol=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5 * np.abs(g64).max())


@pytest.mark.parametrize("sizes, n", [([300, 300, 2], 8), ([3, 400, 400, 2], 512)])
def test_blas_path_matches_reference(sizes, n):
    # Layers of this size go through np.dot (BLAS) instead of the loops.
    net, params, X, Y = make_problem(sizes, "relu", "cross_entropy", n, np.float64, 3)
    loss_value, grad = net.loss_and_grad(params, X, Y)
    ref_loss, ref_grad = ref.mlp_loss_and_grad(net, params, X, Y)
    np.testing.assert_allclose(loss_value, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12 * np.abs(ref_grad).max())


@pytest.mark.parametrize("sizes", [[16, 32, 32, 4], [64, 100, 10]])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("n", [32, 64, 65])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_major_weight_gradients_match_reference(sizes, activation, n, dtype):
    # Batches up to BATCH_MAJOR_MAX take the weight gradients of layers with at least
    # BATCH_MAJOR_MIN_OUT outputs through a batch-major copy of the layer input; 65 does not.
    assert mlp_kernels.BATCH_MAJOR_MAX == 64
    net, params, X, Y = make_problem(sizes, activation, "cross_entropy", n, dtype, 11)
    loss_value, grad = net.loss_and_grad(params, X, Y)
    ref_loss, ref_grad = ref.mlp_loss_and_grad(net, params.astype(np.float64),
                                               X.astype(np.float64), Y)  # fmt: skip
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(loss_value, ref_loss, rtol=rtol)
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=rtol * np.abs(ref_grad).max())


@pytest.mark.parametrize("sizes", [[5, 12, 1], [4, 1, 3], [6, 1, 1]])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("n", [3, 128])
def test_one_output_layers_match_reference(sizes, activation, n):
    # A layer with one output has its own backward loop (dW, dA and the activation's
    # derivative in one pass), whatever the size of its product.
    net, params, X, Y = make_problem(sizes, activation, "mse", n, np.float64, 5)
    loss_value, grad = net.loss_and_grad(params, X, Y)
    ref_loss, ref_grad = ref.mlp_loss_and_grad(net, params, X, Y)
    np.testing.assert_allclose(loss_value, ref_loss, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 9), min_size=2, max_size=5),
    n=st.integers(1, 40),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    seed=st.integers(0, 2**16),
)
def test_hypothesis_shapes(sizes, n, activation, seed):
    net, params, X, Y = make_problem(sizes, activation, "mse", n, np.float64, seed)
    out = np.full_like(params, np.nan)
    loss_value, grad = net.loss_and_grad(params, X, Y, out=out)
    assert grad is out
    ref_loss, ref_grad = ref.mlp_loss_and_grad(net, params, X, Y)
    np.testing.assert_allclose(loss_value, ref_loss, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)
    assert net.forward(params, X).shape == (n, sizes[-1])


def test_layout_names_and_shapes():
    net = MLP([3, 5, 2])
    assert net.layout.names == ("W1", "b1", "W2", "b2")
    assert net.layout.shapes == {"W1": (5, 3), "b1": (5,), "W2": (2, 5), "b2": (2,)}
    assert net.n_layers == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_schemes(dtype):
    net = MLP([400, 300, 1])
    he = net.layout.views(net.init(seed=1, dtype=dtype))
    xavier = net.layout.views(net.init(seed=1, dtype=dtype, scheme="xavier"))
    assert he["W1"].dtype == dtype
    np.testing.assert_allclose(he["W1"].std(), np.sqrt(2 / 400), rtol=0.02)
    np.testing.assert_allclose(xavier["W1"].std(), np.sqrt(2 / 700), rtol=0.02)
    assert not he["b1"].any()
    np.testing.assert_array_equal(net.init(seed=1, dtype=dtype), net.init(seed=1, dtype=dtype))
    assert not np.array_equal(net.init(seed=1), net.init(seed=2))


def test_predict_and_softmax_output():
    net, params, X, Y = make_problem([4, 8, 3], "relu", "cross_entropy", 20, np.float64, 0)
    probs = net.forward(params, X)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_array_equal(net.predict(params, X), probs.argmax(axis=1))


def test_nan_propagates():
    # Divergence detection later relies on NaN reaching the loss and the gradient.
    net, params, X, Y = make_problem([2, 4, 1], "relu", "mse", 5, np.float64, 0)
    params[0] = np.nan
    loss_value, grad = net.loss_and_grad(params, X, Y)
    assert np.isnan(loss_value) and np.isnan(grad).any()


def test_inputs_are_not_modified_and_views_work():
    net, params, X, Y = make_problem([3, 6, 2], "sigmoid", "mse", 9, np.float64, 0)
    before = (params.copy(), X.copy(), Y.copy())
    strided_X = np.asfortranarray(X)
    _, g1 = net.loss_and_grad(params, X, Y)
    _, g2 = net.loss_and_grad(params, strided_X, Y)
    np.testing.assert_array_equal(g1, g2)
    for a, b in zip(before, (params, X, Y), strict=True):
        np.testing.assert_array_equal(a, b)
    # Integer inputs are cast to the params' dtype.
    _, g3 = net.loss_and_grad(params, np.ones((2, 3), dtype=np.int64), np.zeros((2, 2)))
    _, g4 = net.loss_and_grad(params, np.ones((2, 3)), np.zeros((2, 2)))
    np.testing.assert_array_equal(g3, g4)


class TestBadInput:
    net = MLP([3, 4, 2])
    clf = MLP([3, 4, 2], loss="cross_entropy")
    params = net.init(dtype=np.float64)
    X = np.zeros((5, 3))
    Y = np.zeros((5, 2))

    def test_params(self):
        with pytest.raises(ValueError, match="params has length 25 but the layout needs 26"):
            self.net.loss_and_grad(self.params[:-1], self.X, self.Y)
        with pytest.raises(TypeError, match="params must have dtype float32 or float64"):
            self.net.loss_and_grad(self.params.astype(np.int64), self.X, self.Y)
        with pytest.raises(TypeError, match="params must be a NumPy array"):
            self.net.loss(list(self.params), self.X, self.Y)

    def test_X(self):
        with pytest.raises(ValueError, match="X has 4 features per sample but the network takes 3"):
            self.net.loss_and_grad(self.params, np.zeros((5, 4)), self.Y)
        with pytest.raises(ValueError, match="X must be 2-D"):
            self.net.forward(self.params, np.zeros(3))
        with pytest.raises(ValueError, match="at least one sample"):
            self.net.forward(self.params, np.zeros((0, 3)))
        with pytest.raises(TypeError, match="X has dtype float32 but params has float64"):
            self.net.loss_and_grad(self.params, self.X.astype(np.float32), self.Y)
        with pytest.raises(TypeError, match="X must hold numbers"):
            self.net.forward(self.params, np.array([["a", "b", "c"]]))

    def test_Y(self):
        with pytest.raises(ValueError, match=r"Y must have shape \(5, 2\)"):
            self.net.loss_and_grad(self.params, self.X, np.zeros((5, 3)))
        with pytest.raises(TypeError, match="Y has dtype float32 but params has float64"):
            self.net.loss_and_grad(self.params, self.X, self.Y.astype(np.float32))
        with pytest.raises(ValueError, match="reshape"):
            MLP([3, 1]).loss(MLP([3, 1]).init(dtype=np.float64), self.X, np.zeros(5))
        with pytest.raises(ValueError, match=r"class labels outside \[0, 2\)"):
            self.clf.loss_and_grad(self.params, self.X, np.array([0, 1, 2, 0, 1]))
        with pytest.raises(ValueError, match=r"class labels outside \[0, 2\)"):
            self.clf.loss_and_grad(self.params, self.X, np.array([0, -1, 0, 0, 1]))
        with pytest.raises(TypeError, match="integer class labels"):
            self.clf.loss_and_grad(self.params, self.X, np.zeros(5))
        with pytest.raises(ValueError, match=r"Y must have shape \(5,\)"):
            self.clf.loss_and_grad(self.params, self.X, np.zeros((5, 1), dtype=int))

    def test_complex_inputs_are_refused_not_cast(self):
        with pytest.raises(TypeError, match="X holds complex numbers"):
            self.net.loss_and_grad(self.params, self.X.astype(complex), self.Y)
        with pytest.raises(TypeError, match="Y holds complex numbers"):
            self.net.loss_and_grad(self.params, self.X, self.Y + 1j)
        with pytest.raises(TypeError, match="X_val must hold real numbers"):
            self.net.training_data(self.X + 1j, self.Y, np.float64, ("X_val", "Y_val"))

    @pytest.mark.parametrize(
        "net_name, Y, error, match",
        [
            ("net", np.zeros((5, 3)), ValueError, r"T must have shape \(5, 2\) to match D"),
            ("clf", np.array([0, 1, 2, 0, 1]), ValueError, r"T holds class labels outside"),
            ("clf", np.zeros(5), TypeError, "T must hold integer class labels"),
            ("clf", np.zeros((5, 1), dtype=int), ValueError, r"T must have shape \(5,\)"),
        ],
    )
    def test_one_target_check_serves_single_runs_and_whole_data_sets(self, net_name, Y, error,
                                                                        match):  # fmt: skip
        net = getattr(self, net_name)
        with pytest.raises(error, match=match.replace("T ", "Y ").replace(" D", " X")):
            net.loss_and_grad(self.params, self.X, Y)
        with pytest.raises(error, match=match.replace("D", "data")):
            net.training_data(self.X, Y, np.float64, ("data", "T"))

    def test_whole_data_sets_must_be_finite(self):
        X = self.X.copy()
        X[1, 2] = np.inf
        with pytest.raises(ValueError, match="X holds NaN or inf"):
            self.net.training_data(X, self.Y, np.float32)
        X, Y, y = self.clf.training_data(self.X, np.array([0, 1, 1, 0, 1]), np.float32)
        assert X.dtype == np.float32 and y.dtype == np.int64 and Y.size == 0

    def test_out(self):
        good = np.empty_like(self.params)
        with pytest.raises(TypeError, match="out has dtype float32 but params has float64"):
            self.net.loss_and_grad(self.params, self.X, self.Y, out=good.astype(np.float32))
        with pytest.raises(ValueError, match="out has length 25"):
            self.net.loss_and_grad(self.params, self.X, self.Y, out=good[:-1])
        with pytest.raises(ValueError, match="C-contiguous"):
            self.net.loss_and_grad(self.params, self.X, self.Y, out=np.empty(52)[::2])
        read_only = good.copy()
        read_only.setflags(write=False)
        with pytest.raises(ValueError, match="read-only"):
            self.net.loss_and_grad(self.params, self.X, self.Y, out=read_only)
        with pytest.raises(ValueError, match="shares memory with params"):
            self.net.loss_and_grad(self.params, self.X, self.Y, out=self.params)
        both = np.zeros(52)
        with pytest.raises(ValueError, match="shares memory with params"):
            self.net.loss_and_grad(both[:26], self.X, self.Y, out=both[13:39])

    @pytest.mark.parametrize(
        "kwargs, error, match",
        [
            (dict(sizes=[3]), ValueError, "at least two layers"),
            (dict(sizes=[3, 0, 2]), ValueError, ">= 1"),
            (dict(sizes=[3, 2.0]), TypeError, "ints"),
            (dict(sizes="32"), TypeError, "sequence of ints"),
            (dict(sizes=[3, 2], activation="gelu"), ValueError, "activation must be one of"),
            (dict(sizes=[3, 2], loss="hinge"), ValueError, "loss must be one of"),
            (dict(sizes=[3, 2], output="softmax"), ValueError, "does not go with loss='mse'"),
            (dict(sizes=[3, 2], output="sigmoid"), ValueError, "output must be"),
            (dict(sizes=[3, 2], negative_slope=-1), ValueError, "negative_slope"),
        ],
    )
    def test_spec(self, kwargs, error, match):
        with pytest.raises(error, match=match):
            MLP(**kwargs)

    def test_init(self):
        with pytest.raises(TypeError, match="dtype must be float32 or float64"):
            self.net.init(dtype=np.int32)
        with pytest.raises(ValueError, match="scheme must be one of"):
            self.net.init(scheme="lecun")
