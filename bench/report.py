"""One command for every headline benchmark: ``python -m bench.report`` (or ``fastopt bench``).

In one process and a fixed order (each measurement warms up first) it measures the machine's
limits (a STREAM-like triad, NumPy's sgemm), ``MLP.loss_and_grad`` against the reference, the
grid engine's workloads (issue 4's regression and classifier grids, issue 14's wider, deeper
and digits grids; with scaling in configurations and threads, and the cost of scale), the
start-up of new processes with an empty and a warm Numba cache
(``bench/cold_start.py``: ``fastopt compare``, a first Adam step with GC, import + step +
sweep), every fused optimizer step (issue 3's six and issue 15's eight, each first checked
against its reference on a small case) with and without GC at three sizes and on ResNet-18's
62 tensors, ``fastopt.torch`` against ``torch.optim`` on ResNet-18 and a 12-block transformer
(``bench/torch_optim.py``), and last the peers (the NumPy reference, scikit-learn, torch,
JAX) on the grid workloads, the digits grid's scikit-learn fits first: torch's and JAX's
thread pools keep spinning after they return, which would slow what follows. (The optimizer
steps take turns with torch's, as the ratios there need.)

It writes ``BENCHMARKS.md`` (machine, versions, date, the exact command, every target from the
optimizer, MLP, grid, scale and start-up issues next to its measured figure),
``BENCHMARKS.png`` (a bar chart of the ratios, and every target's attainment but the optimizer
steps') and ``BENCHMARKS-optimizers.png`` (the optimizer steps' figures and targets, one row
per optimizer). A full run took 6 minutes on 2 cores before issue 15 (2 of them the start-up
section's empty-cache runs); issue 15's eight optimizers add about 4 to the optimizer section
(estimated from single-optimizer runs: about 30 s each at N = 1e7 and on ResNet-18, where
their NumPy reference takes most of it), so about 10-11. ``--quick`` (grids of fewer steps, a
smaller scale grid, one warm run per start-up job; the same optimizer cases) takes about 4
less and writes to ``bench-out/`` unless ``--out`` says otherwise, so that the committed
report is always a full run. The optimizer section alone: ``python -m bench.optim_bandwidth``
(``--optimizers``, ``--cases`` to narrow it).

The fine-grained suite stays ``pytest bench/`` (pytest-benchmark, grouped by kernel); it uses
the same cases (``bench/optim_cases.py``, ``mlp_cases.py``, ``sweep_workloads.py``), timed by
the same function (``bench.timing.measure``: one method, see ``bench/timing.py``).

An optimizer step's "% of bound" divides the time of a streaming kernel with the step's own
reads and writes (``bench/stream_bound.py``: p, g and each state buffer read, p and each
buffer written; same chunks, same threads), timed in turn with the step, by the step's time:
a bound the step can reach and not pass. Lookahead's slow weights (and Ranger's), read and
written once in k steps by a chunk epilogue while the chunk's p is in cache, count as one
read and one write stream over k steps; those steps and their bound are timed one period of
k steps a call (``bench/stream_bound.py`` says what is counted and what is not). The triad
stays, as the machine's yardstick.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

import fastopt
from bench import cold_start, optim_bandwidth, sweep_peers, sweep_scale, torch_optim
from bench.mlp_cases import NETWORKS, loss_and_grad_calls
from bench.optim_cases import (
    CASES,
    ISSUE_15,
    NO_TORCH,
    OPTIMIZERS,
    RESNET18_LABEL,
    RESNET18_SIZE,
    RESNET18_TENSORS,
    SIZES,
)
from bench.optim_cases import label as case_label
from bench.sweep_workloads import SGEMM_TARGET, SGEMM_WORKLOADS
from bench.timing import interleaved
from fastopt.plot import pyplot, save

CHECKOUT = Path(__file__).resolve().parent.parent
PACKAGES = ["fastopt", "numpy", "numba", "scipy", "matplotlib", "torch", "jax", "jaxlib", "optax",
            "scikit-learn", "dask", "distributed"]  # fmt: skip
PEERS = {"sklearn": "scikit-learn MLP", "torch": "torch bmm", "jax": "JAX vmap+scan"}


# --- the machine --------------------------------------------------------------------------
def machine() -> dict:
    """CPU, cores, memory, OS, Python, BLAS, Numba threads and the checkout's commit."""
    cpu = platform.processor() or platform.machine()
    virtual = False
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                virtual = " hypervisor" in line  # the CPUs are a VM's: shared with others
    except OSError:
        pass
    if virtual:
        cpu += " (virtual machine)"
    memory = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    blas = "unknown"
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:  # older NumPy has no mode="dicts": the BLAS line is only informative
        pass
    commit = "unknown"
    try:
        commit = subprocess.run(
            ["git", "-C", str(CHECKOUT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(CHECKOUT), "status", "--porcelain", "--", "fastopt", "bench"],
            capture_output=True,
            text=True,
        ).stdout
        commit += " (with uncommitted changes)" if dirty.strip() else ""
    except (OSError, subprocess.CalledProcessError):
        pass
    return dict(cpu=cpu, cores=os.cpu_count(), threads=numba.get_num_threads(), memory=memory,
                os=platform.platform(), python=platform.python_version(), blas=blas,
                commit=commit)  # fmt: skip


def versions() -> dict:
    """Installed version of each package the benchmarks use, or "not installed"."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# --- measurements -------------------------------------------------------------------------
def measure_mlp() -> list[dict]:
    """``MLP.loss_and_grad`` vs the reference per network, timed in turn (seconds per call)."""
    rows = []
    for name, (_, _, target) in NETWORKS.items():
        ours, reference = loss_and_grad_calls(name)
        times = {key: m.seconds for key, m in interleaved(
            {"fastopt": ours, "reference": reference}).items()}  # fmt: skip
        rows.append(dict(network=name, fastopt=times["fastopt"], reference=times["reference"],
                         speedup=times["reference"] / times["fastopt"], target=target))  # fmt: skip
    return rows


class Progress:
    """Section names and elapsed time on stderr, so a 10-minute run is not silent."""

    def __init__(self, n_sections: int):
        self.n, self.k, self.start = n_sections, 0, time.perf_counter()

    def __call__(self, what: str) -> None:
        self.k += 1
        elapsed = time.perf_counter() - self.start
        print(f"[{self.k}/{self.n} {elapsed:6.0f} s] {what}", file=sys.stderr, flush=True)


def measure(quick: bool) -> dict:
    """Every figure of the report, in the fixed order described in the module docstring."""
    progress = Progress(9)
    m = {"machine": machine(), "versions": versions(), "quick": quick}
    sizes = SIZES  # the optimizer targets are set at N = 1e7 and ResNet-18: quick too
    progress("machine limits: triad and sgemm")
    m["triad"] = optim_bandwidth.triad_bandwidth(max(sizes))
    m["sgemm"] = sweep_peers.sgemm_gflops()
    progress("MLP loss_and_grad vs the reference")
    m["mlp"] = measure_mlp()
    progress("grid engine: workloads, configs, threads")
    m["grid"] = sweep_peers.measure_fastopt(quick)
    # The machine's limits are the best seen in the run (sgemm again just before the grids,
    # the triad before the steps): one slow sample must not make a ratio to them look good.
    m["sgemm"] = max(m["sgemm"], m["grid"]["sgemm"])
    progress("grids at scale: store, Dask, peak memory")
    m["scale"] = sweep_scale.measure(quick)
    progress("start-up of new processes: empty and warm Numba cache")
    m["cold_start"] = cold_start.measure(warm_runs=1 if quick else 2)
    progress(f"fused optimizer steps at {', '.join(case_label(c) for c in CASES)}, with torch")
    m["triad"] = max(m["triad"], optim_bandwidth.triad_bandwidth(max(sizes)))
    m["steps"] = optim_bandwidth.measure_steps(CASES)
    progress("fastopt.torch against torch.optim: ResNet-18 and a 12-block transformer")
    m["torch_optim"] = torch_optim.measure()
    progress("grid engine's peers: digits against scikit-learn; reference, torch, JAX")
    sweep_peers.measure_peers(m["grid"], quick)
    progress("writing the report")
    m["seconds"] = time.perf_counter() - progress.start
    return m


# --- targets ------------------------------------------------------------------------------
@dataclass
class Target:
    """One target of an issue next to its measured figure."""

    area: str
    figure: str
    target: str
    measured: str
    attainment: float
    """measured / target for "at least" targets, target / measured for "at most" ones
    (times, not percentages): >= 1 means met."""
    cell: tuple[str, str] | None = None
    """``(optimizer, f"{kind} {case}")`` (a kind of ``STEP_KINDS``) for an optimizer step's
    target: drawn in the optimizers' chart (``optimizer_chart``) rather than the main one."""

    @property
    def met(self) -> bool:
        return self.attainment >= 1.0


def _at_least(area, figure, value, target, fmt="{:.1f}x", cell=None):
    return Target(area, figure, ">= " + fmt.format(target), fmt.format(value), value / target,
                  cell)  # fmt: skip


def _at_most_extra(area, figure, extra, target, cell=None):
    """An overhead, as a fraction of the time without it: attainment compares times."""
    return Target(area, figure, f"<= +{target * 100:.0f}%", f"{extra * 100:+.1f}%",
                  (1 + target) / (1 + extra), cell)  # fmt: skip


GC_EXTRA = 0.10
"""GC's extra time over the same step without it, either mode (DESIGN.md, "Targets")."""

PCT_BOUND = 90.0
"""An optimizer step's time against its own memory bound's, at least (issues 3 and 15)."""

X_REFERENCE = 15.0
"""An optimizer step against ``fastopt.reference``'s at N = 1e7, at least (issue 3)."""

X_TORCH_FUSED_ADAM = 1.1
"""Adam at N = 1e7 against torch's fused Adam, at least (issue 3)."""

X_TORCH_FOREACH = 3.0
"""Issue 15's optimizers that torch has (NAdam, RAdam, Adamax, Adadelta, Rprop) against
torch's fastest implementation of each, foreach (torch has no fused one), at least; at
N = 1e7 and on ResNet-18. Lion, Lookahead and Ranger have no torch counterpart: no target."""

STEP_KINDS = {
    "% bound": "% of its\nmemory bound",
    "x ref": "x reference",
    "x torch": "x torch's\nfastest",
    "GC grad": "GC 'grad'\nextra time",
    "GC update": "GC 'update'\nextra time",
}
"""The optimizers' chart's kinds of figure, each a column per case (N = 1e7, ResNet-18): a
``Target.cell`` is ``(optimizer, f"{kind} {case}")``."""


def _largest_dense(steps: list[dict]) -> list[dict]:
    """The rows of the largest dense case (N = 1e7), where the bandwidth targets are set."""
    dense = [r for r in steps if r["case"] != RESNET18_LABEL]
    n_max = max(r["n"] for r in dense)
    return [r for r in dense if r["n"] == n_max]


def _torch_name(optimizer: str) -> str | None:
    """torch.optim's class of the same optimizer, or None where torch has none."""
    spec = OPTIMIZERS.get(optimizer, (None, None, None))[2]
    return None if spec is None else spec[0]


def step_targets(steps: list[dict]) -> list[Target]:
    """The optimizer steps' targets (issues 3, 12 and 15), each with its optimizers' chart
    cell.

    Every optimizer at N = 1e7: % of its memory bound >= 90%, x reference >= 15; Adam: x
    torch fused >= 1.1 (and per call at the smallest N >= 1.0, not a cell); every optimizer
    and GC mode at N = 1e7 and on ResNet-18: GC extra <= +10%. Issue 15's optimizers also
    on ResNet-18: % of bound >= 90%; and those torch has, at N = 1e7 and on ResNet-18: x torch
    foreach >= 3 (an n/a row each without torch; none for Lion, Lookahead and Ranger)."""
    out = []
    big = _largest_dense(steps)
    n_max = big[0]["n"]
    resnet = [r for r in steps if r["case"] == RESNET18_LABEL]
    off = [r for r in big + resnet if r["gc"] is None]
    for r in off:
        if r["case"] == RESNET18_LABEL and r["optimizer"] not in ISSUE_15:
            continue
        out.append(_at_least("optimizers", f"{r['optimizer']} {r['case']}: % of its memory "
                             f"bound ({r['streams']})", r["pct_bound"], PCT_BOUND, "{:.0f}%",
                             (r["optimizer"], f"% bound {r['case']}")))  # fmt: skip
    for r in (r for r in off if r["n"] == n_max):
        out.append(_at_least("optimizers", f"{r['optimizer']} {r['case']}: x reference",
                             r["x_reference"], X_REFERENCE, cell=(r["optimizer"],
                             f"x ref {r['case']}")))  # fmt: skip
    adam = {r["n"]: r for r in steps if r["optimizer"] == "adam" and r["gc"] is None}
    if adam and adam[n_max]["x_torch"] is not None:
        out.append(_at_least("optimizers", f"adam N={n_max:.0e}: x torch fused Adam",
                             adam[n_max]["x_torch"], X_TORCH_FUSED_ADAM, "{:.2f}x",
                             ("adam", f"x torch N={n_max:.0e}")))  # fmt: skip
        n_min = min(adam)
        out.append(_at_least("optimizers", f"adam N={n_min:.0e}: per-call x torch fused Adam",
                             adam[n_min]["x_torch"], 1.0))  # fmt: skip
    elif adam:
        out.append(Target("optimizers", "x torch fused Adam", f">= {X_TORCH_FUSED_ADAM}x",
                          "torch not installed", float("nan"),
                          ("adam", f"x torch N={n_max:.0e}")))  # fmt: skip
    for r in off:
        cls = _torch_name(r["optimizer"])
        if r["optimizer"] not in ISSUE_15 or cls is None:
            continue
        figure = f"{r['optimizer']} {r['case']}: x torch foreach {cls}"
        cell = (r["optimizer"], f"x torch {r['case']}")
        if r["x_torch"] is None:
            out.append(Target("optimizers", figure, f">= {X_TORCH_FOREACH:.2f}x",
                              f"torch {r['torch']}", float("nan"), cell))  # fmt: skip
        else:
            out.append(_at_least("optimizers", figure, r["x_torch"], X_TORCH_FOREACH,
                                 "{:.2f}x", cell))  # fmt: skip
    for rows in (big, resnet):
        for mode in ("grad", "update"):
            for r in (r for r in rows if r["gc"] == mode):
                out.append(_at_most_extra("optimizers", f"{r['optimizer']} {r['case']}: GC "
                                          f"{mode!r} extra time", r["gc_extra"], GC_EXTRA,
                                          (r["optimizer"], f"GC {mode} {r['case']}")))  # fmt: skip
    return out


def startup_targets(rows: list[dict]) -> list[Target]:
    """The start-up targets of ``cold_start.measure``'s rows: at most ``target_cold`` seconds
    with an empty Numba cache, under ``target_warm`` with a warm one."""
    out = []
    for r in rows:
        if r["target_cold"] is not None:
            out.append(Target("start-up", f"{r['job']}: new process, empty Numba cache",
                              f"<= {r['target_cold']:g} s", f"{r['cold']:.1f} s",
                              r["target_cold"] / r["cold"]))  # fmt: skip
        if r["target_warm"] is not None:
            out.append(Target("start-up", f"{r['job']}: new process, warm Numba cache",
                              f"< {r['target_warm']:g} s", f"{r['warm']:.2f} s",
                              r["target_warm"] / r["warm"]))  # fmt: skip
    return out


def targets(m: dict) -> list[Target]:
    """Every target of issues 2 (MLP), 3 and 15 (optimizers: ``step_targets``), 4 and 14
    (grid), 5 (scale), 12 (start-up; GC's cost on ResNet-18) and 13 (fastopt.torch)."""
    out = []
    for row in m["mlp"]:
        out.append(_at_least("MLP", f"loss_and_grad {row['network']} vs reference",
                             row["speedup"], row["target"]))  # fmt: skip
    out += step_targets(m["steps"])
    g = m["grid"]
    for w in g["workloads"]:
        short = _key(w)
        out.append(_at_least("grid", f"{short}: x reference", w["rate"] / w["reference"], 60.0))
        if isinstance(w["jax"], str):
            out.append(Target("grid", f"{short}: x JAX", ">= 3.0x", f"JAX {w['jax']}",
                              float("nan")))  # fmt: skip
        else:
            out.append(_at_least("grid", f"{short}: x JAX", w["rate"] / w["jax"], 3.0))
        if w.get("sgemm_target", short in SGEMM_WORKLOADS):
            out.append(_at_least("grid", f"{short}: useful FLOP rate, % of sgemm",
                                 w["useful_gflops"] / m["sgemm"] * 100, SGEMM_TARGET,
                                 "{:.0f}%"))  # fmt: skip
    out += digits_targets(g.get("digits"))
    rates = dict(g["configs"])
    lo, hi = min(rates), max(rates)
    out.append(_at_least("grid", f"linear in configs: rate at {hi} / at {lo}",
                         rates[hi] / rates[lo], 0.8, "{:.2f}"))  # fmt: skip
    t = g["threads"]
    out.append(_at_least("grid", f"{t['n']}-thread speed-up over 1", t["many"] / t["one"], 1.8,
                         "{:.2f}x"))  # fmt: skip
    s = m["scale"]
    out.append(_at_most_extra("scale", f"store overhead ({s['chunks']} chunk files)",
                              s["stored"] / s["local"] - 1, 0.05))  # fmt: skip
    if isinstance(s["dask"], str):
        out.append(Target("scale", "Dask overhead", "<= +10%", f"Dask {s['dask']}", float("nan")))
    else:
        out.append(_at_most_extra("scale", "Dask LocalCluster overhead, 2 workers x 1 thread",
                                  s["dask"] / s["local"] - 1, 0.10))  # fmt: skip
    out.append(Target("scale", "peak memory, 100k runs / 10k runs", "<= 2.00x",
                      f"{s['peak_100k'] / s['peak_10k']:.2f}x",
                      2.0 / (s["peak_100k"] / s["peak_10k"])))  # fmt: skip
    out += startup_targets(m["cold_start"])
    out += torch_targets(m.get("torch_optim", "not measured"))
    return out


def _key(w: dict) -> str:
    """A grid workload's short name (``Workload.key``: its name's first word)."""
    return w.get("key") or w["name"].split(" ")[0]


DIGITS_SPEEDUP = 25.0
"""Issue 14: the digits grid >= 25x scikit-learn's ``MLPClassifier`` fits (time per
configuration), at equal best validation accuracy (``sweep_peers.DIGITS_ACCURACY_GAP``)."""

DIGITS_FIGURE = "digits: x scikit-learn MLPClassifier fits, time per configuration"
DIGITS_ACCURACY = "digits: best validation accuracy, fastopt - scikit-learn"


def digits_targets(d: dict | str | None) -> list[Target]:
    """Issue 14's digits targets from ``sweep_peers``' comparison (none when it was not
    measured; n/a rows without scikit-learn): the speed-up, and the best validation
    accuracies within 1 point (attainment: the allowed gap over the gap, 0 when a side never
    converged)."""
    if d is None:
        return []
    sk = d if isinstance(d, str) else d["sklearn"]
    if isinstance(sk, str):
        return [Target("grid", DIGITS_FIGURE, f">= {DIGITS_SPEEDUP:.1f}x",
                       f"scikit-learn {sk}", float("nan"))]  # fmt: skip
    gap, allowed = d["accuracy_gap"], sweep_peers.DIGITS_ACCURACY_GAP
    return [
        _at_least("grid", DIGITS_FIGURE, d["speedup"], DIGITS_SPEEDUP),
        Target("grid", DIGITS_ACCURACY, f"within +-{allowed * 100:.0f} point",
               f"{gap * 100:+.1f} points ({d['fastopt_best'] * 100:.1f}% vs "
               f"{sk['best'] * 100:.1f}%)",
               allowed / max(abs(gap), allowed / 10) if np.isfinite(gap) else 0.0),
    ]  # fmt: skip


def torch_targets(rows: list[dict] | str) -> list[Target]:
    """Issue 13's targets of ``torch_optim.measure``'s rows (one n/a row without torch)."""
    if isinstance(rows, str):
        return [Target("fastopt.torch", "fastopt.torch x torch.optim", ">= 1.0x",
                       f"torch {rows}", float("nan"))]  # fmt: skip
    out = []
    for figure, value, target, kind in torch_optim.targets(rows):
        if kind == "x":
            out.append(_at_least("fastopt.torch", figure, value, target, "{:.2f}x"))
        else:
            out.append(_at_most_extra("fastopt.torch", figure, value, target))
    return out


# --- the charts ---------------------------------------------------------------------------
OPTIMIZER_PNG = "BENCHMARKS-optimizers.png"
"""The optimizers' chart, beside ``BENCHMARKS.png``."""


def chart(m: dict, goals: list[Target], path: Path) -> Path:
    """Left: speed-ups over the reference and the peers (log scale, target ticks; of the
    optimizer steps Adam's only). Right: the attainment (measured relative to target; >= 1 is
    met) of every target but the optimizer steps' own, which ``optimizer_chart`` draws as a
    table (14 optimizers x 9 figures would be 130 bars here)."""
    from matplotlib.ticker import NullFormatter

    plt = pyplot()
    goals = [g for g in goals if g.cell is None]
    bars = []  # (label, value, target or None)
    for r in m["mlp"]:
        bars.append((f"MLP {r['network'].split(',')[0]} x ref", r["speedup"], r["target"]))
    big = _largest_dense(m["steps"])
    for r in big:
        if r["gc"] is None and r["optimizer"] == "adam":
            bars.append((f"{r['optimizer']} {r['case']} x ref", r["x_reference"], X_REFERENCE))
            if r["x_torch"] is not None:
                bars.append((f"{r['optimizer']} x torch {r['torch']}", r["x_torch"],
                             X_TORCH_FUSED_ADAM))  # fmt: skip
    resnet = [r for r in m["steps"] if r["case"] == RESNET18_LABEL]
    for r in big + resnet:  # the flat kernel against what a torch user runs for GC today
        if r["optimizer"] == "adam" and r["gc"] == "grad" and r["x_torch"] is not None:
            bars.append((f"adam GC {r['case']} x torch fused + GC", r["x_torch"], None))
    torch_rows = m.get("torch_optim")
    for r in torch_rows if isinstance(torch_rows, list) else []:
        x, target = ((r["x_fused"], torch_optim.FUSED_TARGET) if r["x_fused"] is not None and
                     r["optimizer"] in torch_optim.HAS_FUSED_TARGET
                     else (r["x_best"], torch_optim.BEST_TARGET))  # fmt: skip
        versus = "fused" if target == torch_optim.FUSED_TARGET else "best"
        bars.append((f"fastopt.torch {r['optimizer']} {r['model']} x torch {versus}", x, target))
        bars.append((f"fastopt.torch {r['optimizer']} {r['model']} GC x torch + GC", r["x_gc"],
                     torch_optim.GC_TARGET))  # fmt: skip
    for w in m["grid"]["workloads"]:
        short = _key(w)
        bars.append((f"grid {short} x ref", w["rate"] / w["reference"], 60.0))
        for peer, label in PEERS.items():
            if not isinstance(w[peer], str):
                bars.append((f"grid {short} x {label}", w["rate"] / w[peer],
                             3.0 if peer == "jax" else None))  # fmt: skip
    digits = m["grid"].get("digits")
    if isinstance(digits, dict) and isinstance(digits["sklearn"], dict):
        bars.append(("grid digits x scikit-learn fits, per config", digits["speedup"],
                     DIGITS_SPEEDUP))  # fmt: skip
    lines = max(len(goals), len(bars))
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, max(6, 0.28 * lines)))
    y = np.arange(len(bars))[::-1]
    values = [b[1] for b in bars]
    left.barh(y, values, color="#4878a8")
    for yi, (_, value, target) in zip(y, bars, strict=True):
        if target is not None:
            left.plot([target, target], [yi - 0.4, yi + 0.4], color="k", lw=2)
        # Right of the bar and of its target tick, so the tick never covers a digit.
        left.text(max(value, target or 0) * 1.04, yi, f"{value:.1f}x", va="center", fontsize=7)
    left.set_yticks(y, [b[0] for b in bars], fontsize=7)
    left.set_xscale("log")
    left.axvline(1.0, color="grey", lw=0.8)
    left.set_xlabel("speed-up (times faster); black tick = target")
    left.set_title("fastopt against the reference and the peers", fontsize=10)
    y2 = np.arange(len(goals))[::-1]
    attain = [g.attainment if np.isfinite(g.attainment) else 0.0 for g in goals]
    colors = ["#3a923a" if g.met else "#c8553d" for g in goals]
    right.barh(y2, attain, color=colors)
    right.axvline(1.0, color="k", lw=1)
    right.set_yticks(y2, [f"{g.figure} ({g.target})" for g in goals], fontsize=6)
    right.set_xscale("log")
    right.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a wide range overlap
    right.set_xlabel("measured / target (>= 1: met; green met, red not)")
    right.set_title(f"every target of issues 2-5 and 12-15\nbut the optimizer steps' (in "
                    f"{OPTIMIZER_PNG})", fontsize=10)  # fmt: skip
    fig.suptitle(
        f"fastopt benchmarks{' (--quick)' if m['quick'] else ''}: "
        f"{m['machine']['cpu']}, {m['machine']['threads']} threads",
        fontsize=11,
    )
    fig.tight_layout()
    return save(fig, path)


