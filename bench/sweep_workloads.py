"""The grid engine's benchmark workloads (issues 4 and 14) and their cases, shared by the
pytest-benchmark suite (``bench/test_sweep.py``), ``bench/sweep_peers.py`` (the report) and
``bench/grid_ab.py`` (an A/B against another checkout), all timed by ``bench.timing.measure``.

(a) ``regression``: 8-32-1 ReLU MLP, 128 samples, full batch, Adam, 256 learning rates x 500
    steps.
(b) ``classifier``: a 2-hidden-layer classifier 16-32-32-4 on 512 samples, mini-batches of 32,
    4 optimizers x 64 learning rates x 4 seeds, 200 steps.
(c) ``wide32``, ``wide64``, ``wide128``: wider classifiers 32-W-W-10 on 1024 samples,
    mini-batches of 64, 4 optimizers x 16 learning rates x 4, 2, 1 seeds (256, 128, 64 runs:
    grids of 0.2-1.5 s on 2 threads), 100 steps.
(d) ``deep``: a deeper classifier 16-64-64-64-4 on 512 samples, mini-batches of 32,
    4 optimizers x 16 learning rates x 2 seeds, 200 steps.
(e) ``digits``: scikit-learn's handwritten digits (1440 training, 357 validation images of
    8 x 8 pixels, 10 classes), 64-100-10 (``MLPClassifier``'s default hidden layer),
    mini-batches of 32 (45 per epoch), the optimizers ``MLPClassifier`` has too (sgd, momentum,
    adam) x 8 learning rates, 20 epochs; validation accuracy per run. Needs scikit-learn (for
    the data): without it ``make("digits")`` raises ``ImportError``.

``WORKLOADS`` names them all (the names ``--workloads`` takes), ``make`` builds one, full size
or ``quick`` (fewer steps: the report's ``--quick``).
"""

from dataclasses import dataclass, field
from functools import partial

import numpy as np

import fastopt
from fastopt import MLP, batch_indices, reference


@dataclass
class Workload:
    """One grid: model, data and the sweep's keyword arguments."""

    name: str
    model: MLP
    X: np.ndarray
    Y: np.ndarray
    grid: dict = field(default_factory=dict)
    X_val: np.ndarray | None = None
    Y_val: np.ndarray | None = None

    @property
    def key(self) -> str:
        """The workload's name in ``WORKLOADS`` (its name's first word)."""
        return self.name.split(" ")[0]

    @property
    def n_runs(self) -> int:
        n = 1
        for value in self.grid.values():
            n *= len(value) if isinstance(value, list) else 1
        return n

    @property
    def steps(self) -> int:
        return self.grid["steps"]

    def flops_per_run_step(self) -> float:
        """Multiply-adds x 2 of one forward + backward over the batch (no activations)."""
        sizes = self.model.sizes
        batch = self.grid.get("batch_size") or self.X.shape[0]
        products = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        input_grads = sum(a * b for a, b in zip(sizes[1:-1], sizes[2:], strict=True))
        return 2.0 * batch * (2 * products + input_grads)


def regression(n_lrs: int = 256, steps: int = 500) -> Workload:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, 8)).astype(np.float32)
    Y = (np.sin(X[:, :1]) + 0.5 * X[:, 1:2] * X[:, 2:3]).astype(np.float32)
    lrs = [float(v) for v in np.geomspace(1e-4, 1e-1, n_lrs)]
    return Workload("regression 8-32-1 full batch, Adam", MLP([8, 32, 1], "relu"), X, Y,
                    dict(optimizer="adam", lr=lrs, steps=steps))  # fmt: skip


