"""Small synthetic data sets, generated from a seed (nothing is downloaded).

Each function returns ``(X, Y)`` as float64 ``X`` of shape (n, d) and targets: float ``Y``
(n, m) for regression, integer labels (n,) for classification. :data:`DATASETS` names them
for configuration files.
"""

from __future__ import annotations

import numpy as np


def linear(n: int = 1000, *, w=(2.0, -3.4), b: float = 4.2, noise: float = 0.01, seed: int = 0):
    """d2l's synthetic linear regression: ``y = X @ w + b + noise``, X ~ N(0, 1).

    The assignment's optimizer comparison (SEED.md, Q4) uses this as its toy problem: with the
    defaults the initial MSE of a zero model is about 30.

    Returns
    -------
    X : ndarray of shape (n, len(w))
    Y : ndarray of shape (n, 1)
    """
    rng = np.random.default_rng(seed)
    w = np.asarray(w, dtype=np.float64)
    X = rng.standard_normal((n, w.size))
    Y = X @ w + b + noise * rng.standard_normal(n)
    return X, Y[:, None]


def spirals(n: int = 600, *, classes: int = 3, noise: float = 0.2, seed: int = 0):
    """Interleaved 2-D spirals, one per class: a small problem a linear model cannot solve.

    Returns
    -------
    X : ndarray of shape (n, 2)
    y : ndarray of shape (n,), int64 labels in ``[0, classes)``
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    radius = rng.uniform(0.1, 1.0, n)
    angle = 4.0 * radius + 2 * np.pi * y / classes + noise * rng.standard_normal(n)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return X, y.astype(np.int64)


def blobs(n: int = 600, *, classes: int = 4, features: int = 16, spread: float = 1.0,
          seed: int = 0):  # fmt: skip
    """Gaussian clusters around random centres, one per class.

    Returns
    -------
    X : ndarray of shape (n, features)
    y : ndarray of shape (n,), int64 labels in ``[0, classes)``
    """
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.standard_normal((classes, features))
    y = rng.integers(0, classes, size=n)
    return centres[y] + spread * rng.standard_normal((n, features)), y.astype(np.int64)


DATASETS = {"linear": linear, "spirals": spirals, "blobs": blobs}
"""Data sets by name."""