def _step_figure(kind: str, rows: dict) -> str:
    """A cell's text from the steps' rows of one optimizer and case (``{gc: row}``)."""
    r = rows.get("grad" if kind == "GC grad" else "update" if kind == "GC update" else None)
    if r is None:
        return ""
    if kind == "% bound":
        return f"{r['pct_bound']:.0f}%"
    if kind == "x ref":
        return "-" if r["x_reference"] is None else f"{r['x_reference']:.1f}x"
    if kind == "x torch":
        if r["x_torch"] is None:
            return "n.a." if r["torch"] == NO_TORCH else "-"
        return f"{r['x_torch']:.2f}x {r['torch']}"
    return "" if r["gc_extra"] is None else f"{r['gc_extra'] * 100:+.0f}%"


def step_table(steps: list[dict], goals: list[Target]):
    """The optimizers' chart as data: ``(optimizers, columns, texts, status)``.

    One row per optimizer (in the steps' order), one column per kind of ``STEP_KINDS`` and
    case (N = 1e7, ResNet-18; no x reference on ResNet-18, which is not measured);
    ``texts[i][j]`` the figure, ``status[i][j]`` "met", "not met", "n/a" (a target without
    its peer) or "" (no target: shown, not judged)."""
    big = _largest_dense(steps)
    cases = [big[0]["case"]] + ([RESNET18_LABEL] if any(r["case"] == RESNET18_LABEL
                                                          for r in steps) else [])  # fmt: skip
    optimizers = list(dict.fromkeys(r["optimizer"] for r in steps))
    columns = [f"{kind} {case}" for kind in STEP_KINDS for case in cases
               if not (kind == "x ref" and case == RESNET18_LABEL)]  # fmt: skip
    by_cell = {g.cell: g for g in goals if g.cell is not None}
    rows = {}
    for r in steps:
        rows.setdefault((r["optimizer"], r["case"]), {})[r["gc"]] = r
    texts, status = [], []
    for name in optimizers:
        texts.append([])
        status.append([])
        for column in columns:
            kind, case = column.rsplit(" ", 1)
            goal = by_cell.get((name, column))
            texts[-1].append(_step_figure(kind, rows.get((name, case), {})))
            if goal is None:
                status[-1].append("")
            elif not np.isfinite(goal.attainment):
                status[-1].append("n/a")
            else:
                status[-1].append("met" if goal.met else "not met")
    return optimizers, columns, texts, status


