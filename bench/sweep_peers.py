"""Grid training throughput: fastopt.sweep against the NumPy reference, torch and JAX.

Run ``python -m bench.sweep_peers`` (``--quick`` for fewer steps). Everything is measured in
this one process, in run-steps per second (one run-step = one forward + backward + optimizer
step of one configuration), for the two workloads of ``bench/sweep_workloads.py``:

- fastopt: ``fastopt.sweep`` (warm: compiled before timing);
- reference: the per-configuration loop over ``fastopt.reference`` (a few runs, same steps);
- torch: all configurations batched, ``torch.bmm`` + autograd + a batched optimizer update;
- JAX: ``jax.vmap`` over configurations of a ``jax.lax.scan`` over steps, with optax
  (compile time reported apart).

It also prints NumPy's sgemm rate (the useful-FLOP yardstick), time against the number of
configurations, the 2-thread speed-up and the warm-cache start-up of a new process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault(
    "NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".numba_cache")
)

import numba  # noqa: E402
import numpy as np  # noqa: E402

import fastopt  # noqa: E402
from bench.sweep_workloads import (  # noqa: E402
    Workload,
    classifier,
    reference_loop,
    regression,
)


def sgemm_gflops(n: int = 2048) -> float:
    """NumPy float32 matrix product rate, GFLOP/s (best of 5)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = a.T.copy()
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(5))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _grid_runs(w: Workload) -> list[dict]:
    """The workload's configurations as dicts (optimizer, lr, seed)."""
    g = w.grid
    optimizers = g["optimizer"] if isinstance(g["optimizer"], list) else [g["optimizer"]]
    seeds = g.get("seed", [0])
    seeds = seeds if isinstance(seeds, list) else [seeds]
    return [dict(optimizer=o, lr=lr, seed=s) for o in optimizers for lr in g["lr"] for s in seeds]


# --- fastopt ---------------------------------------------------------------------------------
def fastopt_rate(w: Workload) -> tuple[float, float]:
    """(run-steps/s, seconds) of the whole grid, counting the steps runs really took."""
    small = {**w.grid, "lr": w.grid["lr"][:2], "steps": 2}
    fastopt.sweep(w.model, w.X, w.Y, progress=False, **small)  # compile / load the cache
    start = time.perf_counter()
    result = fastopt.sweep(w.model, w.X, w.Y, progress=False, **w.grid)
    seconds = time.perf_counter() - start
    return float(result["steps_done"].sum()) / seconds, seconds


# --- the NumPy reference ---------------------------------------------------------------------
def reference_rate(w: Workload, n_runs: int = 4, steps: int = 100) -> float:
    """run-steps/s of the per-configuration loop over ``fastopt.reference``."""
    run, run_steps = reference_loop(w, n_runs=n_runs, steps=steps)
    return run_steps / _timed(run)


