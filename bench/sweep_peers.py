"""Grid training throughput: fastopt.sweep against the NumPy reference, torch and JAX.

Run ``python -m bench.sweep_peers`` (``--quick`` for fewer steps, ``--workloads NAME ...`` for
some of them). Everything is measured in this one process, in run-steps per second (one
run-step = one forward + backward + optimizer step of one configuration), for the workloads of
``bench/sweep_workloads.py`` (the regression and classifier grids of issue 4; issue 14's wider,
deeper and digits grids):

- fastopt: ``fastopt.sweep`` (warm: compiled before timing);
- reference: the per-configuration loop over ``fastopt.reference`` (a few runs, same steps);
  these two are the cases of ``bench/test_sweep.py`` too, timed by the same
  ``bench.timing.measure`` (median of at least 3 rounds);
- scikit-learn: ``MLPRegressor`` / ``MLPClassifier`` (Adam), one configuration at a time;
- torch: all configurations batched, ``torch.bmm`` + autograd + a batched optimizer update;
- JAX: ``jax.vmap`` over configurations of a ``jax.lax.scan`` over steps, with optax
  (compile time reported apart).

The peers run once each (a torch grid takes seconds; they are not cases of the suite).

The digits grid is also trained end to end on both sides (``digits_sklearn``): fastopt's whole
optimizer x learning-rate grid in one ``fastopt.sweep`` with validation data, against one
``MLPClassifier`` fit per configuration (same network, batch size, epochs, no early stopping);
time per configuration and each side's best validation accuracy over the grid.

It also prints NumPy's sgemm rate (the useful-FLOP yardstick), time against the number of
configurations and the 2-thread speed-up. The start-up of a new process (an empty and a warm
Numba cache) is ``python -m bench.cold_start``; an A/B of the grid engine against another
checkout, ``python -m bench.grid_ab``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numba
import numpy as np

import fastopt
from bench import timing
from bench.sweep_workloads import (
    SGEMM_TARGET,
    SGEMM_WORKLOADS,
    WORKLOADS,
    Workload,
    fastopt_call,
    make,
    missing,
    reference_loop,
    regression,
)


def sgemm_gflops(n: int = 2048) -> float:
    """NumPy float32 matrix product rate, GFLOP/s (best of 5)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = a.T.copy()
    a @ b
    best = min(timing.timed(lambda: a @ b) for _ in range(5))
    return 2 * n**3 / best / 1e9


def _grid_runs(w: Workload) -> list[dict]:
    """The workload's configurations as dicts (optimizer, lr, seed)."""
    g = w.grid
    optimizers = g["optimizer"] if isinstance(g["optimizer"], list) else [g["optimizer"]]
    seeds = g.get("seed", [0])
    seeds = seeds if isinstance(seeds, list) else [seeds]
    return [dict(optimizer=o, lr=lr, seed=s) for o in optimizers for lr in g["lr"] for s in seeds]


# --- fastopt ---------------------------------------------------------------------------------
def _run_steps(result) -> float:
    return float(result["steps_done"].sum())


def fastopt_rate(w: Workload) -> tuple[float, float, fastopt.SweepResult]:
    """(run-steps/s, seconds, the grid's result) of the whole grid, counting the steps runs
    really took (``bench.timing.measure``: median of at least 3 rounds, after a compile on a
    small grid)."""
    warmup, run = fastopt_call(w)
    m = timing.measure(run, warmup=warmup)
    return _run_steps(m.result) / m.seconds, m.seconds, m.result


# --- the NumPy reference ---------------------------------------------------------------------
def reference_rate(w: Workload, n_runs: int = 4, steps: int = 100) -> float:
    """run-steps/s of the per-configuration loop over ``fastopt.reference``."""
    run, run_steps = reference_loop(w, n_runs=n_runs, steps=steps)
    return run_steps / timing.measure(run).seconds


