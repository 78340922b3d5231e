"""The assignment's hand-worked 2-2-2 network (SEED.md Q3), exactly in float64."""

import subprocess
import sys

import numpy as np
import pytest

from fastopt import MLP
from fastopt.cli import main
from fastopt.experiments import worked_example
from fastopt.experiments.worked_example import PARAMETER_INDEX, TABLE
from fastopt.reference import mlp as ref


@pytest.fixture(scope="module")
def example():
    return worked_example()


def test_forward_values(example):
    np.testing.assert_array_equal(example.z, [2.0, -0.5])
    np.testing.assert_array_equal(example.h, [2.0, 0.0])
    np.testing.assert_array_equal(example.o, [0.0, -1.5])


def test_losses(example):
    assert example.mse == 2.5
    assert example.E1 == 0.5
    assert example.E2 == 2.0


def test_full_loss_gradient_and_step(example):
    assert example.grad_E["w21"] == -1.5
    assert example.after_step["w21"] == 0.65
    assert example.grad_E["w12"] == 0.0
    assert example.after_step["w12"] == -0.5
    # By hand: dE/dw11 = (o1-t1)*w31*i1 + (o2-t2)*w32*i1 = -1 + 4; dE/dw31 = (o1-t1)*h1.
    assert example.grad_E["w11"] == 3.0
    assert example.grad_E["w31"] == -2.0
    assert example.grad_E["w32"] == -4.0
    assert example.grad_E["b4"] == -2.0
    # Everything behind the dead unit h2 has zero gradient.
    for name in ("w12", "w22", "w41", "w42", "b2"):
        assert example.grad_E[name] == 0.0
        assert example.after_step[name] == example.weights[name]


def test_single_path_gradients(example):
    assert example.grad_E1["w21"] == 0.5
    assert example.weights["w21"] - 0.1 * example.grad_E1["w21"] == 0.45
    assert example.grad_E2["w21"] == -2.0
    assert example.grad_E2["w12"] == 0.0
    for name in PARAMETER_INDEX:
        assert example.grad_E1[name] + example.grad_E2[name] == example.grad_E[name]


def test_weights_come_from_the_table(example):
    for name in PARAMETER_INDEX:
        assert example.weights[name] == TABLE[name]


def test_matches_reference_backward(example):
    # The reference computes E1's gradient directly from d_output = (o1 - t1, 0).
    net = MLP([2, 2, 2])
    arrays = {"W1": np.zeros((2, 2)), "b1": np.zeros(2), "W2": np.zeros((2, 2)), "b2": np.zeros(2)}
    for name, (tensor, idx) in PARAMETER_INDEX.items():
        arrays[tensor][idx] = TABLE[name]
    layers = ref.split_params(net, net.layout.pack(arrays, dtype=np.float64))
    zs, hs = ref.forward(layers, np.array([[2.0, -1.0]]), "relu")
    (dW1, db1), (dW2, db2) = ref.backward(
        layers, zs, hs, np.array([[zs[-1][0, 0] - 1.0, 0.0]]), "relu"
    )
    assert dW1[0, 1] == example.grad_E1["w21"]
    assert dW2[0, 0] == example.grad_E1["w31"]


def test_other_learning_rate():
    assert worked_example(lr=1.0).after_step["w21"] == 0.5 + 1.5


def test_report_says_which_is_which(example):
    text = example.report()
    assert "dE/dw21  = -1.5  -> w21 = 0.65" in text
    assert "dE1/dw21 = 0.5  -> w21 = 0.45" in text
    assert "w12 stays -0.5" in text and "ReLU is inactive at z2 = -0.5" in text
    assert "MSE = ((t1 - o1)^2 + (t2 - o2)^2) / 2 = 2.5" in text


def test_cli(capsys):
    assert main(["worked-example"]) == 0
    assert "-> w21 = 0.65" in capsys.readouterr().out
    assert main(["worked-example", "--lr", "1"]) == 0
    assert "dE/dw21  = -1.5  -> w21 = 2" in capsys.readouterr().out  # 0.5 - 1 * (-1.5)


def test_module_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "fastopt", "worked-example", "--lr", "0.1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "dE1/dw21 = 0.5  -> w21 = 0.45" in done.stdout