# --- torch: every configuration batched --------------------------------------------------------
def torch_rate(w: Workload, steps: int = 100) -> float | str:
    try:
        import torch
    except ImportError:
        return "not installed"
    torch.set_num_threads(numba.get_num_threads())
    runs = _grid_runs(w)
    sizes = w.model.sizes
    layers = []
    for i in range(len(sizes) - 1):
        W = np.stack(
            [w.model.layout.views(w.model.init(seed=r["seed"]))[f"W{i + 1}"] for r in runs]
        )
        layers.append(torch.tensor(W, requires_grad=True))
        layers.append(torch.zeros((len(runs), 1, sizes[i + 1]), requires_grad=True))
    lr = torch.tensor([r["lr"] for r in runs], dtype=torch.float32)
    names = [r["optimizer"] for r in runs]
    X = torch.from_numpy(w.X)
    classifier_loss = w.model.loss_name == "cross_entropy"
    Y = torch.from_numpy(w.Y)
    state = [{"m": torch.zeros_like(p), "v": torch.zeros_like(p)} for p in layers]
    batch = w.grid.get("batch_size")
    batches = torch.from_numpy(fastopt.batch_indices(w.X.shape[0], batch, 0, steps))

    def loss_fn(rows):
        h = X[rows].expand(len(runs), -1, -1)
        for i in range(0, len(layers), 2):
            h = torch.baddbmm(layers[i + 1], h, layers[i].transpose(1, 2))
            if i < len(layers) - 2:
                h = torch.relu(h)
        if classifier_loss:
            logp = torch.log_softmax(h, dim=2)
            target = Y[rows].expand(len(runs), -1).unsqueeze(2)
            return -logp.gather(2, target).mean(dim=(1, 2)).sum()
        return ((h - Y[rows]) ** 2).mean(dim=(1, 2)).sum()

    kinds = {name: torch.tensor([n == name for n in names]) for name in set(names)}

    def step(t):
        loss = loss_fn(batches[t])
        grads = torch.autograd.grad(loss, layers)
        with torch.no_grad():
            for p, g, s in zip(layers, grads, state, strict=True):
                shape = (-1,) + (1,) * (p.dim() - 1)
                rate = lr.view(shape)
                update = torch.zeros_like(p)
                if "adam" in kinds:
                    s["m"].mul_(0.9).add_(g, alpha=0.1)
                    s["v"].mul_(0.999).addcmul_(g, g, value=0.001)
                    adam = (s["m"] / (1 - 0.9 ** (t + 1))) / (
                        (s["v"] / (1 - 0.999 ** (t + 1))).sqrt() + 1e-8
                    )
                    update = torch.where(kinds["adam"].view(shape), adam, update)
                if "rmsprop" in kinds:
                    sq = torch.where(
                        kinds["rmsprop"].view(shape), s["v"] * 0.99 + 0.01 * g * g, s["v"]
                    )
                    s["v"].copy_(sq)
                    update = torch.where(
                        kinds["rmsprop"].view(shape), g / (sq.sqrt() + 1e-8), update
                    )
                if "momentum" in kinds:
                    buf = torch.where(kinds["momentum"].view(shape), s["m"] * 0.9 + g, s["m"])
                    s["m"].copy_(buf)
                    update = torch.where(kinds["momentum"].view(shape), buf, update)
                if "sgd" in kinds:
                    update = torch.where(kinds["sgd"].view(shape), g, update)
                p.sub_(rate * update)

    step(0)
    start = time.perf_counter()
    for t in range(1, steps):
        step(t)
    return len(runs) * (steps - 1) / (time.perf_counter() - start)


# --- JAX: vmap over configurations of a scan over steps ---------------------------------------
def jax_rate(w: Workload, steps: int = 100) -> tuple[float, float] | str:
    """(run-steps/s, compile + first run seconds), or why not."""
    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError:
        return "not installed"
    runs = _grid_runs(w)
    sizes = w.model.sizes
    classifier_loss = w.model.loss_name == "cross_entropy"
    batches = jnp.asarray(fastopt.batch_indices(w.X.shape[0], w.grid.get("batch_size"), 0, steps))
    X, Y = jnp.asarray(w.X), jnp.asarray(w.Y)
    makers = {"sgd": optax.sgd, "momentum": lambda lr: optax.sgd(lr, momentum=0.9),
              "rmsprop": lambda lr: optax.rmsprop(lr, decay=0.99, eps=1e-8),
              "adam": optax.adam}  # fmt: skip

    def init(seed):
        views = w.model.layout.views(w.model.init(seed=seed))
        return [(jnp.asarray(views[f"W{i}"]), jnp.asarray(views[f"b{i}"]))
                for i in range(1, len(sizes))]  # fmt: skip

    def loss_fn(params, rows):
        h = X[rows]
        for i, (W, b) in enumerate(params):
            h = h @ W.T + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        if classifier_loss:
            logp = jax.nn.log_softmax(h)
            return -jnp.mean(jnp.take_along_axis(logp, Y[rows][:, None], axis=1))
        return jnp.mean((h - Y[rows]) ** 2)

    def train_group(name):
        def train_one(params, lr):
            opt = makers[name](lr)

            def body(carry, rows):
                p, s = carry
                loss, g = jax.value_and_grad(loss_fn)(p, rows)
                updates, s = opt.update(g, s, p)
                return (optax.apply_updates(p, updates), s), loss

            (p, _), losses = jax.lax.scan(body, (params, opt.init(params)), batches[:steps])
            return p, losses

        return jax.jit(jax.vmap(train_one))

    groups = {}
    for r in runs:
        groups.setdefault(r["optimizer"], []).append(r)
    compile_seconds = 0.0
    total = 0.0
    for name, members in groups.items():
        params = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs),
                                        *[init(r["seed"]) for r in members])  # fmt: skip
        lrs = jnp.asarray([r["lr"] for r in members], dtype=jnp.float32)
        fn = train_group(name)
        compile_seconds += _timed(lambda: jax.block_until_ready(fn(params, lrs)))  # noqa: B023
        total += _timed(lambda: jax.block_until_ready(fn(params, lrs)))  # noqa: B023
    return len(runs) * steps / total, compile_seconds


