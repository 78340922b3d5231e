"""Networks of the ``MLP.loss_and_grad`` benchmarks (issue 2), shared by ``bench/test_mlp.py``
and the report. Targets: >= 10x the reference on the tiny and small networks, parity (>= 1x)
on the medium one.
"""

import numpy as np

from fastopt import MLP
from fastopt.reference import mlp as ref

#: name -> (layer sizes, batch size, target speed-up over the reference)
NETWORKS = {
    "tiny 2-2-2, n=1": ([2, 2, 2], 1, 10.0),
    "small 8-32-1, n=128": ([8, 32, 1], 128, 10.0),
    "medium 784-256-10, n=256": ([784, 256, 10], 256, 1.0),
}


def loss_and_grad_calls(network: str):
    """``(fastopt_call, reference_call)``: zero-argument callables, each returning
    ``(loss, grad)`` for the same float32 network, parameters and data.
    """
    sizes, n, _ = NETWORKS[network]
    net = MLP(sizes, "relu", loss="mse")
    rng = np.random.default_rng(0)
    params = net.init(seed=0, dtype=np.float32)
    X = rng.standard_normal((n, sizes[0])).astype(np.float32)
    Y = rng.standard_normal((n, sizes[-1])).astype(np.float32)
    grad = np.empty_like(params)

    def fastopt_call():
        return net.loss_and_grad(params, X, Y, out=grad)

    def reference_call():
        return ref.mlp_loss_and_grad(net, params, X, Y)

    return fastopt_call, reference_call