def optimizer_chart(m: dict, goals: list[Target], path: Path) -> Path:
    """Every optimizer step's figures at N = 1e7 and on ResNet-18 as a table: one row per
    optimizer, one column per figure, each cell green (target met), red (not met), grey
    (a peer not installed) or white (no target: shown only)."""
    from matplotlib.colors import ListedColormap

    plt = pyplot()
    optimizers, columns, texts, status = step_table(m["steps"], goals)
    codes = {"": 0, "met": 1, "not met": 2, "n/a": 3}
    grid = np.array([[codes[s] for s in row] for row in status], dtype=float)
    colors = ListedColormap(["#ffffff", "#b7dfb7", "#f2b1a4", "#dddddd"])
    width, height = max(10.0, 1.25 * len(columns) + 2.0), 0.42 * len(optimizers) + 2.6
    fig, ax = plt.subplots(figsize=(width, height))
    ax.imshow(grid, cmap=colors, vmin=-0.5, vmax=3.5, aspect="auto")
    for i, row in enumerate(texts):
        for j, text in enumerate(row):
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_xticks(np.arange(len(columns)) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(optimizers)) - 0.5, minor=True)
    ax.grid(which="minor", color="#999999", lw=0.5)
    ax.tick_params(which="minor", length=0)
    headers = []
    for column in columns:
        kind, case = column.rsplit(" ", 1)
        headers.append(f"{STEP_KINDS[kind]}\n{case}")
    ax.set_xticks(np.arange(len(columns)), headers, fontsize=7)
    ax.xaxis.tick_top()
    ax.set_yticks(np.arange(len(optimizers)), optimizers, fontsize=8)
    ax.set_title(
        f"fused optimizer steps, float32{' (--quick)' if m['quick'] else ''}: "
        f"{m['machine']['cpu']}, {m['machine']['threads']} threads\n"
        f"targets: % of bound >= {PCT_BOUND:.0f}% (N = 1e7; issue 15's also ResNet-18), "
        f"x reference >= {X_REFERENCE:.0f},\nx torch >= {X_TORCH_FUSED_ADAM} (adam, fused) and "
        f">= {X_TORCH_FOREACH:.0f} (issue 15's, foreach), GC extra <= +{GC_EXTRA * 100:.0f}%"
        "\ngreen: met, red: not met, grey: peer not installed, white: no target "
        "(n.a.: torch has no such optimizer)",
        fontsize=8,
    )
    fig.tight_layout()
    return save(fig, path)


