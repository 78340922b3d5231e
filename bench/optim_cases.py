"""The optimizer step cases, shared by ``bench/test_optim.py`` and ``bench/optim_bandwidth.py``
(and so the report): each a zero-argument callable, timed by ``bench.timing.measure``."""

import numpy as np

import fastopt
from bench.stream_bound import stream_call
from fastopt import reference

#: name -> (fastopt factory, reference factory, torch class name and kwargs). Each step's
#: streams (and so its bytes and its memory bound) come from the optimizer itself:
#: ``bench.stream_bound.streams``.
OPTIMIZERS = {
    "sgd": (lambda gc: fastopt.SGD(lr=0.01, gc=gc), lambda gc: reference.SGD(lr=0.01, gc=gc),
            ("SGD", dict(lr=0.01))),
    "momentum": (lambda gc: fastopt.Momentum(lr=0.01, gc=gc),
                 lambda gc: reference.SGD(lr=0.01, momentum=0.9, gc=gc),
                 ("SGD", dict(lr=0.01, momentum=0.9))),
    "rmsprop": (lambda gc: fastopt.RMSprop(gc=gc), lambda gc: reference.RMSprop(gc=gc),
                ("RMSprop", {})),
    "adam": (lambda gc: fastopt.Adam(gc=gc), lambda gc: reference.Adam(gc=gc), ("Adam", {})),
    "adamw": (lambda gc: fastopt.AdamW(gc=gc), lambda gc: reference.AdamW(gc=gc),
              ("AdamW", {})),
    "adagrad": (lambda gc: fastopt.Adagrad(gc=gc), lambda gc: reference.Adagrad(gc=gc),
                ("Adagrad", {})),
}  # fmt: skip

#: torch's fastest CPU implementation per optimizer (issue 3): fused where torch has it.
TORCH_MODE = {"SGD": "fused", "Adam": "fused", "AdamW": "fused", "RMSprop": "foreach",
              "Adagrad": "foreach"}  # fmt: skip

GC_MODES = [None, "grad", "update"]

#: Parameter counts of the optimizer benchmarks (issue 3), and of ``--quick`` runs.
SIZES = [1_000, 100_000, 10_000_000]
QUICK_SIZES = [1_000, 100_000, 1_000_000]


def layout_for(n: int) -> fastopt.Layout:
    """One dense weight with rows of 1000 (fan-in 1000) holding ``n`` parameters."""
    return fastopt.Layout([("W", (max(n // 1000, 1), min(n, 1000)))])


def arrays(n: int, dtype=np.float32, seed: int = 0):
    """Parameters and gradient of a ``layout_for(n)``."""
    rng = np.random.default_rng(seed)
    size = layout_for(n).size
    return rng.standard_normal(size).astype(dtype), rng.standard_normal(size).astype(dtype)


def fastopt_step(name: str, gc, n: int):
    """A zero-argument callable taking one fused step on fresh arrays."""
    layout = layout_for(n)
    params, grads = arrays(n)
    opt = OPTIMIZERS[name][0](gc)
    state = opt.init(params, layout)
    return lambda: opt.step(params, grads, state)


def bound_step(name: str, n: int):
    """A zero-argument callable moving the streams of ``name``'s step (no GC) over the same
    chunks and threads: its memory bound (``bench.stream_bound``)."""
    return stream_call(OPTIMIZERS[name][0](None), layout_for(n))


def reference_step(name: str, gc, n: int):
    """A zero-argument callable taking one ``fastopt.reference`` step on fresh arrays."""
    layout = layout_for(n)
    params, grads = arrays(n)
    named_p = {k: v.copy() for k, v in layout.views(params).items()}
    named_g = {k: v.copy() for k, v in layout.views(grads).items()}
    opt = OPTIMIZERS[name][1](gc)
    state = opt.init(named_p)
    return lambda: opt.step(named_p, named_g, state)


def torch_step(name: str, n: int):
    """A zero-argument callable taking one torch step, or None if torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    cls_name, kwargs = OPTIMIZERS[name][2]
    params, grads = arrays(n)
    p = torch.nn.Parameter(torch.from_numpy(params))
    p.grad = torch.from_numpy(grads)
    mode = TORCH_MODE[cls_name]
    opt = getattr(torch.optim, cls_name)([p], **kwargs, **{mode: True})

    def step():
        with torch.no_grad():
            opt.step()

    return step
