"""``MLP.loss_and_grad`` against ``fastopt.reference``, float32.

Run: ``pytest bench/test_mlp.py``. The ratio table at the end divides the reference's median
by fastopt's, from the same run. Targets (issue 2, in ``bench/mlp_cases.py``): >= 10x the
reference on the tiny and small networks, parity on the medium one. The cases and their
timing (``bench.timing.measure``) are the report's.
"""

import numpy as np
import pytest

from bench.mlp_cases import NETWORKS, loss_and_grad_calls
from bench.timing import measure


@pytest.mark.parametrize("impl", ["fastopt", "reference"])
@pytest.mark.parametrize(
    "network",
    [pytest.param(network, marks=pytest.mark.benchmark(group=f"loss_and_grad {network}"))
     for network in NETWORKS],
)  # fmt: skip
def test_loss_and_grad(benchmark, network, impl):
    ours, reference = loss_and_grad_calls(network)
    loss, grad = measure(ours if impl == "fastopt" else reference, benchmark).result
    ref_loss, ref_grad = reference()
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-4)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-3, atol=1e-5)