# --- the report -----------------------------------------------------------------------------
def _x(a, b) -> str:
    return "not installed" if isinstance(b, str) else f"{a / b:.1f}x"


def _rate(value) -> str:
    return value if isinstance(value, str) else f"{value:,.0f}"


def startup_lines(rows: list[dict]) -> list[str]:
    """The report's start-up section, from ``cold_start.measure``'s rows."""
    warm_runs = max(r["warm_runs"] for r in rows)
    lines = ["## Start-up of a new process", "",
             "Wall time of a new Python process (the interpreter's start included) running "
             "each job, first with an empty Numba cache (a fresh `NUMBA_CACHE_DIR`: every "
             "kernel the job uses is compiled, as on a first install, a CI run, a fresh Dask "
             "worker or after an upgrade), then with the same folder, now warm "
             f"({'the median of ' + str(warm_runs) + ' runs' if warm_runs > 1 else 'one run'})."
             " `python -m bench.cold_start` runs this section alone.", "",
             "| job | command | empty cache | warm cache | target |",
             "|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        goals = []
        if r["target_cold"] is not None:
            goals.append(f"empty <= {r['target_cold']:g} s")
        if r["target_warm"] is not None:
            goals.append(f"warm < {r['target_warm']:g} s")
        lines.append(f"| {r['job']} | `{r['command']}` | {r['cold']:.1f} s | "
                     f"{r['warm']:.2f} s | {'; '.join(goals)} |")  # fmt: skip
    return [*lines, ""]


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.2f} ms"


