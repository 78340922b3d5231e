"""The optimizer step cases, shared by ``bench/test_optim.py`` and ``bench/optim_bandwidth.py``
(and so the report): each a zero-argument callable, timed by ``bench.timing.measure``; one
call is one step, or for Lookahead (and Ranger) one period of ``k`` steps
(``steps_per_call``). ``check_step`` compares the step each factory builds with its
reference on a small case: the suite and the report run it before they time.

A case is a size ``n`` (one dense weight of ``n`` entries, rows of 1000) or ``RESNET18``
(torchvision's ResNet-18: 62 tensors, 11.7M entries, ``resnet18_layout``): the shapes a
real model's optimizer sees, and those GC centralizes row by row."""

from typing import Literal

import numpy as np

import fastopt
from bench.stream_bound import period, stream_call
from fastopt import reference

#: name -> (fastopt factory, reference factory, torch class name and kwargs, or None where
#: torch has no such optimizer). Each factory takes the GC mode; every other argument is the
#: optimizer's default but SGD's lr, which has none (Lookahead: k=5, alpha=0.5 around Adam;
#: Ranger's own defaults, its gc="grad" aside: the bench sets gc itself). Each step's streams
#: (and so its bytes and its memory bound) come from the optimizer itself:
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
    # Issue 15's optimizers. torch's defaults are theirs (lr 2e-3, 1e-3, 2e-3, 1.0, 1e-2).
    "nadam": (lambda gc: fastopt.NAdam(gc=gc), lambda gc: reference.NAdam(gc=gc),
              ("NAdam", {})),
    "radam": (lambda gc: fastopt.RAdam(gc=gc), lambda gc: reference.RAdam(gc=gc),
              ("RAdam", {})),
    "adamax": (lambda gc: fastopt.Adamax(gc=gc), lambda gc: reference.Adamax(gc=gc),
               ("Adamax", {})),
    "adadelta": (lambda gc: fastopt.Adadelta(gc=gc), lambda gc: reference.Adadelta(gc=gc),
                 ("Adadelta", {})),
    "rprop": (lambda gc: fastopt.Rprop(gc=gc), lambda gc: reference.Rprop(gc=gc),
              ("Rprop", {})),
    "lion": (lambda gc: fastopt.Lion(gc=gc), lambda gc: reference.Lion(gc=gc), None),
    "lookahead_adam": (lambda gc: fastopt.Lookahead(fastopt.Adam(gc=gc), k=5, alpha=0.5),
                       lambda gc: reference.Lookahead(reference.Adam(gc=gc), k=5, alpha=0.5),
                       None),
    "ranger": (lambda gc: fastopt.Ranger(gc=gc), lambda gc: reference.Ranger(gc=gc), None),
}  # fmt: skip

ISSUE_15 = ("nadam", "radam", "adamax", "adadelta", "rprop", "lion", "lookahead_adam", "ranger")
"""The optimizers issue 15 added (their targets: ``bench.report.targets``)."""

#: torch's fastest CPU implementation per optimizer (issue 3): fused where torch has it
#: (torch 2.13 has no fused NAdam, RAdam, Adamax, Adadelta or Rprop on the CPU).
TORCH_MODE = {"SGD": "fused", "Adam": "fused", "AdamW": "fused", "RMSprop": "foreach",
              "Adagrad": "foreach", "NAdam": "foreach", "RAdam": "foreach",
              "Adamax": "foreach", "Adadelta": "foreach", "Rprop": "foreach"}  # fmt: skip

NO_TORCH = "n.a."
"""A row's torch mode where torch has no such optimizer (Lion, Lookahead, Ranger)."""


def torch_mode(name: str) -> str | None:
    """torch's implementation ``name`` is timed against ("fused", "foreach"), or None where
    torch has no such optimizer."""
    spec = OPTIMIZERS[name][2]
    return None if spec is None else TORCH_MODE[spec[0]]


GC_MODES = [None, "grad", "update"]

RESNET18 = "resnet18"
"""The ResNet-18 case (``resnet18_layout``)."""

RESNET18_LABEL = "ResNet-18"
"""How reports name it (``label``)."""

Case = int | Literal["resnet18"]

#: Parameter counts of the optimizer benchmarks (issue 3), and of ``--quick`` runs.
SIZES = [1_000, 100_000, 10_000_000]
QUICK_SIZES = [1_000, 100_000, 1_000_000]

