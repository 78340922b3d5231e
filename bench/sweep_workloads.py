"""The grid engine's benchmark workloads (issue 4) and their cases, shared by the
pytest-benchmark suite (``bench/test_sweep.py``) and ``bench/sweep_peers.py`` (the report),
both timed by ``bench.timing.measure``.

(a) ``regression``: 8-32-1 ReLU MLP, 128 samples, full batch, Adam, 256 learning rates x 500
    steps.
(b) ``classifier``: a 2-hidden-layer classifier 16-32-32-4 on 512 samples, mini-batches of 32,
    4 optimizers x 64 learning rates x 4 seeds, 200 steps.
"""

from dataclasses import dataclass, field

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


def fastopt_call(w: Workload):
    """``(warmup, run)``: zero-argument callables. ``warmup`` compiles (or loads from the
    cache) the kernels the grid needs on a 2-run, 2-step grid; ``run`` trains the whole grid
    and returns its ``SweepResult`` (count run-steps with ``steps_done``: runs that diverge
    stop early).
    """
    small = {**w.grid, "lr": w.grid["lr"][:2], "steps": 2}

    def warmup():
        fastopt.sweep(w.model, w.X, w.Y, progress=False, **small)

    def run():
        return fastopt.sweep(w.model, w.X, w.Y, progress=False, **w.grid)

    return warmup, run


def reference_loop(w: Workload, n_runs: int = 4, steps: int = 100):
    """The per-configuration loop over ``fastopt.reference`` (Adam) for a few of the grid's
    learning rates: ``(run, run_steps)``, a zero-argument callable and the run-steps it does.
    """
    net, layout = w.model, w.model.layout
    batches = batch_indices(w.X.shape[0], w.grid.get("batch_size"), 0, steps)
    lrs = w.grid["lr"][:: max(1, len(w.grid["lr"]) // n_runs)][:n_runs]

    def run():
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