def torch_lines(rows: list[dict] | str) -> list[str]:
    """The report's fastopt.torch section, from ``torch_optim.measure``'s rows."""
    lines = ["", "## fastopt.torch against torch.optim (float32)", ""]
    if isinstance(rows, str):
        return [*lines, f"torch {rows}: nothing to compare with.", ""]
    models = {r["model"]: (r["tensors"], r["n"]) for r in rows}
    shown = "; ".join(f"{name}: {k} tensors, {n / 1e6:.1f}M entries"
                      for name, (k, n) in models.items())  # fmt: skip
    lines += [
        "One optimizer step on a real model's parameters (" + shown + "), gradients from one "
        "backward pass; torch.optim's for-loop (`foreach=False`), foreach and fused steps "
        "(fused where torch has it on the CPU), `fastopt.torch` (gradients as views of its "
        "flat buffer: `zero_grad(set_to_none=False)`) and the flat kernel on one vector of the "
        "same sizes (the adapter's overhead is its time over this one), all timed in turn "
        "(medians of 5 turns; torch on Numba's threads). With GC: torch's fused step "
        "(foreach for RMSprop) after centralizing each gradient of more than one dimension "
        'in place as the official GC code does, against `fastopt.torch(gc="grad")`. '
        f"Targets (issue 13): x torch fused >= {torch_optim.FUSED_TARGET:.1f} for "
        f"Adam/AdamW/SGD, x torch's best >= {torch_optim.BEST_TARGET:.0f} for RMSprop/Adagrad, "
        f"with GC >= {torch_optim.GC_TARGET:.1f}x, the adapter <= "
        f"+{torch_optim.ADAPTER_EXTRA * 100:.0f}% over the flat kernel. "
        "`python -m bench.torch_optim` runs this section alone.",
        "",
        "| model | optimizer | torch for-loop | foreach | fused | fastopt.torch | x torch "
        "fused (best) | flat kernel | adapter extra | torch + GC | fastopt.torch GC | x GC |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r["times"]
        x_fused = "-" if r["x_fused"] is None else f"{r['x_fused']:.2f}x"
        lines.append(
            f"| {r['model']} | {r['optimizer']} | {_ms(t['for-loop'])} | "
            f"{_ms(t.get('foreach'))} | {_ms(t.get('fused'))} | {_ms(t['fastopt.torch'])} | "
            f"{x_fused} ({r['x_best']:.2f}x {r['best']}) | {_ms(t['flat'])} | "
            f"{r['adapter_extra'] * 100:+.1f}% | {_ms(t['torch + GC'])} ({r['gc_mode']}) | "
            f"{_ms(t['fastopt.torch GC'])} | {r['x_gc']:.2f}x |"
        )
    return lines


def digits_md(d: dict | str | None) -> list[str]:
    """The report's digits comparison (issue 14), from ``sweep_peers``' "digits"."""
    if d is None:
        return []
    lines = ["", "### Digits: one sweep against scikit-learn's `MLPClassifier` fits", ""]
    if isinstance(d, str):
        return [*lines, f"scikit-learn {d}: no digits data, nothing to compare with."]
    sk = d["sklearn"]
    lines += [
        f"{d['name']}: {d['configs']} configurations ({', '.join(d['optimizers'])} x "
        f"{d['n_lrs']} learning rates), {d['epochs']} epochs ({d['steps']} steps) each, "
        f"validation accuracy on {d['val']} held-out images. fastopt trains the whole grid in one "
        "`fastopt.sweep` with `X_val`/`Y_val` (median of at least 3 rounds; runs that diverge "
        f"stop: {d['fastopt_steps_done'] * 100:.0f}% of the steps were taken); scikit-learn "
        "fits one `MLPClassifier` per configuration (same network, batch size and epochs, "
        "`alpha=0`, constant rate, no early stopping; fastopt's momentum is scikit-learn's "
        "non-Nesterov momentum 0.9). Target: >= "
        f"{DIGITS_SPEEDUP:.0f}x in time per configuration, best validation accuracies within "
        "1 point.",
        "",
    ]
    if isinstance(sk, str):
        return [*lines, f"scikit-learn {sk}."]
    subset = (f" (the first {sk['fits']} of {sk['configs']} in an order spread over the grid, "
              "then the time budget ran out)" if sk["fits"] < sk["configs"] else "")  # fmt: skip
    lines += [
        "| | time | configurations | per configuration | best validation accuracy |",
        "|---|---|---|---|---|",
        f"| fastopt, one sweep | {d['fastopt_seconds']:.2f} s | {d['configs']} | "
        f"{d['fastopt_per_config'] * 1e3:.1f} ms | {d['fastopt_best'] * 100:.1f}% |",
        f"| scikit-learn, one fit each | {sk['seconds']:.2f} s | {sk['fits']}{subset} | "
        f"{sk['per_config'] * 1e3:.1f} ms | {sk['best'] * 100:.1f}% ({sk['failed']} "
        "diverged) |",
        "",
        f"fastopt x{d['speedup']:.1f} per configuration; best accuracies "
        f"{d['accuracy_gap'] * 100:+.1f} points apart "
        f"({'within' if d['within'] else 'not within'} 1 point).",
    ]
    return lines


def markdown(m: dict, goals: list[Target], command: str, png: str,
             optimizers_png: str | None = None) -> str:  # fmt: skip
    """The report's text; ``png`` and ``optimizers_png`` the charts' file names."""
    mc, v = m["machine"], m["versions"]
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# fastopt benchmarks",
        "",
        f"Written by `{command}` on {date} in {m['seconds'] / 60:.1f} minutes"
        + (" (**--quick**: smaller sizes and grids)" if m["quick"] else "")
        + ". Generated: do not edit by hand, rerun the command. Every ratio below comes from "
        "this one run, in one process; on a shared machine the same command varies by "
        "20-50% between runs, so compare ratios, not absolute times.",
        "",
        "## Machine and libraries",
        "",
        f"- CPU: {mc['cpu']}, {mc['cores']} cores; Numba threads: {mc['threads']}; "
        f"memory {mc['memory']}",
        f"- OS: {mc['os']}; Python {mc['python']}; NumPy BLAS: {mc['blas']}",
        f"- fastopt commit: {mc['commit']}",
        "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
        "## Targets",
        "",
        "Every target of the MLP (2), optimizer (3, 15), grid (4, 14), scale (5), start-up "
        "(12) and PyTorch adapter (13) issues, next to its figure from this run.",
        "",
        "| area | figure | target | measured | met |",
        "|---|---|---|---|---|",
    ]
    for g in goals:
        met = "n/a" if not np.isfinite(g.attainment) else ("yes" if g.met else "**no**")
        lines.append(f"| {g.area} | {g.figure} | {g.target} | {g.measured} | {met} |")
    n_met = sum(g.met for g in goals)
    lines += ["", f"{n_met} of {len(goals)} targets met.", "", f"![ratios]({png})", ""]
    if optimizers_png:
        lines += [f"![optimizer steps]({optimizers_png})", ""]

    lines += ["## The machine's limits", "",
              "Each the best of its measurements in this run (at the start, and again before "
              "the grids and the optimizer steps). Yardsticks: an optimizer step is held "
              "against its own memory bound (below), not against the triad.", "",
              f"- STREAM-like triad `a = b + s*c` (Numba prange, float32, N = "
              f"{max(r['n'] for r in m['steps']):.0e}): **{m['triad']:.1f} GB/s**",
              f"- NumPy sgemm 2048^3 float32: **{m['sgemm']:.1f} GFLOP/s**", ""]  # fmt: skip

    lines += [
        "## MLP `loss_and_grad` (float32, ReLU, MSE)",
        "",
        "| network | fastopt | reference | speed-up | target |",
        "|---|---|---|---|---|",
    ]
    for r in m["mlp"]:
        lines.append(f"| {r['network']} | {r['fastopt'] * 1e6:.1f} us | "
                     f"{r['reference'] * 1e6:.1f} us | {r['speedup']:.1f}x | "
                     f">= {r['target']:.0f}x |")  # fmt: skip
    lines.append("")

    g = m["grid"]
    lines += ["## Grid engine (`fastopt.sweep`)", "",
              "Run-steps per second (one run-step = forward + backward + optimizer step of one "
              "configuration); fastopt and the reference are medians of at least 3 timed "
              "rounds (`bench.timing.measure`), the other peers one run each; the "
              "reference and scikit-learn train 4 configurations one at a time, torch batches "
              "every configuration with `bmm`, JAX `vmap`s a `lax.scan` (its compile time "
              "apart). Configurations and threads are timed in turn, 3 turns (medians). "
              "The workloads (`bench/sweep_workloads.py`): issue 4's regression (a) and "
              "classifier (b); issue 14's wider classifiers (32-W-W-10, W = 32, 64, 128), a "
              "deeper one (3 hidden layers of 64) and the digits grid. Targets: x reference "
              ">= 60 and x JAX >= 3 on every workload, a useful FLOP rate (forward and "
              "backward multiply-adds, no activations) >= "
              f"{SGEMM_TARGET:.0f}% of sgemm on (a) and (b).", "",
              "| workload | fastopt | useful GFLOP/s (% sgemm) | reference | scikit-learn | "
              "torch | JAX (compile) |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for w in g["workloads"]:
        rate = w["rate"]
        jax = _rate(w["jax"]) + (f" ({w['jax_compile']:.1f} s)" if w["jax_compile"] else "")
        lines.append(
            f"| {w['name']}, {w['runs']} runs x {w['steps']} steps | {rate:,.0f} | "
            f"{w['useful_gflops']:.1f} ({w['useful_gflops'] / m['sgemm'] * 100:.0f}%) | "
            f"{_rate(w['reference'])} ({_x(rate, w['reference'])}) | "
            f"{_rate(w['sklearn'])} ({_x(rate, w['sklearn'])}) | "
            f"{_rate(w['torch'])} ({_x(rate, w['torch'])}) | {jax} ({_x(rate, w['jax'])}) |"
        )
    for name, why in g.get("skipped", {}).items():
        lines.append(f"| {name}: skipped ({why}) | | | | | | |")
    lines += digits_md(g.get("digits"))
    t = g["threads"]
    lines += ["", "Time against the number of configurations (regression grid): "
              + ", ".join(f"{n} configs {r:,.0f} run-steps/s" for n, r in g["configs"]) + ".",
              "", f"Threads: 1 thread {t['one']:,.0f}, {t['n']} threads {t['many']:,.0f} "
              f"run-steps/s (x{t['many'] / t['one']:.2f}). The start-up of a new process: "
              "below.", ""]  # fmt: skip

    s = m["scale"]
    dask = (s["dask"] if isinstance(s["dask"], str)
            else f"{s['dask']:.2f} s ({(s['dask'] / s['local'] - 1) * 100:+.1f}%)")  # fmt: skip
    lines += ["## Grids at scale", "",
              f"A grid of {s['runs']:,} runs x {s['steps']} steps (8-16-1 MLP, Adam): "
              f"in-process {s['local']:.2f} s ({s['rate']:,.0f} run-steps/s); with a store "
              f"folder {s['stored']:.2f} s (medians of 3 timed in turn; "
              f"{(s['stored'] / s['local'] - 1) * 100:+.1f}%, "
              f"{s['chunks']} chunk files); through a 2-worker Dask LocalCluster (1 Numba "
              f"thread each) {dask}. Peak memory of a new process (summaries only): 10k runs "
              f"{s['peak_10k']:.0f} MiB, 100k runs {s['peak_100k']:.0f} MiB.", ""]  # fmt: skip

    lines += startup_lines(m["cold_start"])

    resnet = f"{RESNET18_TENSORS} tensors, {RESNET18_SIZE / 1e6:.1f}M entries"
    lines += ["## Fused optimizer steps (float32)", "",
              f"Cases: one dense weight of N entries (rows of 1000), and ResNet-18 "
              f"(torchvision's {resnet}: conv, batch-norm and fc tensors; fastopt steps them "
              f"as one flat vector, torch as {RESNET18_TENSORS} tensors). Each optimizer with "
              "its defaults (SGD and momentum: lr 0.01; Lookahead: around Adam, k = 5, "
              "alpha = 0.5; Ranger: RAdam inside, k = 6, with GC set by the row rather than "
              "its default 'grad'), its step first checked against its reference on a small "
              "case. "
              "Streams: the float32 arrays a step reads (r: p, g, each state buffer) and "
              "writes (w: p, each state buffer), from the optimizer's state buffers (Rprop: "
              "prev and step_size); GB/s counts those bytes. Lookahead and Ranger "
              "(`+(1r+1w)/k`): on every k-th step a chunk's epilogue reads and writes its slow "
              "weights while the chunk's p is still in cache, so their read and write are "
              "counted once in k steps; those two are timed (and their bound moved) one "
              "period of k steps at a time and shown per step. The bound moves the same "
              "streams with a streaming kernel "
              "(`bench/stream_bound.py`: almost no arithmetic, the step's chunks and threads); "
              f"% of bound is its time over the step's (target >= {PCT_BOUND:.0f}%). GC off "
              "and on, the bound, and torch with and without GC are timed in turn (medians of "
              f"5 turns); GC extra: the time over GC off (target <= +{GC_EXTRA * 100:.0f}%). "
              "torch: fused Adam/AdamW/SGD, foreach RMSprop/Adagrad/NAdam/RAdam/Adamax/"
              "Adadelta/Rprop (its fastest CPU implementations; targets: x "
              f"{X_TORCH_FUSED_ADAM} over fused Adam, x {X_TORCH_FOREACH:.0f} over issue 15's "
              "foreach ones); torch has no Lion, Lookahead or Ranger (—). x torch on a GC "
              "'grad' row: against torch's step after "
              "centralizing each gradient of more than one dimension in place, as the "
              "official GC code does (`g -= g.mean(dim=(1, ..., g.dim() - 1), "
              "keepdim=True)`). For Adam on ResNet-18 that is the figure behind the PyTorch "
              "adapter's target (>= 1.3x, with <= 5% over this flat kernel). torch steps "
              "ResNet-18 in one parallel region (or more) per tensor: while other processes "
              "share the cores each region can wait for a descheduled thread, which makes x "
              "torch on ResNet-18 the least stable figure here (seen from ~1x to ~30x between "
              "runs on a shared 2-core machine); fastopt runs one region per pass.", "",
              "| optimizer | GC | case | streams | time | GB/s | bound GB/s | % of bound | "
              "x reference | x torch | GC extra |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in m["steps"]:
        if r["x_torch"] is not None:
            x_torch = f"{r['x_torch']:.2f}x ({r['torch']}{' + GC' if r['gc'] else ''})"
        elif r["torch"] == NO_TORCH:
            x_torch = "—"  # torch has no such optimizer
        else:  # GC "update" has no torch counterpart; otherwise torch is not installed
            x_torch = "" if r["gc"] == "update" else r["torch"]
        x_ref = "-" if r["x_reference"] is None else f"{r['x_reference']:.1f}x"
        extra = "" if r["gc_extra"] is None else f"{r['gc_extra'] * 100:+.0f}%"
        t_us = r["seconds"] * 1e6
        shown = f"{t_us:.1f} us" if t_us < 1000 else f"{t_us / 1000:.2f} ms"
        lines.append(f"| {r['optimizer']} | {r['gc'] or 'off'} | {r['case']} | "
                     f"{r['streams']} | {shown} | {r['gbs']:.1f} | {r['bound_gbs']:.1f} | "
                     f"{r['pct_bound']:.0f}% | {x_ref} | {x_torch} | {extra} |")  # fmt: skip

    lines += torch_lines(m.get("torch_optim", "not measured"))

    lines += ["", "## Reproduce, and the fine-grained suite", "",
              "```bash",
              'pip install -e ".[test,peers,dask]"   # peers: torch==2.13.0, jax, optax, '
              "scikit-learn",
              "python -m bench.report                 # this file (fastopt bench does the same)",
              "python -m bench.report --quick         # about 7 min, written to bench-out/",
              "```", "",
              "`pytest bench/` is the fine-grained suite (pytest-benchmark, one group per "
              "kernel and size, a speed-up table at the end); it shares its cases and their "
              "timing (`bench.timing.measure`) with this report. To compare two commits: "
              "`pytest bench/ --benchmark-autosave` on the first, then "
              "`pytest bench/ --benchmark-compare` (against the last saved run; "
              "`--benchmark-compare=0001` for a given one, "
              "`--benchmark-compare-fail=median:10%` to fail on a slowdown). Saved runs live in "
              "`.benchmarks/` (ignored by git). The scripts behind each section run alone too: "
              "`python -m bench.optim_bandwidth`, `bench.torch_optim`, `bench.sweep_peers`, "
              "`bench.sweep_scale`, `bench.cold_start`. To compare the grid engine with "
              "another checkout of fastopt (e.g. a `git worktree` of the previous commit) in "
              "one run, each in its own process, timed in turn: "
              "`python -m bench.grid_ab --base OTHER_CHECKOUT`.",
              ""]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="grids of fewer steps, a smaller scale grid (about 7 min; the full run 10-11)",
    )
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for BENCHMARKS.md and its two charts (default: the "
                        "checkout for a full run, bench-out/ for --quick)")  # fmt: skip
    args = parser.parse_args(argv)
    out = args.out or (CHECKOUT / "bench-out" if args.quick else CHECKOUT)
    out.mkdir(parents=True, exist_ok=True)
    command = os.environ.get("FASTOPT_BENCH_COMMAND") or " ".join(
        ["python -m bench.report", *(argv if argv is not None else sys.argv[1:])]
    )
    print(f"fastopt {fastopt.__version__}: {command}", file=sys.stderr)
    m = measure(args.quick)
    goals = targets(m)
    png = chart(m, goals, out / "BENCHMARKS.png")
    optimizers_png = optimizer_chart(m, goals, out / OPTIMIZER_PNG)
    text = markdown(m, goals, command, png.name, optimizers_png.name)
    (out / "BENCHMARKS.md").write_text(text)
    print(text)
    print(f"\nwrote {out / 'BENCHMARKS.md'}, {png} and {optimizers_png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