# --- scikit-learn: one MLPRegressor / MLPClassifier per configuration -------------------------
def sklearn_rate(w: Workload, n_runs: int = 4, steps: int = 100) -> float | str:
    """run-steps/s of scikit-learn's MLP with Adam, one configuration at a time (it has no
    batched grid), same network, batch size and learning rates as the reference loop.
    """
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier, MLPRegressor
    except ImportError:
        return "not installed"
    import warnings

    n = w.X.shape[0]
    batch = w.grid.get("batch_size") or n
    epochs = max(1, -(-steps // (n // batch)))  # sklearn counts epochs, not steps
    classify = w.model.loss_name == "cross_entropy"
    lrs = w.grid["lr"][:: max(1, len(w.grid["lr"]) // n_runs)][:n_runs]
    y = w.Y if classify else w.Y[:, 0]
    total_steps = 0
    start = time.perf_counter()
    for lr in lrs:
        model = (MLPClassifier if classify else MLPRegressor)(
            hidden_layer_sizes=tuple(w.model.sizes[1:-1]), activation="relu", solver="adam",
            alpha=0.0, batch_size=batch, learning_rate_init=lr, max_iter=epochs, tol=0.0,
            n_iter_no_change=epochs + 1, shuffle=batch < n, random_state=0,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(w.X, y)
        total_steps += model.n_iter_ * -(-n // batch)
    return total_steps / (time.perf_counter() - start)


SKLEARN_SOLVERS = {
    "sgd": dict(solver="sgd", momentum=0.0, nesterovs_momentum=False),
    "momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
    "adam": dict(solver="adam", beta_1=0.9, beta_2=0.999, epsilon=1e-8),
}
"""fastopt's optimizer name -> ``MLPClassifier``'s arguments for the same update (fastopt's
"momentum" is torch's SGD with momentum 0.9: with a constant rate, the same steps as
scikit-learn's non-Nesterov momentum)."""


def _spread(n: int) -> list[int]:
    """``0 .. n-1`` in an order whose every prefix spreads over the range: 0, n-1, the
    middle, the quarters, ..."""
    order: list[int] = []
    k = 1
    while len(order) < n:
        for i in np.linspace(0, n - 1, k + 1).round().astype(int):
            if int(i) not in order:
                order.append(int(i))
        k *= 2
    return order


def digits_sklearn(w: Workload, max_seconds: float = 60.0) -> dict | str:
    """scikit-learn's side of the digits comparison: one ``MLPClassifier`` fit per
    configuration of ``w``'s grid (same network, batch size and epochs; no regularization, no
    early stopping, a constant rate, shuffled batches), each scored on the validation data.

    The fits run in an order whose every prefix spreads over the grid (each optimizer in
    turn, learning rates from the ends to the middle) and stop once ``max_seconds`` have
    passed: the figures then come from that subset ("fits" < "configs"). A fit whose weights
    became non-finite (scikit-learn refuses them) counts, with no accuracy.

    Returns
    -------
    dict or str
        configs, fits, seconds (all fits), per_config (seconds per fit), best (the best
        validation accuracy over the fits, 0..1), failed (fits that diverged); or why not.
    """
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return "not installed"
    runs = _grid_runs(w)
    n = w.X.shape[0]
    batch = w.grid["batch_size"]
    epochs = w.steps // (n // batch)
    order = [(o, lr, s) for i in _spread(len(w.grid["lr"])) for o in w.grid["optimizer"]
             for lr in [w.grid["lr"][i]] for s in w.grid.get("seed", [0])]  # fmt: skip
    seconds, accuracies, fits = 0.0, [], 0
    for optimizer, lr, seed in order:
        model = MLPClassifier(
            hidden_layer_sizes=tuple(w.model.sizes[1:-1]), activation="relu", alpha=0.0,
            batch_size=batch, learning_rate="constant", learning_rate_init=lr, max_iter=epochs,
            tol=0.0, n_iter_no_change=epochs + 1, shuffle=True, early_stopping=False,
            random_state=seed, **SKLEARN_SOLVERS[optimizer],
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning, overflow of a diverging run
            start = time.perf_counter()
            try:
                model.fit(w.X, w.Y)
                ok = True
            except ValueError:  # "Solver produced non-finite parameter weights"
                ok = False
            seconds += time.perf_counter() - start
        fits += 1
        if ok:
            accuracies.append(float(model.score(w.X_val, w.Y_val)))
        if seconds > max_seconds:
            break
    return dict(configs=len(runs), fits=fits, seconds=seconds, per_config=seconds / fits,
                best=max(accuracies, default=float("nan")),
                failed=fits - len(accuracies))  # fmt: skip


def digits_fastopt(w: Workload, seconds: float, result) -> dict:
    """fastopt's side of the digits comparison, from ``fastopt_rate``'s timing of ``w``."""
    accuracy = np.asarray(result["val_accuracy"], dtype=float)
    done = float(np.asarray(result["steps_done"]).sum()) / (w.n_runs * w.steps)
    return dict(name=w.name, configs=w.n_runs, steps=w.steps, val=len(w.Y_val),
                epochs=w.steps // (w.X.shape[0] // w.grid["batch_size"]),
                optimizers=list(w.grid["optimizer"]), n_lrs=len(w.grid["lr"]),
                fastopt_seconds=seconds, fastopt_per_config=seconds / w.n_runs,
                fastopt_best=float(np.nanmax(accuracy)) if np.isfinite(accuracy).any()
                else float("nan"), fastopt_steps_done=done)  # fmt: skip


def digits_compare(row: dict, sk: dict | str) -> None:
    """Put scikit-learn's side ``sk`` and the ratios into the digits comparison ``row``."""
    row["sklearn"] = sk
    if isinstance(sk, str):
        return
    row["speedup"] = sk["per_config"] / row["fastopt_per_config"]
    row["accuracy_gap"] = row["fastopt_best"] - sk["best"]  # NaN if a side never converged
    row["within"] = bool(abs(row["accuracy_gap"]) <= DIGITS_ACCURACY_GAP)


DIGITS_ACCURACY_GAP = 0.01
"""Equal best validation accuracy: within 1 point (issue 14)."""


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
        compile_seconds += timing.timed(lambda: jax.block_until_ready(fn(params, lrs)))  # noqa: B023
        total += timing.timed(lambda: jax.block_until_ready(fn(params, lrs)))  # noqa: B023
    return len(runs) * steps / total, compile_seconds


# --- scaling, threads, start-up ------------------------------------------------------------------
def scaling(steps: int, turns: int = 3) -> list[tuple[int, float]]:
    """Run-steps/s of the regression grid at 256 / 1024 / 4096 configurations, timed in turn
    (``bench.timing.interleaved``, ``turns`` turns)."""
    calls = {n: fastopt_call(regression(n_lrs=n, steps=steps)) for n in (256, 1024, 4096)}
    measured = timing.interleaved(
        {n: run for n, (_, run) in calls.items()},
        turns=turns,
        warmups={n: warmup for n, (warmup, _) in calls.items()},
    )
    return [(n, _run_steps(m.result) / m.seconds) for n, m in measured.items()]


def thread_speedup(w: Workload, turns: int = 3) -> tuple[float, float]:
    """Run-steps/s on 1 thread and on all of Numba's, timed in turn (``interleaved``)."""
    threads = numba.get_num_threads()
    warmup, run = fastopt_call(w)

    def on(n_threads):
        def call():
            numba.set_num_threads(n_threads)  # microseconds next to a grid
            return run()

        return call

    try:
        measured = timing.interleaved(
            {"one": on(1), "many": on(threads)}, turns=turns, warmups={"one": warmup}
        )
    finally:
        numba.set_num_threads(threads)
    one, many = (_run_steps(measured[k].result) / measured[k].seconds for k in ("one", "many"))
    return one, many


def measure(quick: bool, names: list[str] | None = None, sklearn_seconds: float = 60.0) -> dict:
    """Every figure this script prints: ``measure_fastopt``, then ``measure_peers``.

    Keys: sgemm (GFLOP/s); workloads, a list of dicts (key, name, runs, steps, rate, seconds,
    useful_gflops, sgemm_target, reference, sklearn, torch, jax, jax_compile; a peer that is
    missing holds "not installed"); digits (the end-to-end comparison, see
    ``measure_peers``; "not installed" without scikit-learn; absent when not asked for);
    skipped {name: why}; configs [(n, rate)]; threads (one, many, n).
    """
    measured = measure_fastopt(quick, names)
    measure_peers(measured, quick, sklearn_seconds)
    return measured


def measure_fastopt(quick: bool, names: list[str] | None = None) -> dict:
    """fastopt's own figures (everything but the peers' columns of ``measure``), on the
    workloads ``names`` (default: all of ``WORKLOADS``).

    Run these before any peer: torch's and JAX's thread pools keep spinning after they
    return and would slow what follows.
    """
    out = {"sgemm": sgemm_gflops(), "workloads": [], "skipped": {}}
    for name in names or list(WORKLOADS):
        try:
            w = make(name, quick)
        except ImportError as e:  # digits: the data comes with scikit-learn
            out["skipped"][name] = f"{missing(e)} not installed"
            if name == "digits":
                out["digits"] = "not installed"
            continue
        rate, seconds, result = fastopt_rate(w)
        out["workloads"].append(dict(
            key=w.key, name=w.name, runs=w.n_runs, steps=w.steps, rate=rate, seconds=seconds,
            useful_gflops=rate * w.flops_per_run_step() / 1e9,
            sgemm_target=w.key in SGEMM_WORKLOADS,
        ))  # fmt: skip
        if w.key == "digits":
            out["digits"] = digits_fastopt(w, seconds, result)
    # Long enough (256 configs: ~0.2 s) that the smallest grid is not all timer noise.
    out["configs"] = scaling(steps=100 if quick else 300)
    one, many = thread_speedup(regression(steps=100 if quick else 300))
    out["threads"] = dict(one=one, many=many, n=numba.get_num_threads())
    return out


def measure_peers(measured: dict, quick: bool, sklearn_seconds: float = 60.0) -> None:
    """Add the reference's and the peers' rates to ``measure_fastopt``'s workloads, and
    scikit-learn's side to the digits comparison (first: before torch and JAX run)."""
    peer_steps = 50 if quick else 100
    digits = measured.get("digits")
    if isinstance(digits, dict):
        digits_compare(digits, digits_sklearn(make("digits", quick), max_seconds=sklearn_seconds))
    for row in measured["workloads"]:
        w = make(row["key"], quick)
        row["reference"] = reference_rate(w, steps=peer_steps)
        row["sklearn"] = sklearn_rate(w, steps=peer_steps)
        row["torch"] = torch_rate(w, steps=peer_steps)
        jr = jax_rate(w, steps=peer_steps)
        row["jax"], row["jax_compile"] = (jr, None) if isinstance(jr, str) else jr


def digits_lines(d: dict | str) -> list[str]:
    """The digits comparison (``measure``'s "digits") in words, one line per side and one
    for the ratios."""
    if isinstance(d, str):
        return [f"digits grid against scikit-learn: scikit-learn {d}"]
    lines = [f"digits grid: {d['name']}: {d['configs']} configurations ({len(d['optimizers'])} "
             f"optimizers x {d['n_lrs']} learning rates), {d['epochs']} epochs = {d['steps']} "
             "steps each",
             f"  fastopt       {d['fastopt_seconds']:8.2f} s for the grid in one sweep "
             f"({d['fastopt_per_config'] * 1e3:.1f} ms per configuration; "
             f"{d['fastopt_steps_done'] * 100:.0f}% of the steps: diverged runs stop); best "
             f"validation accuracy {d['fastopt_best'] * 100:.1f}%"]  # fmt: skip
    sk = d["sklearn"]
    if isinstance(sk, str):
        return [*lines, f"  scikit-learn  {sk}"]
    subset = (f" (timed on {sk['fits']} of the {sk['configs']} configurations, spread over "
              "the grid, after the time budget; scaled per configuration)"
              if sk["fits"] < sk["configs"] else "")  # fmt: skip
    lines.append(f"  scikit-learn  {sk['seconds']:8.2f} s for {sk['fits']} MLPClassifier fits "
                 f"({sk['per_config'] * 1e3:.1f} ms per configuration{subset}; {sk['failed']} "
                 f"diverged); best validation accuracy {sk['best'] * 100:.1f}%")  # fmt: skip
    lines.append(f"  -> fastopt x{d['speedup']:.1f} per configuration; best accuracies "
                 f"{d['accuracy_gap'] * 100:+.1f} points apart: "
                 f"{'within' if d['within'] else 'NOT within'} 1 point")  # fmt: skip
    return lines


def print_measured(m: dict) -> None:
    """Print ``measure``'s figures."""
    print(f"NumPy sgemm 2048^3 float32: {m['sgemm']:.1f} GFLOP/s\n")
    for w in m["workloads"]:
        rate = w["rate"]
        target = f" (target >= {SGEMM_TARGET:.0f}%)" if w.get("sgemm_target") else ""
        print(f"== {w['name']}: {w['runs']} runs x {w['steps']} steps")
        print(f"  fastopt    {rate:12.0f} run-steps/s  ({w['seconds']:.2f} s; useful "
              f"{w['useful_gflops']:.1f} GFLOP/s = {w['useful_gflops'] / m['sgemm'] * 100:.0f}% "
              f"of sgemm{target})")  # fmt: skip
        print(f"  reference  {w['reference']:12.0f} run-steps/s  -> fastopt "
              f"x{rate / w['reference']:.1f}")  # fmt: skip
        for peer, label in (("sklearn", "sklearn"), ("torch", "torch bmm"), ("jax", "JAX vmap")):
            if isinstance(w[peer], str):
                print(f"  {label:10} {w[peer]}")
            else:
                extra = f"  (compile + first run {w['jax_compile']:.1f} s)" if peer == "jax" else ""
                print(f"  {label:10} {w[peer]:12.0f} run-steps/s  -> fastopt "
                      f"x{rate / w[peer]:.1f}{extra}")  # fmt: skip
    for name, why in m.get("skipped", {}).items():
        print(f"== {name}: skipped ({why})")
    if "digits" in m:
        print()
        print("\n".join(digits_lines(m["digits"])))
    print("\n== time against configurations (regression grid)")
    for n, rate in m["configs"]:
        print(f"  {n:5d} configs: {rate:10.0f} run-steps/s")
    t = m["threads"]
    print(f"\n== threads: 1 -> {t['one']:.0f}, {t['n']} -> {t['many']:.0f} run-steps/s "
          f"(x{t['many'] / t['one']:.2f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps everywhere")
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=None,
                        metavar="NAME", help="some of the workloads (default: all of "
                        f"{', '.join(WORKLOADS)})")  # fmt: skip
    parser.add_argument("--sklearn-seconds", type=float, default=60.0,
                        help="time budget of the digits grid's scikit-learn fits: past it, "
                        "the figures come from the fits done (default 60)")  # fmt: skip
    args = parser.parse_args()
    print(f"command: python -m bench.sweep_peers {' '.join(sys.argv[1:])}")
    print(f"threads: {numba.get_num_threads()}, numpy {np.__version__}, numba {numba.__version__}")
    print_measured(measure(args.quick, args.workloads, args.sklearn_seconds))


if __name__ == "__main__":
    main()
