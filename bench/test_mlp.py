"""``MLP.loss_and_grad`` against ``fastopt.reference``, float32.

Run: ``pytest bench/test_mlp.py``. The ratio table at the end is what the README reports.
Targets (issue 2): >= 10x the reference on the tiny and small networks, parity on the medium.
"""

import numpy as np
import pytest

from fastopt import MLP
from fastopt.reference import mlp as ref

NETWORKS = {
    "tiny 2-2-2, n=1": ([2, 2, 2], 1),
    "small 8-32-1, n=128": ([8, 32, 1], 128),
    "medium 784-256-10, n=256": ([784, 256, 10], 256),
}


@pytest.mark.parametrize("impl", ["fastopt", "reference"])
@pytest.mark.parametrize("network", list(NETWORKS))
def test_loss_and_grad(benchmark, network, impl):
    sizes, n = NETWORKS[network]
    net = MLP(sizes, "relu", loss="mse")
    rng = np.random.default_rng(0)
    params = net.init(seed=0, dtype=np.float32)
    X = rng.standard_normal((n, sizes[0])).astype(np.float32)
    Y = rng.standard_normal((n, sizes[-1])).astype(np.float32)
    grad = np.empty_like(params)
    if impl == "fastopt":

        def run():
            return net.loss_and_grad(params, X, Y, out=grad)
    else:

        def run():
            return ref.mlp_loss_and_grad(net, params, X, Y)

    run()  # JIT compile (or load from cache) before timing
    benchmark.group = f"loss_and_grad {network}"
    benchmark.pedantic(
        run, rounds=200 if n < 256 else 30, iterations=20 if n < 256 else 1, warmup_rounds=3
    )
    loss, g = run()
    ref_loss, ref_grad = ref.mlp_loss_and_grad(net, params, X, Y)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-4)