# --- scaling, threads, start-up ------------------------------------------------------------------
def scaling(steps: int) -> list[tuple[int, float]]:
    out = []
    for n in (256, 1024, 4096):
        w = regression(n_lrs=n, steps=steps)
        out.append((n, fastopt_rate(w)[0]))
    return out


def thread_speedup(w: Workload) -> tuple[float, float]:
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    one = fastopt_rate(w)[0]
    numba.set_num_threads(threads)
    return one, fastopt_rate(w)[0]


STARTUP = """
import time
start = time.perf_counter()
import numpy as np
import fastopt
X = np.random.default_rng(0).standard_normal((32, 2)).astype(np.float32)
Y = X[:, :1] * 2
fastopt.sweep(fastopt.MLP([2, 8, 1]), X, Y, optimizer="adam", lr=[0.01, 0.1], steps=20)
print(time.perf_counter() - start)
"""


def startup_seconds() -> float:
    """Import + first small sweep in a new process, warm Numba cache (second of two runs)."""
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True,
                              check=True, env=dict(os.environ))  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps everywhere")
    args = parser.parse_args()
    print(f"command: python -m bench.sweep_peers {' '.join(sys.argv[1:])}")
    print(f"threads: {numba.get_num_threads()}, numpy {np.__version__}, numba {numba.__version__}")
    steps_a, steps_b = (100, 50) if args.quick else (500, 200)
    peer_steps = 50 if args.quick else 100
    workloads = [regression(steps=steps_a), classifier(steps=steps_b)]
    # fastopt first: torch's and JAX's thread pools keep spinning after they return.
    gemm = sgemm_gflops()
    ours = [fastopt_rate(w) for w in workloads]
    scaled = scaling(steps=50 if args.quick else 100)
    one, many = thread_speedup(regression(steps=100 if args.quick else 300))
    startup = startup_seconds()
    print(f"NumPy sgemm 2048^3 float32: {gemm:.1f} GFLOP/s\n")
    for w, (rate, seconds) in zip(workloads, ours, strict=True):
        print(f"== {w.name}: {w.n_runs} runs x {w.steps} steps")
        useful = rate * w.flops_per_run_step() / 1e9
        print(f"  fastopt    {rate:12.0f} run-steps/s  ({seconds:.2f} s; useful {useful:.1f} "
              f"GFLOP/s = {useful / gemm * 100:.0f}% of sgemm)")  # fmt: skip
        ref = reference_rate(w, steps=peer_steps)
        print(f"  reference  {ref:12.0f} run-steps/s  -> fastopt x{rate / ref:.1f}")
        tr = torch_rate(w, steps=peer_steps)
        if isinstance(tr, str):
            print(f"  torch      {tr}")
        else:
            print(f"  torch bmm  {tr:12.0f} run-steps/s  -> fastopt x{rate / tr:.1f}")
        jr = jax_rate(w, steps=peer_steps)
        if isinstance(jr, str):
            print(f"  JAX        {jr}")
        else:
            print(f"  JAX vmap   {jr[0]:12.0f} run-steps/s  -> fastopt x{rate / jr[0]:.1f}  "
                  f"(compile + first run {jr[1]:.1f} s)")  # fmt: skip
    print("\n== time against configurations (regression grid)")
    for n, rate in scaled:
        print(f"  {n:5d} configs: {rate:10.0f} run-steps/s")
    print(f"\n== threads: 1 -> {one:.0f}, {numba.get_num_threads()} -> {many:.0f} run-steps/s "
          f"(x{many / one:.2f})")  # fmt: skip
    print(f"\n== start-up, new process, warm cache: {startup:.2f} s")


if __name__ == "__main__":
    main()