def classifier(n_lrs: int = 64, n_seeds: int = 4, steps: int = 200) -> Workload:
    rng = np.random.default_rng(1)
    centers = rng.standard_normal((4, 16)) * 2
    labels = rng.integers(0, 4, size=512)
    X = (centers[labels] + rng.standard_normal((512, 16))).astype(np.float32)
    lrs = [float(v) for v in np.geomspace(1e-4, 1.0, n_lrs)]
    model = MLP([16, 32, 32, 4], "relu", loss="cross_entropy")
    grid = dict(optimizer=["sgd", "momentum", "rmsprop", "adam"], lr=lrs,
                seed=list(range(n_seeds)), batch_size=32, steps=steps)  # fmt: skip
    return Workload("classifier 16-32-32-4, batch 32, 4 optimizers", model, X, labels, grid)


OPTIMIZERS = ["sgd", "momentum", "rmsprop", "adam"]


def _clusters(seed: int, n: int, n_in: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples of ``n_classes`` Gaussian clusters in ``n_in`` dimensions (as
    ``classifier``'s): inputs (float32) and integer labels."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_classes, n_in)) * 2
    labels = rng.integers(0, n_classes, size=n)
    return (centers[labels] + rng.standard_normal((n, n_in))).astype(np.float32), labels


def wide_classifier(width: int, n_lrs: int = 16, n_seeds: int = 2, steps: int = 100) -> Workload:
    """A wider classifier: 32-``width``-``width``-10 on 1024 samples, batch 64."""
    X, labels = _clusters(2, 1024, 32, 10)
    lrs = [float(v) for v in np.geomspace(1e-4, 1.0, n_lrs)]
    model = MLP([32, width, width, 10], "relu", loss="cross_entropy")
    grid = dict(optimizer=OPTIMIZERS, lr=lrs, seed=list(range(n_seeds)), batch_size=64,
                steps=steps)  # fmt: skip
    return Workload(f"wide{width} 32-{width}-{width}-10, batch 64, 4 optimizers", model, X,
                    labels, grid)  # fmt: skip


def deep_classifier(n_lrs: int = 16, n_seeds: int = 2, steps: int = 200) -> Workload:
    """A deeper classifier: 16-64-64-64-4 (3 hidden layers) on 512 samples, batch 32."""
    X, labels = _clusters(3, 512, 16, 4)
    lrs = [float(v) for v in np.geomspace(1e-4, 1.0, n_lrs)]
    model = MLP([16, 64, 64, 64, 4], "relu", loss="cross_entropy")
    grid = dict(optimizer=OPTIMIZERS, lr=lrs, seed=list(range(n_seeds)), batch_size=32,
                steps=steps)  # fmt: skip
    return Workload("deep 16-64-64-64-4, batch 32, 4 optimizers", model, X, labels, grid)


DIGITS_OPTIMIZERS = ["sgd", "momentum", "adam"]
"""The optimizers ``MLPClassifier`` has too (``sweep_peers.SKLEARN_SOLVERS`` maps them)."""

DIGITS_TRAIN = 1440
"""Training images: 45 mini-batches of 32 per epoch, none dropped (fastopt drops an epoch's
incomplete batch, scikit-learn trains on it: with a multiple of the batch both take the same
steps). The other 357 of the 1797 validate."""


def digits(n_lrs: int = 8, epochs: int = 20, hidden: int = 100, batch_size: int = 32) -> Workload:
    """scikit-learn's digits, one hidden layer, ``epochs`` epochs of mini-batches, the
    optimizers ``MLPClassifier`` has x ``n_lrs`` learning rates (seed 0); validation data in
    ``X_val``/``Y_val``. Raises ``ImportError`` without scikit-learn."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)  # pixels 0..16
    order = np.random.default_rng(0).permutation(len(X))
    train, val = order[:DIGITS_TRAIN], order[DIGITS_TRAIN:]
    lrs = [float(v) for v in np.geomspace(1e-3, 0.3, n_lrs)]
    model = MLP([64, hidden, 10], "relu", loss="cross_entropy")
    steps = epochs * (DIGITS_TRAIN // batch_size)
    grid = dict(optimizer=DIGITS_OPTIMIZERS, lr=lrs, seed=[0], batch_size=batch_size,
                steps=steps)  # fmt: skip
    return Workload(f"digits 64-{hidden}-10, batch {batch_size}, {epochs} epochs, "
                    f"{len(DIGITS_OPTIMIZERS)} optimizers", model, X[train], y[train], grid,
                    X_val=X[val], Y_val=y[val])  # fmt: skip


WORKLOADS = {
    "regression": regression,
    "classifier": classifier,
    "wide32": partial(wide_classifier, 32, n_seeds=4),
    "wide64": partial(wide_classifier, 64, n_seeds=2),
    "wide128": partial(wide_classifier, 128, n_seeds=1),
    "deep": deep_classifier,
    "digits": digits,
}
"""Every workload by name (each ``Workload.key`` is its name here)."""

QUICK = {"regression": dict(steps=100), "classifier": dict(steps=50), "wide32": dict(steps=30),
         "wide64": dict(steps=30), "wide128": dict(steps=30), "deep": dict(steps=50),
         "digits": dict(epochs=5)}  # fmt: skip
"""The smaller grids of ``--quick``."""

SGEMM_WORKLOADS = ("regression", "classifier")
"""Where the useful FLOP rate has a target (a % of sgemm): issue 14's (a) and (b)."""

SGEMM_TARGET = 50.0
"""That target: useful FLOP/s >= this % of NumPy's sgemm rate (issue 14; the report held 60%
before)."""


def missing(e: ImportError) -> str:
    """The distribution an ``ImportError`` misses (scikit-learn for ``sklearn.*``)."""
    root = (e.name or "a package").split(".")[0]
    return {"sklearn": "scikit-learn"}.get(root, root)


def make(name: str, quick: bool = False) -> Workload:
    """The workload ``name`` of ``WORKLOADS``, full size or ``quick``."""
    return WORKLOADS[name](**(QUICK[name] if quick else {}))


def fastopt_call(w: Workload):
    """``(warmup, run)``: zero-argument callables. ``warmup`` compiles (or loads from the
    cache) the kernels the grid needs on a 2-run, 2-step grid; ``run`` trains the whole grid
    and returns its ``SweepResult`` (count run-steps with ``steps_done``: runs that diverge
    stop early). A workload with validation data (``digits``) passes it to both.
    """
    small = {**w.grid, "lr": w.grid["lr"][:2], "steps": 2}
    val = {} if w.X_val is None else dict(X_val=w.X_val, Y_val=w.Y_val)

    def warmup():
        fastopt.sweep(w.model, w.X, w.Y, progress=False, **small, **val)

    def run():
        return fastopt.sweep(w.model, w.X, w.Y, progress=False, **w.grid, **val)

    return warmup, run


def reference_loop(w: Workload, n_runs: int = 4, steps: int = 100):
    """The per-configuration loop over ``fastopt.reference`` (Adam) for a few of the grid's
    learning rates: ``(run, run_steps)``, a zero-argument callable and the run-steps it does.
    (It trains all ``steps`` of each, diverging or not: NumPy's warnings are off meanwhile.)
    """
    net, layout = w.model, w.model.layout
    batches = batch_indices(w.X.shape[0], w.grid.get("batch_size"), 0, steps)
    lrs = w.grid["lr"][:: max(1, len(w.grid["lr"]) // n_runs)][:n_runs]

    def run():
        with np.errstate(all="ignore"):  # a large rate may diverge: inf and NaN, not errors
            for lr in lrs:
                named = {k: v.copy() for k, v in layout.views(net.init(seed=0)).items()}
                opt = reference.Adam(lr=lr)
                state = opt.init(named)
                for t in range(steps):
                    rows = batches[t]
                    flat = layout.pack(named, dtype=np.float32)
                    _, grad = reference.mlp_loss_and_grad(net, flat, w.X[rows], w.Y[rows])
                    opt.step(named, layout.views(grad), state)

    return run, len(lrs) * steps