#: Every case of the report and of ``pytest bench/``: the sizes, then ResNet-18.
CASES: list[Case] = [*SIZES, RESNET18]

RESNET18_TENSORS = 62
RESNET18_SIZE = 11_689_512
"""torchvision's ``sum(p.numel() for p in resnet18().parameters())``."""


def resnet18_layout() -> fastopt.Layout:
    """torchvision's ResNet-18 (1000 classes) as a Layout: its 62 parameter tensors, in
    ``model.named_parameters()`` order and names, 11,689,512 entries.

    conv1 (64, 3, 7, 7) and bn1; four stages of two BasicBlocks (conv 3x3, bn, conv 3x3, bn),
    64, 128, 256 and 512 channels, the first block of stages 2-4 halving the resolution with a
    1x1 downsample conv + bn beside it; fc (1000, 512) and its bias. Every conv and fc weight
    has fan-in rows that GC centralizes; the batch-norm weights and biases and fc's bias are
    1-D and never centralized.
    """
    shapes = [("conv1.weight", (64, 3, 7, 7)), ("bn1.weight", (64,)), ("bn1.bias", (64,))]
    c_in = 64
    for stage, c_out in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            name = f"layer{stage}.{block}"
            first_in = c_in if block == 0 else c_out
            for conv, fan_in in (("1", first_in), ("2", c_out)):
                shapes += [(f"{name}.conv{conv}.weight", (c_out, fan_in, 3, 3)),
                           (f"{name}.bn{conv}.weight", (c_out,)),
                           (f"{name}.bn{conv}.bias", (c_out,))]  # fmt: skip
            if block == 0 and c_in != c_out:
                shapes += [(f"{name}.downsample.0.weight", (c_out, c_in, 1, 1)),
                           (f"{name}.downsample.1.weight", (c_out,)),
                           (f"{name}.downsample.1.bias", (c_out,))]  # fmt: skip
        c_in = c_out
    shapes += [("fc.weight", (1000, 512)), ("fc.bias", (1000,))]
    return fastopt.Layout(shapes)


