"""The vectorizable elementary functions of ``fastopt._kernels.elementary``."""

import math

import numpy as np
import pytest

from fastopt._kernels.elementary import LOWEST_FLOAT32, exp_nonpositive_array


def _ulps(value: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|value - exact| in units of the float32 spacing at ``exact``."""
    return np.abs(value.astype(np.float64) - exact) / np.spacing(exact.astype(np.float32))


def test_float32_exp_within_one_ulp_over_its_range():
    x = np.concatenate([-np.geomspace(1e-9, -LOWEST_FLOAT32, 100_000),
                        np.linspace(LOWEST_FLOAT32, 0.0, 100_001)]).astype(np.float32)  # fmt: skip
    out = np.empty_like(x)
    exp_nonpositive_array(x, out)
    assert out.dtype == np.float32
    # Cephes' expf is within 1 ulp; NumPy's float32 exp is within 2.5 here.
    assert _ulps(out, np.exp(x.astype(np.float64))).max() <= 1.0


def test_float32_exp_edges():
    x = np.array([0.0, -0.0, np.nan, -np.inf, -100.0, LOWEST_FLOAT32], dtype=np.float32)
    out = np.empty_like(x)
    exp_nonpositive_array(x, out)
    assert out[0] == 1.0 and out[1] == 1.0
    assert np.isnan(out[2])  # divergence detection relies on NaN propagating
    assert out[3] == 0.0 and out[4] == 0.0  # below the normal range: 0, never subnormal
    assert 1.17e-38 < out[5] < 1.2e-38


@pytest.mark.parametrize("x", [np.linspace(-700.0, 0.0, 1001), np.array([np.nan, -np.inf])])
def test_float64_is_libm_exp(x):
    out = np.empty_like(x)
    exp_nonpositive_array(x, out)
    np.testing.assert_array_equal(out, [math.exp(v) for v in x])