def layout_for(case: Case) -> fastopt.Layout:
    """The layout of a case: ``RESNET18``'s, or for a size ``n`` one dense weight with rows
    of 1000 (fan-in 1000) holding ``n`` parameters."""
    if case == RESNET18:
        return resnet18_layout()
    return fastopt.Layout([("W", (max(case // 1000, 1), min(case, 1000)))])


def label(case: Case) -> str:
    """How reports name a case: ``"N=1e+07"``, ``"ResNet-18"``."""
    return RESNET18_LABEL if case == RESNET18 else f"N={case:.0e}"


def arrays(case: Case, dtype=np.float32, seed: int = 0):
    """Parameters and gradient of a ``layout_for(case)``."""
    rng = np.random.default_rng(seed)
    size = layout_for(case).size
    return rng.standard_normal(size).astype(dtype), rng.standard_normal(size).astype(dtype)


def steps_per_call(name: str) -> int:
    """Optimizer steps in one call of ``name``'s cases: Lookahead's period ``k`` (one call,
    one synchronization with the slow weights: a median over single steps would miss it),
    1 for every other optimizer. Per-step times are a call's over this."""
    return period(OPTIMIZERS[name][0](None))


def fastopt_step(name: str, gc, case: Case):
    """A zero-argument callable taking ``steps_per_call(name)`` fused steps on fresh arrays."""
    layout = layout_for(case)
    params, grads = arrays(case)
    opt = OPTIMIZERS[name][0](gc)
    state = opt.init(params, layout)
    k = steps_per_call(name)
    if k == 1:
        return lambda: opt.step(params, grads, state)

    def steps():
        for _ in range(k):
            opt.step(params, grads, state)

    return steps


def bound_step(name: str, case: Case):
    """A zero-argument callable moving the streams of ``steps_per_call(name)`` steps of
    ``name`` (no GC) over the same chunks and threads: their memory bound
    (``bench.stream_bound``)."""
    return stream_call(OPTIMIZERS[name][0](None), layout_for(case))


def reference_step(name: str, gc, case: Case):
    """A zero-argument callable taking ``steps_per_call(name)`` ``fastopt.reference`` steps
    on fresh arrays."""
    layout = layout_for(case)
    params, grads = arrays(case)
    named_p = {k: v.copy() for k, v in layout.views(params).items()}
    named_g = {k: v.copy() for k, v in layout.views(grads).items()}
    opt = OPTIMIZERS[name][1](gc)
    state = opt.init(named_p)
    k = steps_per_call(name)

    def steps():
        for _ in range(k):
            opt.step(named_p, named_g, state)

    return steps


def torch_step(name: str, case: Case, gc: bool = False):
    """A zero-argument callable taking one torch step, or None if torch is not installed or
    has no such optimizer (``OPTIMIZERS[name][2]`` is None: Lion, Lookahead, Ranger).

    One ``torch.nn.Parameter`` per tensor of ``layout_for(case)``, each with its shape and its
    own memory, as a model's; torch's fastest CPU implementation (``TORCH_MODE``). With
    ``gc``, each step first centralizes every gradient of more than one dimension in place,
    as the official GC code does before its optimizer's update (``grad -= grad.mean(dim=(1,
    ..., dim - 1), keepdim=True)``, the ``gc="grad"`` semantics), tensor by tensor.
    """
    if OPTIMIZERS[name][2] is None:
        return None
    try:
        import torch
    except ImportError:
        return None
    cls_name, kwargs = OPTIMIZERS[name][2]
    layout = layout_for(case)
    params, grads = arrays(case)
    tensors = []
    grad_views = layout.views(grads)
    for key, view in layout.views(params).items():
        p = torch.nn.Parameter(torch.from_numpy(view.copy()))
        p.grad = torch.from_numpy(grad_views[key].copy())
        tensors.append(p)
    mode = TORCH_MODE[cls_name]
    opt = getattr(torch.optim, cls_name)(tensors, **kwargs, **{mode: True})
    centralized = [p.grad for p in tensors if p.grad.dim() > 1] if gc else []

    def step():
        with torch.no_grad():
            for g in centralized:
                g -= g.mean(dim=tuple(range(1, g.dim())), keepdim=True)
            opt.step()

    return step


# --- correctness --------------------------------------------------------------------------
CHECK_LAYOUT = fastopt.Layout([("conv", (8, 3, 3, 3)), ("bn", (8,)), ("fc", (10, 8)),
                               ("bias", (10,))])  # fmt: skip
"""The small case ``check_step`` runs: a conv and an fc weight (GC rows of 27 and 8 entries)
and two 1-D tensors (never centralized), 314 entries."""

CHECK_TOLERANCE = dict(rtol=2e-4, atol=2e-5)
"""float32, both sides rounding in their own order (``tests/test_optim.py``'s tolerance)."""


def check_step(name: str, gc, steps: int | None = None) -> None:
    """Raise ``AssertionError`` unless ``name``'s fused step, built by the same factory as the
    timed one, matches its ``fastopt.reference`` step on ``CHECK_LAYOUT`` (float32, the
    timed dtype): parameters after every step and every state buffer at the end.

    ``steps`` defaults to ``2 * steps_per_call(name) + 1``, at least 13: Lookahead
    synchronizes twice, RAdam's rectified update starts (step 6 with ``beta2 = 0.999``),
    Rprop's step sizes grow and shrink. A new gradient each step (seeded)."""
    steps = steps or max(13, 2 * steps_per_call(name) + 1)
    rng = np.random.default_rng(7)
    params = rng.standard_normal(CHECK_LAYOUT.size).astype(np.float32)
    start, ref_flat = params.copy(), params.copy()
    ref_params = CHECK_LAYOUT.views(ref_flat)  # the reference writes through these views
    opt, ref_opt = OPTIMIZERS[name][0](gc), OPTIMIZERS[name][1](gc)
    state, ref_state = opt.init(params, CHECK_LAYOUT), ref_opt.init(ref_params)
    where = f"{name} gc={gc}"
    for i in range(steps):
        g = (rng.uniform(0.1, 2.0) * rng.standard_normal(CHECK_LAYOUT.size)).astype(np.float32)
        opt.step(params, g, state)
        ref_opt.step(ref_params, CHECK_LAYOUT.views(g), ref_state)
        np.testing.assert_allclose(params, ref_flat, **CHECK_TOLERANCE,
                                   err_msg=f"{where}: parameters after step {i + 1}")  # fmt: skip
    assert not np.array_equal(params, start), f"{where}: the parameters did not move"
    for key in state.buffer_names:
        expected = CHECK_LAYOUT.pack(ref_state[key], dtype=np.float32)
        np.testing.assert_allclose(state[key], expected, **CHECK_TOLERANCE,
                                   err_msg=f"{where}: state buffer {key!r}")  # fmt: skip
